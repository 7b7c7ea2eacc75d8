/**
 * The topological order's tie-break, exactly: "dependencies first, ties by id" is one order
 * (at each step the smallest id whose dependencies are all placed), not any valid order. The
 * random graphs of dag.test.ts check only validity, which a heap that hands out the ready ids
 * in the wrong order still passes (docs/MUTATION.md, structure.ts).
 */
import { describe, expect, it } from 'vitest';
import { DependencyGraph } from '../../src/machines/dag.ts';
import { cycleMembers, seeded } from '../support/dag-graph.ts';

function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const copy = [...items];
  for (let at = copy.length - 1; at > 0; at -= 1) {
    const other = Math.floor(random() * (at + 1));
    [copy[at], copy[other]] = [copy[other]!, copy[at]!];
  }
  return copy;
}

/** Kahn's algorithm the slow way: the smallest id among the nodes whose dependencies are all placed or on a cycle. */
function smallestFirst(edges: ReadonlyMap<number, readonly number[]>, onCycle: ReadonlySet<number>): number[] {
  const placed = new Set<number>();
  const order: number[] = [];
  for (;;) {
    const ready = [...edges.keys()].filter(
      (id) => !placed.has(id) && !onCycle.has(id) && edges.get(id)!.every((dependency) => placed.has(dependency) || onCycle.has(dependency)),
    );
    if (ready.length === 0) return order;
    const next = Math.min(...ready);
    placed.add(next);
    order.push(next);
  }
}

describe('topological order: ties by id, exactly', () => {
  it('independent issues added in any order come out by id', () => {
    const random = seeded(7);
    const ids = shuffled(Array.from({ length: 40 }, (_, at) => at + 1), random);
    const graph = new DependencyGraph();
    for (const id of ids) graph.setNode(id, []);
    expect(graph.topologicalOrder()).toEqual(Array.from({ length: 40 }, (_, at) => at + 1));
  });

  it('on random graphs, the order is the smallest ready id first at every step', () => {
    for (let seed = 1; seed <= 40; seed += 1) {
      const random = seeded(seed);
      const size = 5 + Math.floor(random() * 30);
      // Mostly edges to smaller ids (few cycles, many nodes ready at once), some back edges.
      const edges = new Map<number, number[]>();
      for (let id = 1; id <= size; id += 1) {
        const count = Math.floor(random() * 3);
        const dependencies = Array.from({ length: count }, () =>
          random() < 0.9 ? 1 + Math.floor(random() * id) : 1 + Math.floor(random() * size),
        ).filter((dependency) => dependency !== id);
        edges.set(id, dependencies);
      }
      const graph = new DependencyGraph();
      // Added in a shuffled order: the graph's slots are not the ids' order.
      for (const id of shuffled([...edges.keys()], random)) graph.setNode(id, edges.get(id)!);
      expect(graph.topologicalOrder()).toEqual(smallestFirst(edges, cycleMembers(edges)));
    }
  });
});
