/**
 * Dependency DAG: which issues wait on which. Holds the graph and answers with the ready set
 * through the injected `readyChanged` action; validation, cycles and incremental updates at
 * scale come with the workflow work.
 */
import { assign, setup } from 'xstate';
import { shutdownTransition, stoppedState } from './shutdown.ts';

export type DagEvent =
  | { type: 'dag.set'; node: string; dependsOn: string[] }
  | { type: 'dag.completed'; node: string }
  | { type: 'supervisor.shutdown' };

export interface DagContext {
  dependsOn: Record<string, string[]>;
  completed: string[];
}

/** Nodes not completed whose dependencies are all completed. */
export function readyNodes({ dependsOn, completed }: DagContext): string[] {
  const done = new Set(completed);
  return Object.keys(dependsOn)
    .filter((node) => !done.has(node) && dependsOn[node]!.every((dependency) => done.has(dependency)))
    .sort();
}

export const dagMachine = setup({
  types: { context: {} as DagContext, events: {} as DagEvent },
  actions: {
    readyChanged: (_, _ready: string[]) => {},
  },
}).createMachine({
  id: 'dag',
  context: { dependsOn: {}, completed: [] },
  initial: 'active',
  on: shutdownTransition,
  states: {
    active: {
      on: {
        'dag.set': {
          actions: [
            assign({ dependsOn: ({ context, event }) => ({ ...context.dependsOn, [event.node]: event.dependsOn }) }),
            { type: 'readyChanged', params: ({ context }) => readyNodes(context) },
          ],
        },
        'dag.completed': {
          actions: [
            assign({ completed: ({ context, event }) => [...new Set([...context.completed, event.node])] }),
            { type: 'readyChanged', params: ({ context }) => readyNodes(context) },
          ],
        },
      },
    },
    ...stoppedState,
  },
});
