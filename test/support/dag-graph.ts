/** A dependency graph from a table of edges (issue → what it depends on), for the DAG's unit tests. */
import { DependencyGraph } from '../../src/machines/dag.ts';

export function graphOf(edges: Record<number, number[]>): DependencyGraph {
  const graph = new DependencyGraph();
  for (const [id, dependsOn] of Object.entries(edges)) graph.setNode(Number(id), dependsOn);
  return graph;
}

/** A deterministic random number generator in [0, 1) (Park–Miller): the random graphs are the same at every run. */
export function seeded(seed: number): () => number {
  let state = seed;
  return () => (state = (state * 16_807) % 2_147_483_647) / 2_147_483_647;
}

/** The issues that reach themselves along their dependencies, by brute force: the members of the strongly connected components. */
export function cycleMembers(edges: ReadonlyMap<number, readonly number[]>): Set<number> {
  const reaches = (from: number, to: number) => {
    const seen = new Set<number>();
    const stack = [...edges.get(from)!];
    while (stack.length > 0) {
      const next = stack.pop()!;
      if (next === to) return true;
      if (seen.has(next)) continue;
      seen.add(next);
      stack.push(...edges.get(next)!);
    }
    return false;
  };
  return new Set([...edges.keys()].filter((id) => reaches(id, id)));
}
