/**
 * The graph's nodes and what follows from their edges alone: the strongly connected components
 * (reported as cycles), the topological order and every node's dependents, computed in one pass
 * over a compact copy of the edges (typed rows) and kept by the graph until the edges change.
 * Split from the graph so the tuned algorithms (see bench/dag.ts, docs/BENCHMARKS.md) sit
 * together, apart from the bookkeeping that calls them.
 */

export type NodeState = 'pending' | 'done' | 'failed' | 'cancelled' | 'missing';

/** Edges point at records, not ids: a completion and a graph walk need no lookups. */
export interface NodeRecord {
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
export interface Structure {
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

export function byId(a: number, b: number): number {
  return a - b;
}

export function byRecordId(a: NodeRecord, b: NodeRecord): number {
  return a.id - b.id;
}

/** The nodes that depend on `node`, in slot order. */
export function dependentsOf(structure: Structure, node: NodeRecord): NodeRecord[] {
  const { records, dependentStart, dependentSlots } = structure;
  const dependents: NodeRecord[] = [];
  for (let edge = dependentStart[node.slot]!; edge < dependentStart[node.slot + 1]!; edge += 1) {
    dependents.push(records[dependentSlots[edge]!]!);
  }
  return dependents;
}

/**
 * Cycles and topological order over a compact copy of the edges: each node a slot, each slot's
 * dependencies a row of one typed array. This runs once per change of edges and is rarely
 * optimised by the JIT, so it uses indexed loops (an iterator allocates at every step there):
 * at 10,000 nodes the garbage collector costs as much as the algorithms.
 */
export function analyse(nodes: ReadonlyMap<number, NodeRecord>): Structure {
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
