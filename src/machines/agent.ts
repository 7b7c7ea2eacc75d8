/**
 * An agent slot in a role's pool: idle until given a task, working until the injected `work`
 * finishes. The pane runner, the agent protocol and heartbeats replace the placeholder work with
 * the agents-in-panes work; the states and the contract with the pool stay.
 */
import { assign, fromPromise, setup } from 'xstate';
import { shutdownTransition, stoppedState } from './shutdown.ts';

export interface AgentInput {
  agentId: string;
  role: string;
  displayName: string;
}

export type AgentEvent = { type: 'agent.assign'; taskId: string } | { type: 'supervisor.shutdown' };

export const agentMachine = setup({
  types: {
    input: {} as AgentInput,
    context: {} as AgentInput & { taskId: string | undefined; completed: number },
    events: {} as AgentEvent,
  },
  actors: {
    work: fromPromise<void, { taskId: string }>(async () => {}),
  },
}).createMachine({
  id: 'agent',
  context: ({ input }) => ({ ...input, taskId: undefined, completed: 0 }),
  initial: 'idle',
  on: shutdownTransition,
  states: {
    idle: {
      on: { 'agent.assign': { target: 'working', actions: assign({ taskId: ({ event }) => event.taskId }) } },
    },
    working: {
      invoke: {
        src: 'work',
        input: ({ context }) => ({ taskId: context.taskId! }),
        onDone: { target: 'idle', actions: assign({ taskId: undefined, completed: ({ context }) => context.completed + 1 }) },
      },
    },
    ...stoppedState,
  },
});
