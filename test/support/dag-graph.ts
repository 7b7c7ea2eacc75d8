/** A dependency graph from a table of edges (issue → what it depends on), for the DAG's unit tests. */
import { DependencyGraph } from '../../src/machines/dag.ts';

export function graphOf(edges: Record<number, number[]>): DependencyGraph {
  const graph = new DependencyGraph();
  for (const [id, dependsOn] of Object.entries(edges)) graph.setNode(Number(id), dependsOn);
  return graph;
}
