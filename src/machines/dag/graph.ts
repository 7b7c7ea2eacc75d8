/**
 * The dependency graph itself: its nodes and edges, their states, the ready set kept up to date
 * by `setState`, the queries, and its snapshot for the KV store. What follows from the edges
 * (cycles, order, dependents) is computed in structure.ts, the blocked reasons in blocked.ts;
 * the graph decides when each is stale. The contract is in ../dag.ts.
 */
import { ErrorCodes, MiyabiError } from '../../errors.ts';
import { describeBlockage, findBlocked, unrunnable, type Blockage } from './blocked.ts';
import { analyse, byId, dependentsOf, type NodeRecord, type NodeState, type Structure } from './structure.ts';

/** Plain data for a KV store: every node, placeholders included (their state is worth keeping). */
export interface DagSnapshot {
  version: 1;
  nodes: Array<{ id: number; dependsOn: number[]; state: NodeState; external: boolean; placeholder: boolean }>;
}

const nodeStates: ReadonlySet<string> = new Set<NodeState>(['pending', 'done', 'failed', 'cancelled', 'missing']);

export class DependencyGraph {
  readonly #nodes = new Map<number, NodeRecord>();
  #structure: Structure | undefined;
  #blocked: Map<number, Blockage> | undefined;

  /** Adds `id`, or replaces its dependencies (its state is kept). Unknown dependencies become external placeholders. */
  setNode(id: number, dependsOn: readonly number[], options?: { external?: boolean }): void {
    checkIssueNumber(id);
    const dependencies = sortedUnique(dependsOn);
    const existing = this.#nodes.get(id);
    const node = existing ?? this.#placeholder(id);
    if (existing) this.#detach(node, dependencies);
    node.external = options?.external ?? false;
    node.placeholder = false;
    node.unmet = 0;
    // Sized up front: an array grown by push keeps room for 17, three times what a node needs.
    node.dependsOn = new Array<NodeRecord>(dependencies.length);
    for (let at = 0; at < dependencies.length; at += 1) {
      const target = this.#nodes.get(dependencies[at]!) ?? this.#placeholder(dependencies[at]!);
      target.dependentCount += 1;
      node.dependsOn[at] = target;
      if (target.state !== 'done') node.unmet += 1;
    }
    this.#edgesChanged();
  }

  /** Drops `id` and its edges. While other nodes still depend on it, it stays as an external placeholder with its state. */
  removeNode(id: number): void {
    const node = this.#nodes.get(id);
    if (!node) return;
    this.#detach(node, []);
    node.dependsOn = [];
    node.unmet = 0;
    if (node.dependentCount > 0) {
      node.external = true;
      node.placeholder = true;
    } else {
      this.#nodes.delete(id);
    }
    this.#edgesChanged();
  }

  /** Changes a node's state; answers the nodes that became ready because of it, sorted. */
  setState(id: number, state: NodeState): number[] {
    const node = this.#nodes.get(id);
    if (!node) throw new MiyabiError(ErrorCodes.InvalidArgument, `issue #${id} is not in the dependency graph`);
    const previous = node.state;
    if (previous === state) return [];
    const wasReady = this.#isReady(node);
    // Reasons change when a failure comes or goes, when an issue is reopened or when a blocked
    // one is closed anyway; an ordinary completion keeps them, and setState stays O(dependents).
    const reasonsChange = unrunnable.has(previous) || unrunnable.has(state) || state === 'pending' || this.#blocked?.has(id);
    if (reasonsChange) this.#blocked = undefined;
    node.state = state;
    const becameReady: number[] = [];
    if (!wasReady && this.#isReady(node)) becameReady.push(id);
    if ((previous === 'done') !== (state === 'done')) {
      const change = state === 'done' ? -1 : 1;
      // The loop of dependentsOf without its array: this is the path every completion takes.
      const { records, dependentStart, dependentSlots } = this.#ensureStructure();
      for (let edge = dependentStart[node.slot]!; edge < dependentStart[node.slot + 1]!; edge += 1) {
        const dependent = records[dependentSlots[edge]!]!;
        dependent.unmet += change;
        if (change < 0 && dependent.unmet === 0 && this.#isReady(dependent)) becameReady.push(dependent.id);
      }
    }
    return becameReady.sort(byId);
  }

  /** Undefined when the graph does not know the issue. */
  state(id: number): NodeState | undefined {
    return this.#nodes.get(id)?.state;
  }

  isExternal(id: number): boolean {
    return this.#nodes.get(id)?.external ?? false;
  }

  /** Ours, pending, every dependency done, not on a cycle: it may start now. */
  isReady(id: number): boolean {
    const node = this.#nodes.get(id);
    return node !== undefined && this.#isReady(node);
  }

  /** Every node that may start now, by id. */
  ready(): number[] {
    const ready: number[] = [];
    for (const node of this.#nodes.values()) if (this.#isReady(node)) ready.push(node.id);
    return ready.sort(byId);
  }

  /** One cycle per strongly connected component and per self-loop, by first member: `[3, 5]` is #3 → #5 → #3. */
  cycles(): number[][] {
    return this.#ensureStructure().cycles.map((cycle) => [...cycle]);
  }

  /** Nodes not on a cycle, dependencies first, ties by id. Dependencies on a cycle are left out of the count. */
  topologicalOrder(): number[] {
    return [...this.#ensureStructure().order];
  }

  /** Why a pending node can never run (the nearest cause), or undefined while it may still run. */
  blockedReason(id: number): string | undefined {
    const blockage = this.#ensureBlocked().get(id);
    return blockage && this.#describe(blockage);
  }

  /** Every node that can never run, with its reason, by id: the deadlock report. */
  blocked(): Map<number, string> {
    const blocked = this.#ensureBlocked();
    const ids = [...blocked.keys()].sort(byId);
    return new Map(ids.map((id) => [id, this.#describe(blocked.get(id)!)]));
  }

  dependencies(id: number): number[] {
    return (this.#nodes.get(id)?.dependsOn ?? []).map((dependency) => dependency.id);
  }

  dependents(id: number): number[] {
    const node = this.#nodes.get(id);
    return node ? this.#dependentsOf(node).map((dependent) => dependent.id).sort(byId) : [];
  }

  nodes(): number[] {
    return [...this.#nodes.keys()].sort(byId);
  }

  toJSON(): DagSnapshot {
    return {
      version: 1,
      nodes: this.nodes().map((id) => {
        const node = this.#nodes.get(id)!;
        const dependsOn = node.dependsOn.map((dependency) => dependency.id);
        return { id, dependsOn, state: node.state, external: node.external, placeholder: node.placeholder };
      }),
    };
  }

  /** Throws MiyabiError `invalid_argument` on what is not a snapshot: the KV store's value may be stale or foreign. */
  static fromJSON(snapshot: DagSnapshot): DependencyGraph {
    const wellFormed = (node: DagSnapshot['nodes'][number]) =>
      typeof node?.id === 'number' && Array.isArray(node.dependsOn) && nodeStates.has(node.state);
    if (snapshot?.version !== 1 || !Array.isArray(snapshot.nodes) || !snapshot.nodes.every(wellFormed)) {
      throw new MiyabiError(ErrorCodes.InvalidArgument, 'not a dependency graph snapshot (version 1)');
    }
    const graph = new DependencyGraph();
    for (const node of snapshot.nodes) {
      if (!node.placeholder) graph.setNode(node.id, node.dependsOn, { external: node.external });
    }
    for (const node of snapshot.nodes) {
      if (graph.#nodes.has(node.id)) graph.setState(node.id, node.state);
    }
    return graph;
  }

  #isReady(node: NodeRecord): boolean {
    if (node.external || node.state !== 'pending' || node.unmet > 0) return false;
    return !this.#ensureStructure().componentOf.has(node.id);
  }

  #placeholder(id: number): NodeRecord {
    const node: NodeRecord = {
      id,
      state: 'pending',
      external: true,
      placeholder: true,
      dependsOn: [],
      dependentCount: 0,
      unmet: 0,
      slot: -1,
    };
    this.#nodes.set(id, node);
    return node;
  }

  /** Unlinks `node` from its dependencies, dropping placeholders nothing depends on any more (except those still wanted). */
  #detach(node: NodeRecord, keep: readonly number[]): void {
    for (const target of node.dependsOn) {
      target.dependentCount -= 1;
      if (target.placeholder && target.dependentCount === 0 && !keep.includes(target.id)) this.#nodes.delete(target.id);
    }
  }

  #edgesChanged(): void {
    this.#structure = undefined;
    this.#blocked = undefined;
  }

  #ensureStructure(): Structure {
    this.#structure ??= analyse(this.#nodes);
    return this.#structure;
  }

  #dependentsOf(node: NodeRecord): NodeRecord[] {
    return dependentsOf(this.#ensureStructure(), node);
  }

  /** The blocked nodes and why (blocked.ts), kept until a state change can alter them. */
  #ensureBlocked(): Map<number, Blockage> {
    this.#blocked ??= findBlocked(this.#nodes, this.#ensureStructure());
    return this.#blocked;
  }

  #describe(blockage: Blockage): string {
    return describeBlockage(blockage, this.#nodes, this.#ensureStructure());
  }
}

/** The ids in order, once each; callers mostly pass them so already (the parsers do), and that costs no copy. */
function sortedUnique(ids: readonly number[]): readonly number[] {
  let ordered = true;
  for (let at = 0; at < ids.length; at += 1) {
    checkIssueNumber(ids[at]!);
    if (at > 0 && ids[at - 1]! >= ids[at]!) ordered = false;
  }
  if (ordered) return ids;
  const sorted = ids.slice();
  if (sorted.length > 32) {
    sorted.sort(byId);
  } else {
    // An insertion sort: for a handful of ids several times cheaper than Array.prototype.sort.
    for (let at = 1; at < sorted.length; at += 1) {
      const id = sorted[at]!;
      let to = at;
      for (; to > 0 && sorted[to - 1]! > id; to -= 1) sorted[to] = sorted[to - 1]!;
      sorted[to] = id;
    }
  }
  let kept = 0;
  for (const id of sorted) {
    if (kept === 0 || sorted[kept - 1] !== id) sorted[kept++] = id;
  }
  sorted.length = kept;
  return sorted;
}

function checkIssueNumber(id: number): void {
  if (!Number.isSafeInteger(id) || id < 1) {
    throw new MiyabiError(ErrorCodes.InvalidArgument, `${String(id)} is not an issue number`);
  }
}
