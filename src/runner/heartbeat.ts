/**
 * Heartbeats: a runner says every few seconds that it is alive, what it is doing and on which
 * task, over core NATS (`miyabi.heartbeat.<agentId>`): nothing to store, a missed one is simply
 * missed, and the orchestrator's watchdog counts the silence.
 */
import { z } from 'zod';

export const HEARTBEAT_SUBJECT_PREFIX = 'miyabi.heartbeat';

export function heartbeatSubject(agentId: string): string {
  return `${HEARTBEAT_SUBJECT_PREFIX}.${agentId}`;
}

/** Where a runner says why it cannot serve, just before it exits. */
export function runnerErrorSubject(agentId: string): string {
  return `miyabi.agent.${agentId}.error`;
}

/** A spare runner listens here to be claimed as an agent (request/reply). */
export function spareClaimSubject(spareId: string): string {
  return `miyabi.spare.${spareId}.claim`;
}

/** A spare runner says here that it is loaded, connected and waiting. */
export function spareReadySubject(spareId: string): string {
  return `miyabi.spare.${spareId}.ready`;
}

export const heartbeatSchema = z.object({
  agentId: z.string(),
  state: z.enum(['idle', 'busy']),
  taskId: z.string().optional(),
  issue: z.number().int().optional(),
  pid: z.number().int(),
  /** The running agent's pid, which leads its process group: stopped by the orchestra if the runner dies. */
  agentPid: z.number().int().optional(),
  /** Where the in-flight task's acks go: the orchestra naks it there if the runner dies. */
  ackSubject: z.string().optional(),
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
