/**
 * Scheduler: keeps the queue of ready tasks in priority order (P0 first, then oldest) and hands
 * the head to the injected `dispatch` action whenever an agent slot is free. Priority and
 * capacity only; SLA, aging and per-role concurrency come with the workflow work.
 */
import { assign, setup } from 'xstate';
import { shutdownTransition, stoppedState } from './shutdown.ts';

export interface ReadyTask {
  id: string;
  role: string;
  /** 0 is most urgent (P0). */
  priority: number;
  readyAt: number;
}

export interface SchedulerInput {
  capacity: number;
}

export type SchedulerEvent =
  | { type: 'task.ready'; task: ReadyTask }
  | { type: 'task.finished'; id: string }
  | { type: 'supervisor.shutdown' };

export function byPriorityThenAge(a: ReadyTask, b: ReadyTask): number {
  return a.priority - b.priority || a.readyAt - b.readyAt;
}

export const schedulerMachine = setup({
  types: {
    input: {} as SchedulerInput,
    context: {} as SchedulerInput & { queue: ReadyTask[]; running: string[] },
    events: {} as SchedulerEvent,
  },
  actions: {
    dispatch: (_, _task: ReadyTask) => {},
  },
  guards: {
    canDispatch: ({ context }) => context.queue.length > 0 && context.running.length < context.capacity,
  },
}).createMachine({
  id: 'scheduler',
  context: ({ input }) => ({ ...input, queue: [], running: [] }),
  initial: 'idle',
  on: shutdownTransition,
  states: {
    idle: {
      always: { guard: 'canDispatch', target: 'dispatching' },
      on: {
        'task.ready': {
          actions: assign({ queue: ({ context, event }) => [...context.queue, event.task].sort(byPriorityThenAge) }),
          target: 'idle',
          reenter: true,
        },
        'task.finished': {
          actions: assign({ running: ({ context, event }) => context.running.filter((id) => id !== event.id) }),
          target: 'idle',
          reenter: true,
        },
      },
    },
    dispatching: {
      entry: [
        { type: 'dispatch', params: ({ context }) => context.queue[0]! },
        assign({
          running: ({ context }) => [...context.running, context.queue[0]!.id],
          queue: ({ context }) => context.queue.slice(1),
        }),
      ],
      always: 'idle',
    },
    ...stoppedState,
  },
});
