/**
 * The `dag` actor: the thin owner of the backlog's dependency graph (the pure engine in
 * src/machines/dag.ts), one of the three children of the `workflow` supervisor.
 *
 * Only the `lifecycles` coordinator sends to it, and it reads the graph back in the same step: an
 * in-process XState actor processes `send` synchronously, so "#4 is done" and "which issues are
 * ready now" are one decision, and the coordinator writes that decision to KV before it acts on
 * it. The graph is not persisted here: on a restart of the workflow subtree (`one_for_all`) the
 * coordinator rebuilds it from the KV bucket with `dag.load` and `dag.node`.
 *
 * The graph is mutated in place and the context keeps the same object (copying a 10,000-issue
 * graph on every event would cost more than the work): `changes` counts the events applied, so a
 * subscriber still sees each one. A throw inside the engine (a bad issue number, a bug) is the
 * actor's crash, observed by its supervisor.
 */
import { assign, createActor, setup, type ActorRefFrom } from 'xstate';
import { DependencyGraph, type DagSnapshot, type NodeState } from '../machines/dag.ts';
import { shutdownTransition, stoppedState } from '../machines/shutdown.ts';
import type { GraphPort } from '../workflow/ports.ts';
import { sendNow } from './send-now.ts';

export type DagEvent =
  | { type: 'dag.load'; snapshot: DagSnapshot | undefined }
  | { type: 'dag.node'; id: number; dependsOn: readonly number[]; external?: boolean }
  | { type: 'dag.state'; id: number; state: NodeState }
  | { type: 'supervisor.shutdown' };

export interface DagContext {
  graph: DependencyGraph;
  /** Events applied so far: the graph object stays the same, this does not. */
  changes: number;
}

export const dagLogic = setup({
  types: { context: {} as DagContext, events: {} as DagEvent },
  actions: { announce: () => {} },
}).createMachine({
  id: 'dag',
  context: () => ({ graph: new DependencyGraph(), changes: 0 }),
  // `announce` tells the coordinator where this incarnation is (provided by the workflow's child spec).
  entry: 'announce',
  initial: 'running',
  on: shutdownTransition,
  states: {
    running: {
      on: {
        'dag.load': {
          actions: assign(({ context, event }) => ({
            graph: event.snapshot ? DependencyGraph.fromJSON(event.snapshot) : new DependencyGraph(),
            changes: context.changes + 1,
          })),
        },
        'dag.node': {
          actions: assign(({ context, event }) => {
            context.graph.setNode(event.id, event.dependsOn, event.external === undefined ? undefined : { external: event.external });
            return { changes: context.changes + 1 };
          }),
        },
        'dag.state': {
          actions: assign(({ context, event }) => {
            context.graph.setState(event.id, event.state);
            return { changes: context.changes + 1 };
          }),
        },
      },
    },
    ...stoppedState,
  },
});

export type DagActor = ActorRefFrom<typeof dagLogic>;

/** The engine's view of a `dag` actor (src/workflow/ports.ts). */
export function graphPort(actor: DagActor): GraphPort {
  return {
    get graph() {
      return actor.getSnapshot().context.graph;
    },
    get changes() {
      return actor.getSnapshot().context.changes;
    },
    load: (snapshot) => sendNow(actor, { type: 'dag.load', snapshot }),
    setNode: (id, dependsOn) => sendNow(actor, { type: 'dag.node', id, dependsOn }),
    setState: (id, state) => sendNow(actor, { type: 'dag.state', id, state }),
  };
}

/** A `dag` actor of its own, outside the tree (tests, the CLI). */
export function standaloneGraph(): GraphPort {
  return graphPort(createActor(dagLogic).start());
}
