import { describe, expect, it } from 'vitest';
import { DependencyGraph, formatCycle, renderGraph, type DagSnapshot } from '../../src/machines/dag.ts';
import { cycleMembers, graphOf, seeded } from '../support/dag-graph.ts';

describe('DependencyGraph: order and readiness', () => {
  it('orders dependencies first, ties by id, and readies the issues without open dependencies', () => {
    const graph = graphOf({ 4: [2, 3], 3: [1], 2: [1], 1: [], 9: [] });
    expect(graph.topologicalOrder()).toEqual([1, 2, 3, 4, 9]);
    expect(graph.ready()).toEqual([1, 9]);
    expect(graph.cycles()).toEqual([]);
    expect(graph.blocked()).toEqual(new Map());
  });

  it('a diamond: the join is ready only when both sides are done', () => {
    const graph = graphOf({ 1: [], 2: [1], 3: [1], 4: [2, 3] });
    expect(graph.setState(1, 'done')).toEqual([2, 3]);
    expect(graph.setState(2, 'done')).toEqual([]);
    expect(graph.isReady(4)).toBe(false);
    expect(graph.setState(3, 'done')).toEqual([4]);
    expect(graph.ready()).toEqual([4]);
  });

  it('answers only the issues that became ready, and takes a reopened dependency back', () => {
    const graph = graphOf({ 1: [], 2: [1], 3: [1, 2] });
    expect(graph.setState(1, 'done')).toEqual([2]);
    expect(graph.setState(1, 'done')).toEqual([]);
    expect(graph.setState(1, 'pending')).toEqual([1]);
    expect(graph.ready()).toEqual([1]);
    expect(graph.isReady(2)).toBe(false);
    expect(graph.setState(1, 'done')).toEqual([2]);
  });

  it('a failed issue retried (back to pending) is ready again', () => {
    const graph = graphOf({ 1: [] });
    graph.setState(1, 'failed');
    expect(graph.ready()).toEqual([]);
    expect(graph.setState(1, 'pending')).toEqual([1]);
  });

  it('replacing a node keeps its state and recounts its dependencies', () => {
    const graph = graphOf({ 1: [], 2: [], 3: [1] });
    graph.setState(1, 'done');
    expect(graph.isReady(3)).toBe(true);
    graph.setNode(3, [1, 2]);
    expect(graph.isReady(3)).toBe(false);
    expect(graph.dependencies(3)).toEqual([1, 2]);
    expect(graph.dependents(2)).toEqual([3]);
    expect(graph.setState(2, 'done')).toEqual([3]);
  });

  it('a chain of 10,000 issues: no stack overflow, and completions ready one at a time', () => {
    const graph = new DependencyGraph();
    for (let id = 1; id <= 10_000; id += 1) graph.setNode(id, id === 1 ? [] : [id - 1]);
    graph.setNode(1, [10_000]);
    expect(graph.cycles()).toHaveLength(1);
    expect(graph.cycles()[0]).toHaveLength(10_000);
    graph.setNode(1, []);
    expect(graph.cycles()).toEqual([]);
    expect(graph.topologicalOrder()).toHaveLength(10_000);
    for (let id = 1; id < 10_000; id += 1) expect(graph.setState(id, 'done')).toEqual([id + 1]);
  });
});

describe('DependencyGraph: cycles', () => {
  it('names the cycle, blocks its members and what depends on them, and lets everything else proceed', () => {
    const graph = graphOf({ 3: [5], 5: [3], 8: [3], 1: [], 2: [1] });
    expect(graph.cycles()).toEqual([[3, 5]]);
    expect(formatCycle([3, 5])).toBe('#3 → #5 → #3');
    expect(graph.blockedReason(3)).toBe('on a dependency cycle: #3 → #5 → #3');
    expect(graph.blockedReason(5)).toBe('on a dependency cycle: #3 → #5 → #3');
    expect(graph.blockedReason(8)).toBe('depends on #3, which is blocked: on a dependency cycle: #3 → #5 → #3');
    expect(graph.ready()).toEqual([1]);
    expect(graph.topologicalOrder()).toEqual([1, 2, 8]);
    expect(graph.setState(1, 'done')).toEqual([2]);
    expect(graph.blockedReason(2)).toBeUndefined();
  });

  it('follows the path of a longer cycle from its smallest member', () => {
    const graph = graphOf({ 7: [4], 4: [9], 9: [7] });
    expect(graph.cycles()).toEqual([[4, 9, 7]]);
    expect(graph.blockedReason(9)).toBe('on a dependency cycle: #4 → #9 → #7 → #4');
  });

  it('a self-loop is a cycle of one', () => {
    const graph = graphOf({ 6: [6], 7: [] });
    expect(graph.cycles()).toEqual([[6]]);
    expect(graph.blockedReason(6)).toBe('on a dependency cycle: #6 → #6');
    expect(graph.ready()).toEqual([7]);
    expect(graph.topologicalOrder()).toEqual([7]);
  });

  it('a component of several loops is reported once; its other members are blocked through it', () => {
    const graph = graphOf({ 1: [2], 2: [1, 3], 3: [4], 4: [2] });
    expect(graph.cycles()).toEqual([[1, 2]]);
    expect(graph.blockedReason(4)).toBe('depends on #2, which is blocked: on a dependency cycle: #1 → #2 → #1');
    expect(graph.blockedReason(3)).toBe('depends on #4, which is blocked: #2 is on a dependency cycle: #1 → #2 → #1');
  });

  it('breaking the cycle unblocks its members', () => {
    const graph = graphOf({ 3: [5], 5: [3] });
    graph.setNode(5, []);
    expect(graph.cycles()).toEqual([]);
    expect(graph.ready()).toEqual([5]);
    expect(graph.blockedReason(3)).toBeUndefined();
  });
});

describe('DependencyGraph: dependencies that can never complete', () => {
  it('a failed dependency blocks its dependents transitively, each with the nearest cause', () => {
    const graph = graphOf({ 7: [], 4: [7], 2: [4], 1: [2], 5: [] });
    graph.setState(7, 'failed');
    expect(graph.blockedReason(4)).toBe('depends on #7, which failed');
    expect(graph.blockedReason(2)).toBe('depends on #4, which is blocked: depends on #7, which failed');
    expect(graph.blockedReason(1)).toBe('depends on #2, which is blocked: #4 depends on #7, which failed');
    expect(graph.blockedReason(7)).toBeUndefined();
    expect([...graph.blocked().keys()]).toEqual([1, 2, 4]);
    expect(graph.ready()).toEqual([5]);
  });

  it('a cancelled dependency, and its retry', () => {
    const graph = graphOf({ 7: [], 4: [7] });
    graph.setState(7, 'cancelled');
    expect(graph.blockedReason(4)).toBe('depends on #7, which was cancelled');
    graph.setState(7, 'pending');
    expect(graph.blockedReason(4)).toBeUndefined();
  });

  it('the nearest cause wins when there are several', () => {
    const graph = graphOf({ 1: [], 2: [1], 3: [2], 9: [], 10: [3, 9] });
    graph.setState(1, 'failed');
    graph.setState(9, 'failed');
    expect(graph.blockedReason(10)).toBe('depends on #9, which failed');
  });

  it('a dependency that does not exist is reported and blocks its dependent', () => {
    const graph = graphOf({ 12: [99] });
    expect(graph.isExternal(99)).toBe(true);
    expect(graph.blockedReason(12)).toBeUndefined();
    graph.setState(99, 'missing');
    expect(graph.blockedReason(12)).toBe('depends on #99, which does not exist');
    expect(graph.blocked()).toEqual(new Map([[12, 'depends on #99, which does not exist']]));
  });

  it('an external dependency waits until it is closed on the tracker', () => {
    const graph = graphOf({ 12: [40], 13: [12] });
    expect(graph.state(40)).toBe('pending');
    expect(graph.isReady(40)).toBe(false);
    expect(graph.ready()).toEqual([]);
    expect(graph.blockedReason(12)).toBeUndefined();
    expect(graph.setState(40, 'done')).toEqual([12]);
  });

  it('an external node declared with dependencies of its own is never run nor blocked', () => {
    const graph = new DependencyGraph();
    graph.setNode(40, [41], { external: true });
    graph.setNode(12, [40]);
    graph.setState(41, 'failed');
    expect(graph.blockedReason(40)).toBeUndefined();
    expect(graph.blockedReason(12)).toBeUndefined();
    expect(graph.setState(41, 'done')).toEqual([]);
  });
});

describe('DependencyGraph: against a naive model, on random graphs', () => {
  it('cycles, topological order, dependents and the incremental ready set agree with brute force', () => {
    const states = ['pending', 'done', 'failed', 'pending', 'done'] as const;
    for (let seed = 1; seed <= 60; seed += 1) {
      const random = seeded(seed);
      const size = 3 + Math.floor(random() * 12);
      const randomDependencies = () => Array.from({ length: Math.floor(random() * 3) }, () => 1 + Math.floor(random() * size));
      const edges = new Map<number, number[]>();
      for (let id = 1; id <= size; id += 1) edges.set(id, randomDependencies());
      const graph = new DependencyGraph();
      // Reverse order: dependencies appear as placeholders first, then become ours.
      for (const id of [...edges.keys()].reverse()) graph.setNode(id, edges.get(id)!);

      const checkStructure = () => {
        const onSomeCycle = cycleMembers(edges);
        const cycles = graph.cycles();
        for (const cycle of cycles) {
          cycle.forEach((id, at) => expect(edges.get(id)).toContain(cycle[(at + 1) % cycle.length]));
          expect(cycle[0]).toBe(Math.min(...cycle));
        }
        expect(new Set(cycles.flat()).size).toBe(cycles.flat().length);
        const order = graph.topologicalOrder();
        expect([...order].sort((a, b) => a - b)).toEqual([...edges.keys()].filter((id) => !onSomeCycle.has(id)));
        const placed = new Set<number>();
        for (const id of order) {
          for (const dependency of edges.get(id)!) if (!onSomeCycle.has(dependency)) expect(placed.has(dependency)).toBe(true);
          placed.add(id);
        }
        for (const id of edges.keys()) {
          expect(graph.dependents(id)).toEqual([...edges.keys()].filter((each) => edges.get(each)!.includes(id)));
          if (onSomeCycle.has(id) && graph.state(id) === 'pending') expect(graph.blockedReason(id)).toBeDefined();
        }
        return onSomeCycle;
      };
      let onSomeCycle = checkStructure();

      for (let step = 0; step < 30; step += 1) {
        const id = 1 + Math.floor(random() * size);
        if (random() < 0.2) {
          edges.set(id, randomDependencies());
          graph.setNode(id, edges.get(id)!);
          onSomeCycle = checkStructure();
          continue;
        }
        const before = new Set(graph.ready());
        const became = graph.setState(id, states[Math.floor(random() * states.length)]!);
        const after = graph.ready();
        expect(became).toEqual(after.filter((each) => !before.has(each)));
        const expected = [...edges.keys()].filter(
          (each) =>
            graph.state(each) === 'pending' &&
            !onSomeCycle.has(each) &&
            edges.get(each)!.every((dependency) => graph.state(dependency) === 'done'),
        );
        expect(after).toEqual(expected);
      }
    }
  });
});

describe('DependencyGraph: removal and persistence', () => {
  it('removing a node keeps it as a placeholder while something depends on it, and drops unused placeholders', () => {
    const graph = graphOf({ 1: [50], 2: [1] });
    graph.setState(1, 'done');
    graph.removeNode(1);
    expect(graph.nodes()).toEqual([1, 2]);
    expect(graph.isExternal(1)).toBe(true);
    expect(graph.state(1)).toBe('done');
    expect(graph.isReady(2)).toBe(true);
    graph.removeNode(2);
    expect(graph.nodes()).toEqual([]);
  });

  it('refuses what is not an issue number', () => {
    const graph = new DependencyGraph();
    expect(() => graph.setNode(0, [])).toThrow(/not an issue number/);
    expect(() => graph.setNode(1, [1.5])).toThrow(/not an issue number/);
    expect(() => graph.setState(3, 'done')).toThrow(/not in the dependency graph/);
  });

  it('round-trips through plain JSON', () => {
    const graph = graphOf({ 1: [], 2: [1, 30], 3: [5], 5: [3] });
    graph.setNode(40, [], { external: true });
    graph.setState(1, 'done');
    graph.setState(30, 'missing');
    const snapshot = JSON.parse(JSON.stringify(graph.toJSON())) as DagSnapshot;
    const restored = DependencyGraph.fromJSON(snapshot);
    expect(restored.toJSON()).toEqual(graph.toJSON());
    expect(restored.blocked()).toEqual(graph.blocked());
    expect(restored.ready()).toEqual(graph.ready());
    expect(() => DependencyGraph.fromJSON({ version: 2 } as unknown as DagSnapshot)).toThrow(/snapshot/);
    const corrupt = { version: 1, nodes: [{ id: 1, dependsOn: [], state: 'finished', external: false, placeholder: false }] };
    expect(() => DependencyGraph.fromJSON(corrupt as unknown as DagSnapshot)).toThrow(/snapshot/);
  });
});

describe('renderGraph', () => {
  const graph = graphOf({ 1: [], 2: [1, 40], 3: [5], 5: [3] });
  const labels = (id: number) => (id === 1 ? 'says "hi" <b>#x;</b>' : graph.state(id)!);

  it('mermaid: a flowchart whose arrows read "depends on", external dashed, blocked marked', () => {
    const text = renderGraph(graph, 'mermaid', labels);
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toBe('flowchart LR');
    expect(lines).toContain('  n2 --> n40');
    expect(lines).toContain('  n2["#2 pending"]');
    expect(lines).toContain('  n1["#1 says #34;hi#34; #60;b#62;#35;x;#60;/b#62;"]');
    expect(lines).toContain('  class n40 external');
    expect(lines).toContain('  class n3,n5 blocked');
  });

  it('dot: a digraph with escaped labels', () => {
    const text = renderGraph(graph, 'dot', labels);
    expect(text.startsWith('digraph dependencies {\n')).toBe(true);
    expect(text.trimEnd().endsWith('}')).toBe(true);
    expect(text).toContain('  n1 [label="#1 says \\"hi\\" <b>#x;</b>"];');
    expect(text).toContain('  n40 [label="#40 pending", style=dashed];');
    expect(text).toContain('  n3 -> n5;');
    expect(text).toContain('tooltip="on a dependency cycle: #3 → #5 → #3"');
  });

  it('json: nodes with their state and reasons, and the cycles', () => {
    const parsed = JSON.parse(renderGraph(graph, 'json')) as {
      nodes: Array<{ id: number; state: string; external: boolean; ready: boolean; dependsOn: number[]; blocked?: string }>;
      cycles: number[][];
    };
    expect(parsed.cycles).toEqual([[3, 5]]);
    expect(parsed.nodes.map((node) => node.id)).toEqual([1, 2, 3, 5, 40]);
    expect(parsed.nodes[0]).toEqual({ id: 1, state: 'pending', external: false, ready: true, dependsOn: [] });
    expect(parsed.nodes[2]!.blocked).toBe('on a dependency cycle: #3 → #5 → #3');
  });
});
