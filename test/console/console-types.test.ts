/**
 * The console's browser code and the server agree. Its copy of the APIs' shapes
 * (src/console/api-types.ts, written out because the browser bundle imports nothing of the
 * server's) is checked at compile time against the server's own types (`npx tsc --noEmit` fails
 * when a field the page reads changes); and every state of every machine of the catalog, told
 * as an inspection record's value or as the tree's state text, lights exactly that state and its
 * ancestors in the machine's diagram graph.
 */
import { describe, expect, it } from 'vitest';
import type { StatusReply } from '../../src/actors/control-subjects.ts';
import type { InspectionRecord } from '../../src/actors/inspection.ts';
import type * as Page from '../../src/console/api-types.ts';
import { activeStateIds, stateTextIds } from '../../src/console/states.ts';
import type { LogHit, LogSearchResult } from '../../src/logs/log-index.ts';
import { machineDefinitions } from '../../src/machines/catalog.ts';
import { allStates } from '../../src/machines/definition.ts';
import { toGraph, type GraphNode, type MachineGraph } from '../../src/machines/diagram.ts';
import type { QueuedTask } from '../../src/machines/scheduler.ts';
import { describeActorState, type TreeNode } from '../../src/supervisor/index.ts';

/** Compiles only when the server's type `A` can be read as the page's `B`. */
type Fits<A extends B, B> = [A, B];
export type Contract = [
  Fits<InspectionRecord, Page.InspectionRecord>,
  Fits<TreeNode, Page.TreeNode>,
  Fits<StatusReply, Page.StatusReply>,
  Fits<MachineGraph, Page.MachineGraph>,
  Fits<GraphNode, Page.GraphNode>,
  Fits<QueuedTask, Page.QueuedTask>,
  Fits<LogHit, Page.LogHit>,
  Fits<LogSearchResult & { query: string }, Page.LogsReply>,
];

/** A state id (`agent-pane.alive.ready.busy`) as the value an actor in it has (`{ alive: { ready: 'busy' } }`). */
function valueOf(id: string): unknown {
  const [, ...path] = id.split('.');
  return path.reduceRight<unknown>((inner, key) => (inner === undefined ? key : { [key]: inner }), undefined);
}

describe.each(machineDefinitions().map((machine) => [machine.id, machine] as const))('the %s diagram', (id, machine) => {
  const graphIds = new Set<string>();
  const collect = (node: GraphNode): void => {
    graphIds.add(node.id);
    node.children.forEach(collect);
  };
  toGraph(machine).children.forEach(collect);

  it('lights each state, and its ancestors only, from a value and from the tree state text', () => {
    const states = allStates(machine).filter((state) => state.id !== machine.root.id && state.type !== 'parallel');
    expect(states.length).toBeGreaterThan(2);
    for (const state of states) {
      const value = valueOf(state.id);
      const expected = state.id
        .split('.')
        .slice(1)
        .map((_key, index, keys) => `${id}.${keys.slice(0, index + 1).join('.')}`);
      expect(activeStateIds(id, value), state.id).toEqual(expected);
      expect(stateTextIds(id, describeActorState({ value })), state.id).toEqual(expected);
      for (const lit of expected) expect(graphIds.has(lit), lit).toBe(true);
    }
  });
});
