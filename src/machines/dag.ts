/**
 * The dependency graph of the backlog: which issues may run now, which must wait, and which can
 * never run and why. Pure data, no I/O: the orchestra feeds it issues and their states, and
 * persists `toJSON()`.
 *
 * A node is an issue number. `setNode(12, [3, 5])` says #12 depends on #3 and #5; an arrow in
 * `formatCycle` and the rendered graphs reads "depends on". Nodes are ours (the orchestra runs
 * them) or external (another team's issue, or one outside the orchestra's scope: we only wait for
 * it to be closed on the tracker). A dependency never set itself is an external placeholder.
 *
 *   ready      ours, pending, every dependency done, not on a cycle
 *   waiting    pending, some dependency still pending (an external one may still be closed)
 *   blocked    pending, and can never run: it is on a cycle, or depends (transitively, through
 *              our own pending issues) on one that failed, was cancelled or does not exist
 *
 * Costs: `setState` is O(dependents) — it keeps a count of unmet dependencies per node — so a
 * completion updates the ready set without a scan. A node keeps only its dependencies; one pass
 * over the edges (Tarjan's SCC, iterative: a chain of 10,000 must not overflow the stack, then
 * Kahn's order) yields the cycles, the order and every node's dependents, cached until the edges
 * change. Blocked reasons are cached until a state change can alter them. Everything else is
 * O(nodes + edges) per call.
 *
 * A strongly connected component is reported as one cycle: the shortest one through its smallest
 * member. Its other members (when the component is more than a single loop) cannot run either;
 * their reason names the dependency through which they reach the cycle.
 *
 * The code is under dag/: graph.ts (the nodes, their states and the ready set, the snapshot),
 * structure.ts (cycles, order and dependents over typed rows: the tuned part, see bench/dag.ts),
 * blocked.ts (the deadlock report) and render.ts (Mermaid, DOT, JSON). This file is the surface.
 */
export { formatCycle } from './dag/blocked.ts';
export { DependencyGraph, type DagSnapshot } from './dag/graph.ts';
export { renderGraph } from './dag/render.ts';
export type { NodeState } from './dag/structure.ts';
