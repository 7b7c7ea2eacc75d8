/**
 * Heartbeats: a runner says every few seconds that it is alive, what it is doing and on which
 * task, over core NATS (`miyabi.heartbeat.<role>.<agentId>`): nothing to store, a missed one is
 * simply missed, and the orchestrator's watchdog counts the silence.
 *
 * Every subject a runner speaks on names its role as a token of its own, so the server lets a
 * runner identity (src/orchestra/nats-auth.ts) speak for its role's agents only: `codegen`'s
 * runner can neither heartbeat for `review-1` (keeping a dead agent "alive", or naming a process
 * group and an ack subject for the orchestra to act on), nor report its error, nor answer or
 * announce another role's spare.
 */
import { z } from 'zod';
import { costSchema } from '../agents/task.ts';

export const HEARTBEAT_SUBJECT_PREFIX = 'miyabi.heartbeat';

export function heartbeatSubject(role: string, agentId: string): string {
  return `${HEARTBEAT_SUBJECT_PREFIX}.${role}.${agentId}`;
}

/** Where a runner says why it cannot serve, just before it exits. */
export function runnerErrorSubject(role: string, agentId: string): string {
  return `miyabi.agent.${role}.${agentId}.error`;
}

/** A spare runner listens here to be claimed as an agent (request/reply). */
export function spareClaimSubject(role: string, spareId: string): string {
  return `miyabi.spare.${role}.${spareId}.claim`;
}

/** A spare runner says here that it is loaded, connected and waiting. */
export function spareReadySubject(role: string, spareId: string): string {
  return `miyabi.spare.${role}.${spareId}.ready`;
}

export const heartbeatSchema = z.object({
  agentId: z.string(),
  state: z.enum(['idle', 'busy']),
  taskId: z.string().optional(),
  issue: z.number().int().optional(),
  pid: z.number().int(),
  /**
   * The running agent's pid, which leads its process group: shown, not acted on. If the runner
   * dies, the orchestra stops the group the runner recorded on disk (src/runner/pid-file.ts), not
   * the one a message names.
   */
  agentPid: z.number().int().optional(),
  /** Where the in-flight task's acks go: the orchestra naks it there if the runner dies. */
  ackSubject: z.string().optional(),
  /** What the running agent says it has spent so far (`$MIYABI_COST_FILE`): shown, the runner enforces the task's cap. */
  cost: costSchema.optional(),
  at: z.string(),
});

export type HeartbeatMessage = z.infer<typeof heartbeatSchema>;

export function decodeHeartbeat(data: Uint8Array): HeartbeatMessage | undefined {
  try {
    const parsed = heartbeatSchema.safeParse(JSON.parse(new TextDecoder().decode(data)));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** One field of a small JSON control message; undefined when the message is not JSON. */
export function jsonField(message: { json(): unknown }, key: string): unknown {
  try {
    const value = message.json();
    return value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
  } catch {
    return undefined;
  }
}
