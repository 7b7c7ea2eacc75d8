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
 * completion updates the ready set without a scan. Cycles (Tarjan's SCC, iterative: a chain of
 * 10,000 must not overflow the stack) are cached until the edges change; blocked reasons are
 * cached until a state change can alter them. Everything else is O(nodes + edges) per call.
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

interface NodeRecord {
  state: NodeState;
  external: boolean;
  /** Known only as someone's dependency: dropped when nothing depends on it any more. */
  placeholder: boolean;
  /** Sorted, unique. */
  dependsOn: number[];
  dependents: Set<number>;
  /** Dependencies not done: the node may run when this is 0. */
  unmet: number;
}

interface Tangles {
  /** One cycle per strongly connected component, rotated to its smallest member. */
  cycles: number[][];
  /** Every member of a component → the index of its cycle. */
  componentOf: Map<number, number>;
  /** Members of the reported cycles themselves. */
  onCycle: Set<number>;
  /** `formatCycle` of each cycle, once: every member's reason shares it (a cycle may be 10,000 long). */
  texts: Array<string | undefined>;
}

/** Why a node can never run: the root cause, and the dependency through which it reaches it. */
interface Blockage {
  root: number;
  cause: { kind: 'cycle' | 'tangle'; cycle: number } | { kind: 'dependency'; dependency: number };
  /** The node's own dependency on the way to the root; undefined at the root. */
  via: number | undefined;
}

const unrunnable: ReadonlySet<NodeState> = new Set(['failed', 'cancelled', 'missing']);

export class DependencyGraph {
  readonly #nodes = new Map<number, NodeRecord>();
  #tangles: Tangles | undefined;
  #blocked: Map<number, Blockage> | undefined;

  /** Adds `id`, or replaces its dependencies (its state is kept). Unknown dependencies become external placeholders. */
  setNode(id: number, dependsOn: readonly number[], options: { external?: boolean } = {}): void {
    checkIssueNumber(id);
    const dependencies = [...new Set(dependsOn)].sort((a, b) => a - b);
    dependencies.forEach(checkIssueNumber);
    const existing = this.#nodes.get(id);
    const node = existing ?? this.#placeholder(id);
    if (existing) this.#detach(id, node, dependencies);
    node.external = options.external ?? false;
    node.placeholder = false;
    node.dependsOn = dependencies;
    node.unmet = 0;
    for (const dependency of dependencies) {
      const target = this.#nodes.get(dependency) ?? this.#placeholder(dependency);
      target.dependents.add(id);
      if (target.state !== 'done') node.unmet += 1;
    }
    this.#edgesChanged();
  }

  /** Drops `id` and its edges. While other nodes still depend on it, it stays as an external placeholder with its state. */
  removeNode(id: number): void {
    const node = this.#nodes.get(id);
    if (!node) return;
    this.#detach(id, node, []);
    node.dependsOn = [];
    node.unmet = 0;
    if (node.dependents.size > 0) {
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
    const wasReady = this.isReady(id);
    if (this.#blocked && (unrunnable.has(previous) || unrunnable.has(state) || state === 'pending' || this.#blocked.has(id))) {
      this.#blocked = undefined;
    }
    node.state = state;
    const becameReady: number[] = [];
    if (!wasReady && this.isReady(id)) becameReady.push(id);
    if ((previous === 'done') !== (state === 'done')) {
      const change = state === 'done' ? -1 : 1;
      for (const dependent of node.dependents) {
        const record = this.#nodes.get(dependent)!;
        record.unmet += change;
        if (change < 0 && record.unmet === 0 && this.isReady(dependent)) becameReady.push(dependent);
      }
    }
    return becameReady.sort((a, b) => a - b);
  }

  state(id: number): NodeState | undefined {
    return this.#nodes.get(id)?.state;
  }

  isExternal(id: number): boolean {
    return this.#nodes.get(id)?.external ?? false;
  }

  isReady(id: number): boolean {
    const node = this.#nodes.get(id);
    if (!node || node.external || node.state !== 'pending' || node.unmet > 0) return false;
    return !this.#ensureTangles().componentOf.has(id);
  }

  ready(): number[] {
    const ready: number[] = [];
    for (const id of this.#nodes.keys()) if (this.isReady(id)) ready.push(id);
    return ready.sort((a, b) => a - b);
  }

  /** One cycle per strongly connected component (and per self-loop): `[3, 5]` is #3 → #5 → #3. Sorted by first member. */
  cycles(): number[][] {
    return this.#ensureTangles().cycles.map((cycle) => [...cycle]);
  }

  /** Nodes not on a cycle, dependencies first (Kahn), ties by id. Dependencies on a cycle are left out of the count. */
  topologicalOrder(): number[] {
    const { componentOf } = this.#ensureTangles();
    const unplaced = new Map<number, number>();
    const heap: number[] = [];
    for (const [id, node] of this.#nodes) {
      if (componentOf.has(id)) continue;
      let count = 0;
      for (const dependency of node.dependsOn) if (!componentOf.has(dependency)) count += 1;
      if (count === 0) heapPush(heap, id);
      else unplaced.set(id, count);
    }
    const order: number[] = [];
    while (heap.length > 0) {
      const id = heapPop(heap);
      order.push(id);
      for (const dependent of this.#nodes.get(id)!.dependents) {
        const count = unplaced.get(dependent);
        if (count === undefined) continue;
        if (count === 1) {
          unplaced.delete(dependent);
          heapPush(heap, dependent);
        } else {
          unplaced.set(dependent, count - 1);
        }
      }
    }
    return order;
  }

  /** Why a pending node can never run (the nearest cause), or undefined while it may still run. */
  blockedReason(id: number): string | undefined {
    const blockage = this.#ensureBlocked().get(id);
    return blockage && this.#describe(blockage);
  }

  /** Every node that can never run, with its reason, by id: the deadlock report. */
  blocked(): Map<number, string> {
    const blocked = this.#ensureBlocked();
    const ids = [...blocked.keys()].sort((a, b) => a - b);
    return new Map(ids.map((id) => [id, this.#describe(blocked.get(id)!)]));
  }

  dependencies(id: number): readonly number[] {
    return this.#nodes.get(id)?.dependsOn ?? [];
  }

  dependents(id: number): readonly number[] {
    return [...(this.#nodes.get(id)?.dependents ?? [])].sort((a, b) => a - b);
  }

  nodes(): number[] {
    return [...this.#nodes.keys()].sort((a, b) => a - b);
  }

  toJSON(): DagSnapshot {
    return {
      version: 1,
      nodes: this.nodes().map((id) => {
        const node = this.#nodes.get(id)!;
        return { id, dependsOn: [...node.dependsOn], state: node.state, external: node.external, placeholder: node.placeholder };
      }),
    };
  }

  static fromJSON(snapshot: DagSnapshot): DependencyGraph {
    if (snapshot?.version !== 1 || !Array.isArray(snapshot.nodes)) {
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

  #placeholder(id: number): NodeRecord {
    const node: NodeRecord = { state: 'pending', external: true, placeholder: true, dependsOn: [], dependents: new Set(), unmet: 0 };
    this.#nodes.set(id, node);
    return node;
  }

  /** Unlinks `id` from its dependencies, dropping placeholders nothing depends on any more (except those still wanted). */
  #detach(id: number, node: NodeRecord, keep: readonly number[]): void {
    for (const dependency of node.dependsOn) {
      const target = this.#nodes.get(dependency)!;
      target.dependents.delete(id);
      if (target.placeholder && target.dependents.size === 0 && !keep.includes(dependency)) this.#nodes.delete(dependency);
    }
  }

  #edgesChanged(): void {
    this.#tangles = undefined;
    this.#blocked = undefined;
  }

  #ensureTangles(): Tangles {
    this.#tangles ??= findTangles(this.#nodes);
    return this.#tangles;
  }

  /**
   * Breadth-first from every root cause along the dependents of our pending nodes: each blocked
   * node is reached first from its nearest cause.
   */
  #ensureBlocked(): Map<number, Blockage> {
    if (this.#blocked) return this.#blocked;
    const { cycles, componentOf, onCycle } = this.#ensureTangles();
    const blocked = new Map<number, Blockage>();
    const mayBlock = (id: number) => {
      const node = this.#nodes.get(id)!;
      return node.state === 'pending' && !node.external && !blocked.has(id);
    };
    const queue: number[] = [];
    for (const id of this.nodes()) {
      if (!mayBlock(id)) continue;
      if (onCycle.has(id)) {
        blocked.set(id, { root: id, cause: { kind: 'cycle', cycle: componentOf.get(id)! }, via: undefined });
        queue.push(id);
        continue;
      }
      const dependency = this.#nodes.get(id)!.dependsOn.find((each) => unrunnable.has(this.#nodes.get(each)!.state));
      if (dependency !== undefined) {
        blocked.set(id, { root: id, cause: { kind: 'dependency', dependency }, via: undefined });
        queue.push(id);
      }
    }
    const spread = () => {
      for (let head = 0; head < queue.length; head += 1) {
        const from = queue[head]!;
        const { root, cause } = blocked.get(from)!;
        for (const dependent of this.#nodes.get(from)!.dependents) {
          if (!mayBlock(dependent)) continue;
          blocked.set(dependent, { root, cause, via: from });
          queue.push(dependent);
        }
      }
      queue.length = 0;
    };
    spread();
    // Members of a component cut off from its cycle by a done or external member: still stuck.
    for (const [id, cycle] of componentOf) {
      if (!mayBlock(id)) continue;
      blocked.set(id, { root: id, cause: { kind: 'tangle', cycle }, via: undefined });
      queue.push(id);
    }
    spread();
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
    const tangles = this.#ensureTangles();
    const cycle = (tangles.texts[cause.cycle] ??= formatCycle(tangles.cycles[cause.cycle]!));
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

function checkIssueNumber(id: number): void {
  if (!Number.isSafeInteger(id) || id < 1) {
    throw new MiyabiError(ErrorCodes.InvalidArgument, `${String(id)} is not an issue number`);
  }
}

/** Tarjan's strongly connected components with an explicit stack, and one cycle for each. */
function findTangles(nodes: ReadonlyMap<number, NodeRecord>): Tangles {
  const ids = [...nodes.keys()];
  const slotOf = new Map<number, number>();
  ids.forEach((id, slot) => slotOf.set(id, slot));
  const edges = ids.map((id) => nodes.get(id)!.dependsOn.map((dependency) => slotOf.get(dependency)!));
  const index = new Int32Array(ids.length).fill(-1);
  const low = new Int32Array(ids.length);
  const nextEdge = new Int32Array(ids.length);
  const onStack = new Uint8Array(ids.length);
  const stack: number[] = [];
  const path: number[] = [];
  const components: number[][] = [];
  let counter = 0;
  const visit = (slot: number) => {
    index[slot] = low[slot] = counter++;
    stack.push(slot);
    onStack[slot] = 1;
    path.push(slot);
  };
  for (let start = 0; start < ids.length; start += 1) {
    if (index[start] !== -1) continue;
    visit(start);
    while (path.length > 0) {
      const slot = path[path.length - 1]!;
      const out = edges[slot]!;
      if (nextEdge[slot]! < out.length) {
        const target = out[nextEdge[slot]!++]!;
        if (index[target] === -1) visit(target);
        else if (onStack[target]) low[slot] = Math.min(low[slot]!, index[target]!);
        continue;
      }
      path.pop();
      const parent = path[path.length - 1];
      if (parent !== undefined) low[parent] = Math.min(low[parent]!, low[slot]!);
      if (low[slot] !== index[slot]) continue;
      const component: number[] = [];
      let member: number;
      do {
        member = stack.pop()!;
        onStack[member] = 0;
        component.push(ids[member]!);
      } while (member !== slot);
      const selfLoop = component.length === 1 && edges[slot]!.includes(slot);
      if (component.length > 1 || selfLoop) components.push(component);
    }
  }
  const found = components
    .map((component) => ({ component, cycle: shortestCycle(nodes, component) }))
    .sort((a, b) => a.cycle[0]! - b.cycle[0]!);
  const componentOf = new Map<number, number>();
  const onCycle = new Set<number>();
  found.forEach(({ component, cycle }, position) => {
    for (const member of component) componentOf.set(member, position);
    for (const member of cycle) onCycle.add(member);
  });
  const cycles = found.map(({ cycle }) => cycle);
  return { cycles, componentOf, onCycle, texts: [] };
}

/** The shortest cycle through the smallest member of a component (breadth-first along its dependencies). */
function shortestCycle(nodes: ReadonlyMap<number, NodeRecord>, component: readonly number[]): number[] {
  const members = new Set(component);
  const start = component.reduce((smallest, id) => Math.min(smallest, id));
  const parent = new Map<number, number>([[start, start]]);
  const queue = [start];
  for (let head = 0; head < queue.length; head += 1) {
    const from = queue[head]!;
    for (const to of nodes.get(from)!.dependsOn) {
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

function heapPush(heap: number[], value: number): void {
  let at = heap.push(value) - 1;
  while (at > 0) {
    const up = (at - 1) >> 1;
    if (heap[up]! <= value) break;
    heap[at] = heap[up]!;
    at = up;
  }
  heap[at] = value;
}

function heapPop(heap: number[]): number {
  const top = heap[0]!;
  const last = heap.pop()!;
  if (heap.length === 0) return top;
  let at = 0;
  for (;;) {
    let child = 2 * at + 1;
    if (child >= heap.length) break;
    if (child + 1 < heap.length && heap[child + 1]! < heap[child]!) child += 1;
    if (heap[child]! >= last) break;
    heap[at] = heap[child]!;
    at = child;
  }
  heap[at] = last;
  return top;
}
