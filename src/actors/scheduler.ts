/**
 * The `scheduler` actor: the thin owner of the ready queue (the pure engine in
 * src/machines/scheduler.ts: priority, SLA deadline, age, per-role capacity), one of the three
 * children of the `workflow` supervisor.
 *
 * Like the `dag` actor it is driven by the `lifecycles` coordinator alone, synchronously: the
 * coordinator sends `scheduler.take` and reads `taken` from the snapshot in the same step, then
 * records the dispatches in KV. Nothing here is persisted: after a restart the coordinator
 * rebuilds the queue from the issues' records (queued ones enqueued, running ones marked).
 */
import { assign, createActor, setup, type ActorRefFrom } from 'xstate';
import { shutdownTransition, stoppedState } from '../machines/shutdown.ts';
import { TaskQueue, type QueuedTask, type SchedulerPolicy } from '../machines/scheduler.ts';
import type { Admission } from '../machines/budget.ts';
import type { OrchestraConfig } from '../config/schema.ts';
import type { QueuePort } from '../workflow/ports.ts';
import { sendNow } from './send-now.ts';

export type SchedulerEvent =
  | { type: 'scheduler.enqueue'; task: QueuedTask }
  | { type: 'scheduler.remove'; id: string }
  | { type: 'scheduler.finished'; id: string }
  | { type: 'scheduler.running'; task: QueuedTask }
  /** Takes every task that may start at `now`; they are in `taken` until the next take. */
  | { type: 'scheduler.take'; now: number; admitted?: Omit<Admission, 'share'> }
  | { type: 'supervisor.shutdown' };

export interface SchedulerContext {
  queue: TaskQueue;
  taken: QueuedTask[];
  changes: number;
}

export const schedulerLogic = setup({
  types: { context: {} as SchedulerContext, events: {} as SchedulerEvent, input: {} as SchedulerPolicy },
  actions: { announce: () => {} },
}).createMachine({
  id: 'scheduler',
  context: ({ input }) => ({ queue: new TaskQueue(input), taken: [], changes: 0 }),
  entry: 'announce',
  initial: 'running',
  on: shutdownTransition,
  states: {
    running: {
      on: {
        'scheduler.enqueue': { actions: assign(({ context, event }) => (context.queue.enqueue(event.task), { changes: context.changes + 1 })) },
        'scheduler.remove': { actions: assign(({ context, event }) => (context.queue.remove(event.id), { changes: context.changes + 1 })) },
        'scheduler.finished': { actions: assign(({ context, event }) => (context.queue.finished(event.id), { changes: context.changes + 1 })) },
        'scheduler.running': { actions: assign(({ context, event }) => (context.queue.markRunning(event.task), { changes: context.changes + 1 })) },
        'scheduler.take': {
          actions: assign(({ context, event }) => ({ taken: context.queue.take(event.now, event.admitted), changes: context.changes + 1 })),
        },
      },
    },
    ...stoppedState,
  },
});

export type SchedulerActor = ActorRefFrom<typeof schedulerLogic>;

/** The engine's view of a `scheduler` actor (src/workflow/ports.ts). */
export function queuePort(actor: SchedulerActor): QueuePort {
  return {
    get queue() {
      return actor.getSnapshot().context.queue;
    },
    enqueue: (task) => sendNow(actor, { type: 'scheduler.enqueue', task }),
    remove: (id) => sendNow(actor, { type: 'scheduler.remove', id }),
    finished: (id) => sendNow(actor, { type: 'scheduler.finished', id }),
    markRunning: (task) => sendNow(actor, { type: 'scheduler.running', task }),
    take: (now, admitted) => {
      sendNow(actor, { type: 'scheduler.take', now, ...(admitted ? { admitted } : {}) });
      return actor.getSnapshot().context.taken;
    },
  };
}

/** A `scheduler` actor of its own, outside the tree (tests). */
export function standaloneQueue(policy: SchedulerPolicy): QueuePort {
  return queuePort(createActor(schedulerLogic, { input: policy }).start());
}

/**
 * Each role's capacity and the aging rate, from the config. The capacity is the pool's `max` and
 * its `tasksAhead`: with only `max` dispatched, a finished agent idles for the whole round trip of
 * its result through the orchestra before its next task exists on the bus.
 */
export function schedulerPolicyOf(config: OrchestraConfig): SchedulerPolicy {
  return {
    capacity: Object.fromEntries(Object.entries(config.agents).map(([role, agent]) => [role, agent.max + agent.tasksAhead])),
    agingMs: config.workflow.priority.agingMs,
  };
}
