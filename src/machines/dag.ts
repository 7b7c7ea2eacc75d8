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
 */
import { ErrorCodes, MiyabiError } from '../errors.ts';

export type NodeState = 'pending' | 'done' | 'failed' | 'cancelled' | 'missing';

/** Plain data for a KV store: every node, placeholders included (their state is worth keeping). */
export interface DagSnapshot {
  version: 1;
  nodes: Array<{ id: number; dependsOn: number[]; state: NodeState; external: boolean; placeholder: boolean }>;
}

/** Edges point at records, not ids: a completion and a graph walk need no lookups. */
interface NodeRecord {
  id: number;
  state: NodeState;
  external: boolean;
  /** Known only as someone's dependency: dropped when nothing depends on it any more. */
  placeholder: boolean;
  /** By id, unique. */
  dependsOn: NodeRecord[];
  /**
   * How many nodes depend on this one. The dependents themselves are in the structure: a list
   * per node here would be 10,000 more arrays for the garbage collector to copy at every load.
   */
  dependentCount: number;
  /** Dependencies not done: the node may run when this is 0. */
  unmet: number;
  /** The node's place in the structure's rows; valid while the structure is. */
  slot: number;
}

/** What follows from the edges alone: computed in one pass when asked, kept until the edges change. */
interface Structure {
  /** One cycle per strongly connected component, rotated to its smallest member. */
  cycles: number[][];
  /** Every member of a component → the index of its cycle. */
  componentOf: Map<number, number>;
  /** Members of the reported cycles themselves. */
  onCycle: Set<number>;
  /** `formatCycle` of each cycle, once: every member's reason shares it (a cycle may be 10,000 long). */
  texts: Array<string | undefined>;
  /** Nodes in no component, dependencies first, ties by id. */
  order: number[];
  /** Slot → node. */
  records: NodeRecord[];
  /** The dependents of slot s: records[dependentSlots[dependentStart[s]]] … up to dependentStart[s + 1]. */
  dependentStart: Int32Array;
  dependentSlots: Int32Array;
}

/** Why a node can never run: the root cause, and the dependency through which it reaches it. */
interface Blockage {
  root: number;
  cause: { kind: 'cycle' | 'tangle'; cycle: number } | { kind: 'dependency'; dependency: number };
  /** The node's own dependency on the way to the root; undefined at the root. */
  via: number | undefined;
}

const nodeStates: ReadonlySet<string> = new Set<NodeState>(['pending', 'done', 'failed', 'cancelled', 'missing']);
const unrunnable: ReadonlySet<NodeState> = new Set(['failed', 'cancelled', 'missing']);

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
      // The loop of #dependentsOf without its array: this is the path every completion takes.
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
    const { records, dependentStart, dependentSlots } = this.#ensureStructure();
    const dependents: NodeRecord[] = [];
    for (let edge = dependentStart[node.slot]!; edge < dependentStart[node.slot + 1]!; edge += 1) {
      dependents.push(records[dependentSlots[edge]!]!);
    }
    return dependents;
  }

  /**
   * Breadth-first from every root cause along the dependents of our pending nodes, one level at
   * a time in id order: each blocked node is reached first from its nearest cause, through its
   * smallest dependency at that distance, whatever order the edges were added in.
   */
  #ensureBlocked(): Map<number, Blockage> {
    if (this.#blocked) return this.#blocked;
    const { componentOf, onCycle } = this.#ensureStructure();
    const blocked = new Map<number, Blockage>();
    const mayBlock = (node: NodeRecord) => node.state === 'pending' && !node.external && !blocked.has(node.id);
    const spread = (roots: NodeRecord[]) => {
      for (let level = roots.sort(byRecordId); level.length > 0; ) {
        const next: NodeRecord[] = [];
        for (const from of level) {
          const { root, cause } = blocked.get(from.id)!;
          for (const dependent of this.#dependentsOf(from)) {
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
      const node = this.#nodes.get(id)!;
      if (!mayBlock(node)) continue;
      blocked.set(id, { root: id, cause: { kind: 'cycle', cycle: componentOf.get(id)! }, via: undefined });
      roots.push(node);
    }
    const unrunnableNodes: NodeRecord[] = [];
    for (const node of this.#nodes.values()) if (unrunnable.has(node.state)) unrunnableNodes.push(node);
    for (const dependency of unrunnableNodes.sort(byRecordId)) {
      for (const node of this.#dependentsOf(dependency)) {
        if (!mayBlock(node)) continue;
        blocked.set(node.id, { root: node.id, cause: { kind: 'dependency', dependency: dependency.id }, via: undefined });
        roots.push(node);
      }
    }
    spread(roots);
    // Members of a component cut off from its cycle by a done or external member: still stuck.
    const cutOff: NodeRecord[] = [];
    for (const [id, cycle] of componentOf) {
      const node = this.#nodes.get(id)!;
      if (!mayBlock(node)) continue;
      blocked.set(id, { root: id, cause: { kind: 'tangle', cycle }, via: undefined });
      cutOff.push(node);
    }
    spread(cutOff);
    this.#blocked = blocked;
    return blocked;
  }

  #describe({ root, cause, via }: Blockage): string {
    const reason = this.#causeText(cause);
    if (via === undefined) return reason;
    // The root itself is named when it is not the dependency at hand: '#6 depends on #7, which failed'.
    const subject = via === root ? '' : cause.kind === 'dependency' ? `#${root} ` : `#${root} is `;
    return `depends on #${via}, which is blocked: ${subject}${reason}`;
  }

  #causeText(cause: Blockage['cause']): string {
    if (cause.kind === 'dependency') {
      const state = this.#nodes.get(cause.dependency)!.state;
      const what = state === 'failed' ? 'failed' : state === 'cancelled' ? 'was cancelled' : 'does not exist';
      return `depends on #${cause.dependency}, which ${what}`;
    }
    const structure = this.#ensureStructure();
    const cycle = (structure.texts[cause.cycle] ??= formatCycle(structure.cycles[cause.cycle]!));
    return cause.kind === 'cycle' ? `on a dependency cycle: ${cycle}` : `tangled in the dependency cycle ${cycle}`;
  }
}

/** '#3 → #5 → #3': the cycle, closed on its first member. */
export function formatCycle(cycle: readonly number[]): string {
  if (cycle.length === 0) return '';
  return [...cycle, cycle[0]].map((id) => `#${id}`).join(' → ');
}

/**
 * The graph for a person: Mermaid (a Markdown comment), Graphviz DOT, or JSON. An arrow reads
 * "depends on"; external nodes are dashed, blocked ones red. `labels` adds text after the
 * number (the issue's state, its title): untrusted, so it is escaped for each format.
 */
export function renderGraph(
  graph: DependencyGraph,
  format: 'mermaid' | 'dot' | 'json',
  labels?: (id: number) => string,
): string {
  const ids = graph.nodes();
  const blocked = graph.blocked();
  if (format === 'json') {
    const nodes = ids.map((id) => ({
      id,
      state: graph.state(id)!,
      external: graph.isExternal(id),
      ready: graph.isReady(id),
      dependsOn: graph.dependencies(id),
      ...(labels ? { label: labels(id) } : {}),
      ...(blocked.has(id) ? { blocked: blocked.get(id)! } : {}),
    }));
    return JSON.stringify({ nodes, cycles: graph.cycles() }, null, 2);
  }
  const lines: string[] = [];
  if (format === 'mermaid') {
    const classes = (members: number[], name: string) =>
      members.length > 0 ? [`  class ${members.map((id) => `n${id}`).join(',')} ${name}`] : [];
    lines.push('flowchart LR', '  classDef external stroke-dasharray: 4 4', '  classDef blocked stroke:#c00,color:#c00');
    for (const id of ids) lines.push(`  n${id}["#${id}${labels ? ` ${mermaidEscape(labels(id))}` : ''}"]`);
    for (const id of ids) for (const dependency of graph.dependencies(id)) lines.push(`  n${id} --> n${dependency}`);
    lines.push(...classes(ids.filter((id) => graph.isExternal(id)), 'external'), ...classes([...blocked.keys()], 'blocked'));
    return `${lines.join('\n')}\n`;
  }
  lines.push('digraph dependencies {', '  rankdir=LR;');
  for (const id of ids) {
    const attributes = [`label="#${id}${labels ? ` ${dotEscape(labels(id))}` : ''}"`];
    if (graph.isExternal(id)) attributes.push('style=dashed');
    if (blocked.has(id)) attributes.push('color=red', `tooltip="${dotEscape(blocked.get(id)!)}"`);
    lines.push(`  n${id} [${attributes.join(', ')}];`);
  }
  for (const id of ids) for (const dependency of graph.dependencies(id)) lines.push(`  n${id} -> n${dependency};`);
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

/** Mermaid reads `#name;` as an entity and HTML inside labels: both are written as entities. */
function mermaidEscape(value: string): string {
  return value.replace(/[#"<>\r\n]/g, (character) => `#${character.charCodeAt(0)};`);
}

function dotEscape(value: string): string {
  return value.replace(/[\\"]/g, (character) => `\\${character}`).replace(/\r?\n/g, '\\n');
}

function byId(a: number, b: number): number {
  return a - b;
}

function byRecordId(a: NodeRecord, b: NodeRecord): number {
  return a.id - b.id;
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

/**
 * Cycles and topological order over a compact copy of the edges: each node a slot, each slot's
 * dependencies a row of one typed array. This runs once per change of edges and is rarely
 * optimised by the JIT, so it uses indexed loops (an iterator allocates at every step there):
 * at 10,000 nodes the garbage collector costs as much as the algorithms.
 */
function analyse(nodes: ReadonlyMap<number, NodeRecord>): Structure {
  const records: NodeRecord[] = [];
  nodes.forEach((record) => {
    record.slot = records.length;
    records.push(record);
  });
  const ids = new Float64Array(records.length);
  // Slot s depends on targets[rowStart[s]] … targets[rowStart[s + 1] - 1].
  const rowStart = new Int32Array(records.length + 1);
  for (let slot = 0; slot < records.length; slot += 1) {
    ids[slot] = records[slot]!.id;
    rowStart[slot + 1] = rowStart[slot]! + records[slot]!.dependsOn.length;
  }
  const targets = new Int32Array(rowStart[records.length]!);
  for (let slot = 0, edge = 0; slot < records.length; slot += 1) {
    const dependsOn = records[slot]!.dependsOn;
    for (let at = 0; at < dependsOn.length; at += 1) targets[edge++] = dependsOn[at]!.slot;
  }

  const components = stronglyConnected(rowStart, targets).map((slots) => Array.from(slots, (slot) => records[slot]!.id));
  const found = components
    .map((component) => ({ component, cycle: shortestCycle(nodes, component) }))
    .sort((a, b) => a.cycle[0]! - b.cycle[0]!);
  const componentOf = new Map<number, number>();
  const onCycle = new Set<number>();
  const inComponent = new Uint8Array(records.length);
  found.forEach(({ component, cycle }, position) => {
    for (const member of component) {
      componentOf.set(member, position);
      inComponent[nodes.get(member)!.slot] = 1;
    }
    for (const member of cycle) onCycle.add(member);
  });
  // The same edges reversed: slot s is a dependency of dependentSlots[dependentStart[s]] ….
  const dependentStart = new Int32Array(records.length + 1);
  for (let edge = 0; edge < targets.length; edge += 1) dependentStart[targets[edge]! + 1]! += 1;
  for (let slot = 0; slot < records.length; slot += 1) dependentStart[slot + 1]! += dependentStart[slot]!;
  const dependentSlots = new Int32Array(targets.length);
  const filled = dependentStart.slice(0, records.length);
  for (let slot = 0; slot < records.length; slot += 1) {
    for (let edge = rowStart[slot]!; edge < rowStart[slot + 1]!; edge += 1) dependentSlots[filled[targets[edge]!]!++] = slot;
  }
  const order = dependenciesFirst({ rowStart, targets, dependentStart, dependentSlots }, inComponent, ids);
  const cycles = found.map(({ cycle }) => cycle);
  return { cycles, componentOf, onCycle, texts: [], order, records, dependentStart, dependentSlots };
}

/**
 * Tarjan's strongly connected components with an explicit stack (a chain of 10,000 would
 * overflow the call stack): the components of more than one slot, and the self-loops.
 */
function stronglyConnected(rowStart: Int32Array, targets: Int32Array): Int32Array[] {
  const count = rowStart.length - 1;
  const index = new Int32Array(count).fill(-1);
  const low = new Int32Array(count);
  const nextEdge = rowStart.slice(0, count);
  const onStack = new Uint8Array(count);
  const stack = new Int32Array(count);
  const path = new Int32Array(count);
  let stackSize = 0;
  let pathSize = 0;
  let counter = 0;
  const components: Int32Array[] = [];
  const visit = (slot: number) => {
    index[slot] = low[slot] = counter++;
    stack[stackSize++] = slot;
    onStack[slot] = 1;
    path[pathSize++] = slot;
  };
  for (let first = 0; first < count; first += 1) {
    if (index[first] !== -1) continue;
    visit(first);
    while (pathSize > 0) {
      const slot = path[pathSize - 1]!;
      if (nextEdge[slot]! < rowStart[slot + 1]!) {
        const target = targets[nextEdge[slot]!++]!;
        if (index[target] === -1) visit(target);
        else if (onStack[target]) low[slot] = Math.min(low[slot]!, index[target]!);
        continue;
      }
      pathSize -= 1;
      if (pathSize > 0) {
        const parent = path[pathSize - 1]!;
        low[parent] = Math.min(low[parent]!, low[slot]!);
      }
      if (low[slot] !== index[slot]) continue;
      let bottom = stackSize - 1;
      while (stack[bottom] !== slot) bottom -= 1;
      for (let member = bottom; member < stackSize; member += 1) onStack[stack[member]!] = 0;
      // Most components are single slots without a loop: they cost no allocation.
      const cyclic = stackSize - bottom > 1 || dependsOnItself(rowStart, targets, slot);
      if (cyclic) components.push(stack.slice(bottom, stackSize));
      stackSize = bottom;
    }
  }
  return components;
}

function dependsOnItself(rowStart: Int32Array, targets: Int32Array, slot: number): boolean {
  for (let edge = rowStart[slot]!; edge < rowStart[slot + 1]!; edge += 1) if (targets[edge] === slot) return true;
  return false;
}

interface Rows {
  rowStart: Int32Array;
  targets: Int32Array;
  dependentStart: Int32Array;
  dependentSlots: Int32Array;
}

/** Kahn's algorithm over the slots outside components, the smallest id first among those ready; answers ids. */
function dependenciesFirst(rows: Rows, inComponent: Uint8Array, ids: Float64Array): number[] {
  const { rowStart, targets, dependentStart, dependentSlots } = rows;
  const count = rowStart.length - 1;
  const unplaced = new Int32Array(count);
  for (let slot = 0; slot < count; slot += 1) {
    for (let edge = rowStart[slot]!; edge < rowStart[slot + 1]!; edge += 1) if (!inComponent[targets[edge]!]) unplaced[slot]! += 1;
  }
  const heap = new SlotHeap(ids);
  for (let slot = 0; slot < count; slot += 1) if (!inComponent[slot] && unplaced[slot] === 0) heap.push(slot);
  const order: number[] = [];
  while (heap.size > 0) {
    const slot = heap.pop();
    order.push(ids[slot]!);
    for (let edge = dependentStart[slot]!; edge < dependentStart[slot + 1]!; edge += 1) {
      const dependent = dependentSlots[edge]!;
      if (!inComponent[dependent] && --unplaced[dependent]! === 0) heap.push(dependent);
    }
  }
  return order;
}

/** The shortest cycle through the smallest member of a component (breadth-first along its dependencies). */
function shortestCycle(nodes: ReadonlyMap<number, NodeRecord>, component: readonly number[]): number[] {
  const members = new Set(component);
  const start = component.reduce((smallest, id) => Math.min(smallest, id));
  const parent = new Map<number, number>([[start, start]]);
  const queue = [start];
  for (let head = 0; head < queue.length; head += 1) {
    const from = queue[head]!;
    for (const { id: to } of nodes.get(from)!.dependsOn) {
      if (to === start) {
        const cycle = [from];
        while (cycle[cycle.length - 1] !== start) cycle.push(parent.get(cycle[cycle.length - 1]!)!);
        return cycle.reverse();
      }
      if (!members.has(to) || parent.has(to)) continue;
      parent.set(to, from);
      queue.push(to);
    }
  }
  return [start]; // unreachable for a strongly connected component
}

/** A binary min-heap of slots, the slot with the smallest key on top. */
class SlotHeap {
  readonly #keys: Float64Array;
  readonly #slots: Int32Array;
  size = 0;

  constructor(keys: Float64Array) {
    this.#keys = keys;
    this.#slots = new Int32Array(keys.length);
  }

  push(slot: number): void {
    const slots = this.#slots;
    const keys = this.#keys;
    let at = this.size++;
    while (at > 0) {
      const up = (at - 1) >> 1;
      if (keys[slots[up]!]! <= keys[slot]!) break;
      slots[at] = slots[up]!;
      at = up;
    }
    slots[at] = slot;
  }

  pop(): number {
    const slots = this.#slots;
    const keys = this.#keys;
    const top = slots[0]!;
    const last = slots[--this.size]!;
    let at = 0;
    for (;;) {
      let child = 2 * at + 1;
      if (child >= this.size) break;
      if (child + 1 < this.size && keys[slots[child + 1]!]! < keys[slots[child]!]!) child += 1;
      if (keys[slots[child]!]! >= keys[last]!) break;
      slots[at] = slots[child]!;
      at = child;
    }
    slots[at] = last;
    return top;
  }
}
