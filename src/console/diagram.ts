/**
 * A laid-out graph (./layout.ts) drawn as SVG, and the highlight of the states an actor is in.
 * Each state is a `<g class="state" data-state-id="agent-pane.alive.ready.idle">`; an active
 * one gets the class `active` and lists the actors in it (`data-actors`, and under its name).
 */
import { svg } from './dom.ts';
import { layout, type InputEdge, type InputNode, type Placed } from './layout.ts';
import type { MachineGraph, GraphNode } from './api.ts';

const layouts = new Map<string, Promise<Placed>>();

/** A machine's graph laid out, once per page. */
export function machineLayout(graph: MachineGraph): Promise<Placed> {
  let placed = layouts.get(graph.id);
  if (!placed) {
    const toInput = (node: GraphNode): InputNode => ({ id: node.id, label: node.labels[0]?.text ?? node.id, type: node.type, initial: node.initial, children: node.children.map(toInput) });
    const edges: InputEdge[] = graph.edges.map((edge) => ({ id: edge.id, source: edge.sources[0], target: edge.targets[0], label: edge.labels[0]?.text ?? '', kind: edge.kind }));
    // The graph's root stands for the machine and has the root state's id: ELK wants ids unique.
    placed = layout(`graph:${graph.id}`, graph.children.map(toInput), edges);
    layouts.set(graph.id, placed);
  }
  return placed;
}

export function drawDiagram(placed: Placed, options: { className: string; nodeClass?: (id: string) => string | undefined }): SVGSVGElement {
  const margin = 8;
  const root = svg('svg', {
    class: options.className,
    viewBox: `${-margin} ${-margin} ${placed.width + 2 * margin} ${placed.height + 2 * margin}`,
    // Scaled to the width of its box by the style (the viewBox keeps its proportions).
    'data-width': placed.width + 2 * margin,
    role: 'img',
  }) as SVGSVGElement;
  const arrow = svg('marker', { id: `arrow-${options.className}`, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, svg('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead' }));
  root.append(svg('defs', {}, arrow));
  const nodes = [...placed.nodes].sort((a, b) => a.depth - b.depth);
  for (const node of nodes) {
    const group = svg('g', { class: ['state', node.compound ? 'compound' : 'leaf', node.type, options.nodeClass?.(node.id)].filter(Boolean).join(' '), 'data-state-id': node.id });
    group.append(svg('rect', { x: node.x, y: node.y, width: node.width, height: node.height, rx: 8 }));
    group.append(svg('text', { x: node.x + 8, y: node.y + 18, class: 'name' }, node.label));
    if (!node.compound) group.append(svg('text', { x: node.x + 8, y: node.y + 34, class: 'actors' }));
    if (node.initial) group.append(svg('circle', { cx: node.x - 4, cy: node.y + 4, r: 4, class: 'initial' }));
    root.append(group);
  }
  for (const edge of placed.edges) {
    if (edge.points.length === 0) continue;
    const d = edge.points.map((point, index) => `${index === 0 ? 'M' : 'L'}${point.x},${point.y}`).join(' ');
    root.append(svg('path', { d, class: `edge ${edge.kind}`, 'marker-end': `url(#arrow-${options.className})`, 'data-source': edge.source, 'data-target': edge.target }));
    if (edge.labelAt && edge.label !== '') {
      root.append(svg('text', { x: edge.labelAt.x + 2, y: edge.labelAt.y + edge.labelAt.height - 4, class: `edge-label ${edge.kind}` }, edge.label));
    }
  }
  return root;
}

/** Marks the states each actor is in: `actors` maps an actor's name to its active state ids. */
export function highlight(diagram: SVGSVGElement, actors: ReadonlyMap<string, readonly string[]>): void {
  const inState = new Map<string, string[]>();
  for (const [actor, ids] of actors) {
    for (const id of ids) inState.set(id, [...(inState.get(id) ?? []), actor]);
  }
  for (const group of diagram.querySelectorAll<SVGGElement>('g.state')) {
    const id = group.dataset.stateId ?? '';
    const names = inState.get(id);
    group.classList.toggle('active', names !== undefined);
    if (names) group.dataset.actors = names.join(' ');
    else delete group.dataset.actors;
    const label = group.querySelector('text.actors');
    if (label) label.textContent = names ? names.join(', ') : '';
  }
}
