/**
 * Graphs laid out by elkjs, in the browser (bundled into dist/console.js: no request leaves the
 * page, and the orchestra spends no time on layout). A machine's graph comes from /api/machines
 * (src/machines/diagram.ts `toGraph`: states nested as compound nodes, one edge per transition
 * target); the dependency graph is built here from /api/dag.
 *
 * The result is flattened to absolute coordinates: ELK gives a node's position relative to its
 * parent and an edge's relative to its `container`.
 */
import ElkModule from 'elkjs/lib/elk.bundled.js';
import type { ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk-api.js';

export interface PlacedNode {
  id: string;
  label: string;
  x: number;
  y: number;
  width: number;
  height: number;
  depth: number;
  compound: boolean;
  initial: boolean;
  type: string;
}

export interface PlacedEdge {
  id: string;
  source: string;
  target: string;
  label: string;
  kind: string;
  points: Array<{ x: number; y: number }>;
  labelAt?: { x: number; y: number; width: number; height: number };
}

export interface Placed {
  width: number;
  height: number;
  nodes: PlacedNode[];
  edges: PlacedEdge[];
}

export interface InputNode {
  id: string;
  label: string;
  type?: string;
  initial?: boolean;
  children?: InputNode[];
}

export interface InputEdge {
  id: string;
  source: string;
  target: string;
  label: string;
  kind?: string;
}

const CHAR_WIDTH = 7;
const LINE_HEIGHT = 16;
const textWidth = (text: string) => Math.max(24, text.length * CHAR_WIDTH + 12);

// A CommonJS module: its default export is the constructor (the typings say the module is).
const ELK = ElkModule as unknown as typeof import('elkjs/lib/elk-api.js').default;
const elk = new ELK();

const OPTIONS = {
  'elk.algorithm': 'layered',
  'elk.direction': 'DOWN',
  'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
  'elk.layered.spacing.nodeNodeBetweenLayers': '40',
  'elk.spacing.nodeNode': '30',
  'elk.spacing.edgeLabel': '4',
  'elk.edgeLabels.inline': 'false',
};

export async function layout(rootId: string, nodes: InputNode[], edges: InputEdge[]): Promise<Placed> {
  const kinds = new Map<string, InputNode>();
  const toElk = (node: InputNode): ElkNode => {
    kinds.set(node.id, node);
    const children = node.children ?? [];
    return children.length === 0
      ? { id: node.id, width: textWidth(node.label), height: LINE_HEIGHT * 2 + 8, labels: [{ text: node.label }] }
      : {
          id: node.id,
          labels: [{ text: node.label, width: textWidth(node.label), height: LINE_HEIGHT }],
          layoutOptions: { 'elk.padding': '[top=28,left=12,bottom=12,right=12]', 'elk.nodeLabels.placement': 'INSIDE V_TOP H_LEFT' },
          children: children.map(toElk),
        };
  };
  const graph: ElkNode = {
    id: rootId,
    layoutOptions: OPTIONS,
    children: nodes.map(toElk),
    edges: edges.map(
      (edge): ElkExtendedEdge => ({ id: edge.id, sources: [edge.source], targets: [edge.target], labels: edge.label === '' ? [] : [{ text: edge.label, width: textWidth(edge.label), height: LINE_HEIGHT }] }),
    ),
  };
  const done = await elk.layout(graph);
  const placed: Placed = { width: done.width ?? 0, height: done.height ?? 0, nodes: [], edges: [] };
  const origin = new Map<string, { x: number; y: number }>([[rootId, { x: 0, y: 0 }]]);
  const walk = (node: ElkNode, offset: { x: number; y: number }, depth: number): void => {
    const x = offset.x + (node.x ?? 0);
    const y = offset.y + (node.y ?? 0);
    origin.set(node.id, { x, y });
    const input = kinds.get(node.id)!;
    placed.nodes.push({
      id: node.id,
      label: input.label,
      x,
      y,
      width: node.width ?? 0,
      height: node.height ?? 0,
      depth,
      compound: (node.children ?? []).length > 0,
      initial: input.initial === true,
      type: input.type ?? 'atomic',
    });
    for (const child of node.children ?? []) walk(child, { x, y }, depth + 1);
  };
  for (const child of done.children ?? []) walk(child, { x: 0, y: 0 }, 0);
  const byId = new Map(edges.map((edge) => [edge.id, edge]));
  const collect = (node: ElkNode): void => {
    for (const edge of (node.edges ?? []) as ElkExtendedEdge[]) {
      const at = origin.get(edge.container ?? node.id) ?? { x: 0, y: 0 };
      const input = byId.get(edge.id)!;
      const section = edge.sections?.[0];
      const points = section ? [section.startPoint, ...(section.bendPoints ?? []), section.endPoint].map((p) => ({ x: p.x + at.x, y: p.y + at.y })) : [];
      const label = edge.labels?.[0];
      placed.edges.push({
        id: edge.id,
        source: input.source,
        target: input.target,
        label: input.label,
        kind: input.kind ?? 'event',
        points,
        ...(label ? { labelAt: { x: (label.x ?? 0) + at.x, y: (label.y ?? 0) + at.y, width: label.width ?? 0, height: label.height ?? 0 } } : {}),
      });
    }
    for (const child of node.children ?? []) collect(child);
  };
  collect(done);
  return placed;
}
