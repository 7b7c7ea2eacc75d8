/**
 * The dependency graph's corners, each found by mutation testing (docs/MUTATION.md): blocked
 * reasons that must be recomputed after a state change, members tangled in a cycle they are cut
 * off from, the tie-breaks of the deadlock report, ids the graph does not know, snapshots that
 * are not ours, and the rendered text in full.
 */
import { describe, expect, it } from 'vitest';
import { DependencyGraph, formatCycle, renderGraph, type DagSnapshot } from '../../src/machines/dag.ts';
import { graphOf } from '../support/dag-graph.ts';

describe('blocked reasons after a state change (the reasons are cached)', () => {
  it('a failure coming after the report was read blocks its dependents', () => {
    const graph = graphOf({ 7: [], 4: [7] });
    expect(graph.blocked()).toEqual(new Map());
    graph.setState(7, 'failed');
    expect(graph.blockedReason(4)).toBe('depends on #7, which failed');
  });

  it('a failed issue closed anyway unblocks its dependents', () => {
    const graph = graphOf({ 7: [], 4: [7] });
    graph.setState(7, 'failed');
    expect(graph.blockedReason(4)).toBe('depends on #7, which failed');
    graph.setState(7, 'done');
    expect(graph.blocked()).toEqual(new Map());
    expect(graph.ready()).toEqual([4]);
  });

  it('an issue reopened behind a failure is blocked, and so is what depends on it', () => {
    const graph = graphOf({ 1: [], 2: [1], 3: [2] });
    graph.setState(2, 'done');
    graph.setState(1, 'failed');
    expect(graph.blocked()).toEqual(new Map());
    graph.setState(2, 'pending');
    expect([...graph.blocked().keys()]).toEqual([2, 3]);
  });

  it('a blocked issue closed anyway is no longer blocked, nor what waited on it', () => {
    const graph = graphOf({ 7: [], 4: [7], 2: [4] });
    graph.setState(7, 'failed');
    expect([...graph.blocked().keys()]).toEqual([2, 4]);
    graph.setState(4, 'done');
    expect(graph.blocked()).toEqual(new Map());
    expect(graph.ready()).toEqual([2]);
  });
});

describe('what a completion readies', () => {
  it('only the dependents that may start: not one closed already, nor an external one, nor one on a cycle', () => {
    const graph = graphOf({ 1: [], 2: [1], 4: [1, 5], 5: [4], 6: [1] });
    graph.setNode(3, [1], { external: true });
    graph.setState(2, 'done');
    graph.setState(5, 'done');
    expect(graph.setState(1, 'done')).toEqual([6]);
  });
});

describe('blocked: tangles and ties', () => {
  it('members of a component cut off from its cycle by a closed member are tangled in it, and block their dependents', () => {
    // One component: 1 ↔ 2 and 2 → 3 → 4 → 2. With #2 closed, #3 and #4 reach no pending member of the cycle.
    const graph = graphOf({ 1: [2], 2: [1, 3], 3: [4], 4: [2], 5: [3], 6: [5] });
    graph.setState(2, 'done');
    expect(graph.blocked()).toEqual(
      new Map([
        [1, 'on a dependency cycle: #1 → #2 → #1'],
        [3, 'tangled in the dependency cycle #1 → #2 → #1'],
        [4, 'tangled in the dependency cycle #1 → #2 → #1'],
        [5, 'depends on #3, which is blocked: tangled in the dependency cycle #1 → #2 → #1'],
        [6, 'depends on #5, which is blocked: #3 is tangled in the dependency cycle #1 → #2 → #1'],
      ]),
    );
  });

  it('at the same distance from their causes, the smallest dependency is named, whatever order the causes were found in', () => {
    // #9 is found first (through #1), #3 second (through #2); #10 depends on both at distance 1, #11 on #10's peers at distance 2.
    const graph = graphOf({ 1: [], 2: [], 9: [1], 3: [2], 10: [3, 9], 12: [9], 13: [3], 11: [12, 13] });
    graph.setState(1, 'failed');
    graph.setState(2, 'failed');
    expect(graph.blockedReason(10)).toBe('depends on #3, which is blocked: depends on #2, which failed');
    expect(graph.blockedReason(11)).toBe('depends on #12, which is blocked: #9 depends on #1, which failed');
  });

  it('of two failed dependencies the smaller is named, whatever order they were added in', () => {
    const graph = new DependencyGraph();
    graph.setNode(2, []);
    graph.setNode(1, []);
    graph.setNode(10, [1, 2]);
    graph.setState(2, 'failed');
    graph.setState(1, 'failed');
    expect(graph.blockedReason(10)).toBe('depends on #1, which failed');
  });

  it('cycles are listed by their first member, whatever order they were added in', () => {
    const graph = graphOf({ 5: [6], 6: [5], 1: [2], 2: [1] });
    expect(graph.cycles()).toEqual([[1, 2], [5, 6]]);
    const later = new DependencyGraph();
    later.setNode(8, [9]);
    later.setNode(9, [8]);
    later.setNode(3, [4]);
    later.setNode(4, [3]);
    expect(later.cycles()).toEqual([[3, 4], [8, 9]]);
  });

  it('an empty cycle is written as nothing', () => {
    expect(formatCycle([])).toBe('');
  });
});

describe('ids the graph does not know, and dependency lists', () => {
  it('answers plainly about an unknown issue, and removing it is a no-op', () => {
    const graph = graphOf({ 1: [] });
    expect(graph.isExternal(99)).toBe(false);
    expect(graph.isReady(99)).toBe(false);
    expect(graph.state(99)).toBeUndefined();
    expect(graph.dependencies(99)).toEqual([]);
    expect(graph.dependents(99)).toEqual([]);
    graph.removeNode(99);
    expect(graph.nodes()).toEqual([1]);
  });

  it('sorts and de-duplicates dependencies, short lists and long ones', () => {
    const graph = new DependencyGraph();
    graph.setNode(100, [3, 1, 3, 2, 1]);
    expect(graph.dependencies(100)).toEqual([1, 2, 3]);
    graph.setNode(101, [1, 2, 2]);
    expect(graph.dependencies(101)).toEqual([1, 2]);
    expect(graph.dependents(1)).toEqual([100, 101]);
    const many = Array.from({ length: 40 }, (_, at) => 40 - (at % 20));
    graph.setNode(200, many);
    expect(graph.dependencies(200)).toEqual(Array.from({ length: 20 }, (_, at) => 21 + at));
  });

  it('a placeholder kept in the new dependencies keeps its state; one still wanted elsewhere stays', () => {
    const graph = graphOf({ 12: [40], 13: [41], 14: [41] });
    graph.setState(40, 'done');
    graph.setNode(12, [40, 42]);
    expect(graph.state(40)).toBe('done');
    graph.setNode(13, []);
    expect(graph.nodes()).toEqual([12, 13, 14, 40, 41, 42]);
    graph.setState(41, 'done');
    expect(graph.isReady(14)).toBe(true);
  });

  it('a placeholder nothing depends on after a replacement is dropped, and counts no dependent', () => {
    const graph = graphOf({ 12: [40], 1: [], 2: [1] });
    graph.setNode(12, []);
    expect(graph.nodes()).toEqual([1, 2, 12]);
    // #1 is no one's dependency any more: removing it drops it instead of keeping a placeholder.
    graph.setNode(2, []);
    graph.removeNode(1);
    expect(graph.nodes()).toEqual([2, 12]);
  });

  it('replacing the dependencies of an issue keeps the issues it used to depend on', () => {
    const graph = graphOf({ 1: [], 2: [1] });
    graph.setNode(2, []);
    expect(graph.nodes()).toEqual([1, 2]);
    expect(graph.ready()).toEqual([1, 2]);
  });
});

describe('snapshots', () => {
  const node = { id: 1, dependsOn: [], state: 'pending', external: false, placeholder: false };

  it.each([
    ['no node list', { version: 1 }],
    ['a node without a number', { version: 1, nodes: [{ ...node, id: '1' }] }],
    ['a node without its dependencies', { version: 1, nodes: [{ ...node, dependsOn: undefined }] }],
    ['a node in no known state', { version: 1, nodes: [{ ...node, state: 'finished' }] }],
    ['another version', { version: 2, nodes: [node] }],
    ['nothing', null],
    ['a node that is nothing', { version: 1, nodes: [node, null] }],
    ['one bad node among good ones', { version: 1, nodes: [node, { ...node, id: 2, state: 'finished' }] }],
  ])('refuses %s', (_, snapshot) => {
    expect(() => DependencyGraph.fromJSON(snapshot as unknown as DagSnapshot)).toThrow('not a dependency graph snapshot (version 1)');
  });

  it('drops a placeholder nothing depends on any more', () => {
    const restored = DependencyGraph.fromJSON({
      version: 1,
      nodes: [node as DagSnapshot['nodes'][number], { id: 9, dependsOn: [], state: 'done', external: true, placeholder: true }],
    });
    expect(restored.nodes()).toEqual([1]);
  });
});

describe('renderGraph, in full', () => {
  const graph = graphOf({ 1: [], 2: [1, 40], 3: [5], 5: [3] });
  const labels = (id: number) => (id === 1 ? 'a\\b "c"' : `${id}`);

  it('mermaid', () => {
    expect(renderGraph(graph, 'mermaid')).toBe(
      [
        'flowchart LR',
        '  classDef external stroke-dasharray: 4 4',
        '  classDef blocked stroke:#c00,color:#c00',
        '  n1["#1"]',
        '  n2["#2"]',
        '  n3["#3"]',
        '  n5["#5"]',
        '  n40["#40"]',
        '  n2 --> n1',
        '  n2 --> n40',
        '  n3 --> n5',
        '  n5 --> n3',
        '  class n40 external',
        '  class n3,n5 blocked',
        '',
      ].join('\n'),
    );
    // No external or blocked node: no class line at all.
    expect(renderGraph(graphOf({ 1: [] }), 'mermaid')).toBe(
      'flowchart LR\n  classDef external stroke-dasharray: 4 4\n  classDef blocked stroke:#c00,color:#c00\n  n1["#1"]\n',
    );
  });

  it('dot, a backslash in a label escaped', () => {
    expect(renderGraph(graph, 'dot', labels)).toBe(
      [
        'digraph dependencies {',
        '  rankdir=LR;',
        '  n1 [label="#1 a\\\\b \\"c\\""];',
        '  n2 [label="#2 2"];',
        '  n3 [label="#3 3", color=red, tooltip="on a dependency cycle: #3 → #5 → #3"];',
        '  n5 [label="#5 5", color=red, tooltip="on a dependency cycle: #3 → #5 → #3"];',
        '  n40 [label="#40 40", style=dashed];',
        '  n2 -> n1;',
        '  n2 -> n40;',
        '  n3 -> n5;',
        '  n5 -> n3;',
        '}',
        '',
      ].join('\n'),
    );
  });

  it('dot without labels', () => {
    expect(renderGraph(graphOf({ 1: [] }), 'dot')).toBe('digraph dependencies {\n  rankdir=LR;\n  n1 [label="#1"];\n}\n');
  });

  it('json, with labels', () => {
    const parsed = JSON.parse(renderGraph(graph, 'json', labels)) as { nodes: Array<Record<string, unknown>> };
    expect(parsed.nodes[1]).toEqual({ id: 2, state: 'pending', external: false, ready: false, dependsOn: [1, 40], label: '2' });
    expect(parsed.nodes[4]).toEqual({ id: 40, state: 'pending', external: true, ready: false, dependsOn: [], label: '40' });
  });
});
