/**
 * Why a pending issue can never run: on a cycle, tangled in one, or depending (transitively,
 * through our own pending issues) on one that failed, was cancelled or does not exist. The
 * deadlock report of the graph, computed from its nodes and structure and kept by the graph
 * until a state change can alter it; apart from the graph because it is a question of its own.
 */
import { byRecordId, dependentsOf, type NodeRecord, type NodeState, type Structure } from './structure.ts';

/** Why a node can never run: the root cause, and the dependency through which it reaches it. */
export interface Blockage {
  root: number;
  cause: { kind: 'cycle' | 'tangle'; cycle: number } | { kind: 'dependency'; dependency: number };
  /** The node's own dependency on the way to the root; undefined at the root. */
  via: number | undefined;
}

export const unrunnable: ReadonlySet<NodeState> = new Set(['failed', 'cancelled', 'missing']);

/**
 * Breadth-first from every root cause along the dependents of our pending nodes, one level at
 * a time in id order: each blocked node is reached first from its nearest cause, through its
 * smallest dependency at that distance, whatever order the edges were added in.
 */
export function findBlocked(nodes: ReadonlyMap<number, NodeRecord>, structure: Structure): Map<number, Blockage> {
  const { componentOf, onCycle } = structure;
  const blocked = new Map<number, Blockage>();
  const mayBlock = (node: NodeRecord) => node.state === 'pending' && !node.external && !blocked.has(node.id);
  const spread = (roots: NodeRecord[]) => {
    for (let level = roots.sort(byRecordId); level.length > 0; ) {
      const next: NodeRecord[] = [];
      for (const from of level) {
        const { root, cause } = blocked.get(from.id)!;
        for (const dependent of dependentsOf(structure, from)) {
          if (!mayBlock(dependent)) continue;
          blocked.set(dependent.id, { root, cause, via: from.id });
          next.push(dependent);
        }
      }
      level = next.sort(byRecordId);
    }
  };
  const roots: NodeRecord[] = [];
  for (const id of onCycle) {
    const node = nodes.get(id)!;
    if (!mayBlock(node)) continue;
    blocked.set(id, { root: id, cause: { kind: 'cycle', cycle: componentOf.get(id)! }, via: undefined });
    roots.push(node);
  }
  const unrunnableNodes: NodeRecord[] = [];
  for (const node of nodes.values()) if (unrunnable.has(node.state)) unrunnableNodes.push(node);
  for (const dependency of unrunnableNodes.sort(byRecordId)) {
    for (const node of dependentsOf(structure, dependency)) {
      if (!mayBlock(node)) continue;
      blocked.set(node.id, { root: node.id, cause: { kind: 'dependency', dependency: dependency.id }, via: undefined });
      roots.push(node);
    }
  }
  spread(roots);
  // Members of a component cut off from its cycle by a done or external member: still stuck.
  const cutOff: NodeRecord[] = [];
  for (const [id, cycle] of componentOf) {
    const node = nodes.get(id)!;
    if (!mayBlock(node)) continue;
    blocked.set(id, { root: id, cause: { kind: 'tangle', cycle }, via: undefined });
    cutOff.push(node);
  }
  spread(cutOff);
  return blocked;
}

/** The reason for a person: the nearest cause, and the root when it is further away. */
export function describeBlockage(
  { root, cause, via }: Blockage,
  nodes: ReadonlyMap<number, NodeRecord>,
  structure: Structure,
): string {
  const reason = causeText(cause, nodes, structure);
  if (via === undefined) return reason;
  // The root itself is named when it is not the dependency at hand: '#6 depends on #7, which failed'.
  const subject = via === root ? '' : cause.kind === 'dependency' ? `#${root} ` : `#${root} is `;
  return `depends on #${via}, which is blocked: ${subject}${reason}`;
}

function causeText(cause: Blockage['cause'], nodes: ReadonlyMap<number, NodeRecord>, structure: Structure): string {
  if (cause.kind === 'dependency') {
    const state = nodes.get(cause.dependency)!.state;
    const what = state === 'failed' ? 'failed' : state === 'cancelled' ? 'was cancelled' : 'does not exist';
    return `depends on #${cause.dependency}, which ${what}`;
  }
  const cycle = (structure.texts[cause.cycle] ??= formatCycle(structure.cycles[cause.cycle]!));
  return cause.kind === 'cycle' ? `on a dependency cycle: ${cycle}` : `tangled in the dependency cycle ${cycle}`;
}

/** '#3 → #5 → #3': the cycle, closed on its first member. */
export function formatCycle(cycle: readonly number[]): string {
  if (cycle.length === 0) return '';
  return [...cycle, cycle[0]].map((id) => `#${id}`).join(' → ');
}
