/**
 * What travels on `miyabi.tasks.<role>` and `miyabi.events.task.<role>.<agentId>`: a task without its
 * worktree (the runner makes or reuses the issue's worktree), and the result of one run.
 */
import { z } from 'zod';
import { agentTaskSchema, costSchema } from '../agents/task.ts';
import { kvKey } from '../infra/bus/kv-key.ts';
import { DEFAULT_BUS_TOPOLOGY } from '../infra/bus/topology.ts';

export function taskSubject(role: string): string {
  return `miyabi.tasks.${role}`;
}

/** `miyabi.events.task.<role>.<agentId>`: a result names the agent that ran it, which only that agent's runner may publish. */
export function resultSubject(role: string, agentId: string): string {
  return `miyabi.events.task.${role}.${agentId}`;
}

/** A runner's place in its role's pool: the agent slot `n` (agent `<role>-<n>`, 1..max) or the role's spare. */
export type RunnerSlot = number | 'spare';

/**
 * Agent, spare and runner ids are unique across a cluster: each subject about one agent
 * (heartbeats, errors, results, spare claims) and each runner's NATS user is named by its id, and
 * the nodes of a cluster share one bus. On a cluster (`node`, the node's `cluster.node`) every id
 * starts with the node's name; a single node's ids (`node` undefined) carry none.
 */
function onNode(node: string | undefined, id: string): string {
  return node === undefined ? id : `${node}-${id}`;
}

/** Agent `n` of `role`: `<role>-<n>` (`codegen-1`) on a single node, `<node>-<role>-<n>` (`node1-codegen-1`) on a cluster. */
export function agentIdOf(role: string, index: number, node: string | undefined): string {
  return onNode(node, `${role}-${index}`);
}

/** The `count`th spare runner of `role`: `spare-<role>-<count>`, `<node>-spare-<role>-<count>` on a cluster. */
export function spareIdOf(role: string, count: number, node: string | undefined): string {
  return onNode(node, `spare-${role}-${count}`);
}

/**
 * `runner-<role>-<slot>` (`runner-<node>-<role>-<slot>` on a cluster): the NATS identity of the
 * runner in one slot of the role's pool (src/orchestra/nats-auth.ts): every runner has its own, so
 * the server tells them apart, the runners of every node included.
 */
export function runnerIdentity(role: string, slot: RunnerSlot, node: string | undefined): string {
  return `runner-${onNode(node, `${role}-${slot}`)}`;
}

/** The slots of a role with `max` agents: 1..max and the spare. */
export function runnerSlots(max: number): RunnerSlot[] {
  return [...Array.from({ length: max }, (_, index) => index + 1), 'spare'];
}

/** The agent slot `agentId` is of `role` on `node` (`agentIdOf(role, n, node)`), or undefined when it is none of theirs. */
export function agentSlot(role: string, agentId: string, node: string | undefined): number | undefined {
  const prefix = onNode(node, `${role}-`);
  if (!agentId.startsWith(prefix)) return undefined;
  const digits = agentId.slice(prefix.length);
  return /^[1-9][0-9]*$/.test(digits) ? Number(digits) : undefined;
}

/** `agents-<role>`: the durable consumer every runner of the role pulls its tasks from. */
export function taskDurable(role: string): string {
  return `agents-${role}`;
}

/**
 * What every ack subject of a task of `role` starts with (`$JS.ACK.<stream>.<durable>.`): the
 * only acks its runners may send, and the only ack subject the orchestra will use for them.
 */
export function taskAckPrefix(role: string): string {
  return `$JS.ACK.${DEFAULT_BUS_TOPOLOGY.streams.tasks}.${taskDurable(role)}.`;
}

/**
 * The role's task consumer as the runners consume it. The orchestrator creates it with these
 * very options before any runner starts (a runner may only look it up and pull, never create or
 * change it: src/orchestra/nats-auth.ts).
 */
export function taskConsumer(role: string, bus: { maxDeliver: number; ackWaitMs: number }) {
  return { stream: DEFAULT_BUS_TOPOLOGY.streams.tasks, durable: taskDurable(role), filterSubject: taskSubject(role), maxDeliver: bus.maxDeliver, ackWaitMs: bus.ackWaitMs, batch: 1 };
}

export const TASK_DISPATCHED = 'task.dispatched';
export const LOG_TAIL_LINES = 20;

/**
 * Cancelling a task: the workflow puts `cancel.<taskId>` in the KV bucket (a runner checks it
 * before it starts a task, so a task still on the bus never runs) and publishes on this subject
 * (a runner running it stops its agent).
 */
export const CANCEL_SUBJECT = 'miyabi.control.cancel';
export function cancelKey(taskId: string): string {
  return `cancel.${kvKey(taskId)}`;
}
export const TASK_RESULT = 'task.result';

export const taskMessageSchema = agentTaskSchema.omit({ worktree: true });
export type TaskMessage = z.input<typeof taskMessageSchema>;

/** What an agent's task can end with (the result's `status`). */
export const TASK_RESULT_STATUSES = ['success', 'retry', 'failure', 'changes_requested', 'needs_input'] as const;

export const taskResultSchema = z.object({
  taskId: z.string(),
  issue: z.number().int(),
  role: z.string(),
  stage: z.string(),
  attempt: z.number().int(),
  agentId: z.string(),
  status: z.enum(TASK_RESULT_STATUSES),
  reason: z.string(),
  /** Set when the orchestra, not the agent, decided the outcome (`budget_exceeded`): a failure with a code is not retried. */
  code: z.string().optional(),
  summary: z.string().optional(),
  /** With `needs_input`: the agent's question for a person. */
  question: z.string().optional(),
  outputs: z.record(z.string(), z.unknown()).optional(),
  cost: costSchema.optional(),
  durationMs: z.number(),
  worktree: z.string(),
  branch: z.string(),
  /** The last lines the agent printed (for the failure comment's excerpt). */
  logTail: z.array(z.string()).max(LOG_TAIL_LINES).optional(),
});

export type TaskResult = z.infer<typeof taskResultSchema>;

/**
 * A runner took over a task that was delivered before and never answered (the runner that had it
 * died or stopped): said at once, on the role's result subject, so the orchestra's log shows the
 * retry that no result will ever tell it of.
 */
export const TASK_REDELIVERED = 'task.redelivered';

export const taskRedeliveredSchema = taskResultSchema.pick({ taskId: true, issue: true, role: true, stage: true, attempt: true, agentId: true }).extend({
  /** JetStream's count of this message's deliveries: 2 or more. */
  deliveryCount: z.number().int().min(2),
  /**
   * What the run before it spent, when one began and left no answer (its runner killed or
   * stopped mid-task): its wall-clock from its start to this redelivery (an upper bound: when
   * its agent was stopped is not known) and the cost it reported so far ($MIYABI_COST_FILE).
   * The budget ledger counts it once, by task and that run's attempt.
   */
  spent: z.object({ attempt: z.number().int(), durationMs: z.number().min(0), cost: costSchema.optional() }).optional(),
});

export type TaskRedelivered = z.infer<typeof taskRedeliveredSchema>;

/**
 * A run the workflow cancelled (its issue closed, the daily budget used up with
 * `budget.atLimit: stop`) answers nothing, but it spent: its wall-clock and the cost it reported
 * so far ($MIYABI_COST_FILE) are said at once, on the role's result subject, for the budget
 * ledger (docs/BUDGETS.md), which counts them once by task and attempt like a result's.
 */
export const TASK_CANCELLED = 'task.cancelled';

export const taskCancelledSchema = taskResultSchema.pick({ taskId: true, issue: true, role: true, stage: true, attempt: true, agentId: true, cost: true, durationMs: true });

export type TaskCancelled = z.infer<typeof taskCancelledSchema>;

/** What the workflow reads on `miyabi.events.task.<role>`: a result, a redelivery taken over, or a cancelled run's spend. */
export const taskEventSchema = z.union([taskResultSchema, taskRedeliveredSchema, taskCancelledSchema]);

export type TaskEvent = z.infer<typeof taskEventSchema>;

export function isRedelivery(payload: TaskEvent): payload is TaskRedelivered {
  return 'deliveryCount' in payload;
}

export function isResult(payload: TaskEvent): payload is TaskResult {
  return 'status' in payload;
}
