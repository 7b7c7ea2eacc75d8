/**
 * The graph for a person: Mermaid, Graphviz DOT or JSON, as `miyabi-orchestra dag show` prints
 * it. Reads the graph through its public methods only; apart from it because presentation and
 * escaping have nothing to do with the graph's bookkeeping.
 */
import { inert, inertJson } from '../../inert-text.ts';
import type { DependencyGraph } from './graph.ts';

/**
 * The graph for a person: Mermaid (a Markdown comment), Graphviz DOT, or JSON. An arrow reads
 * "depends on"; external nodes are dashed, blocked ones red. `labels` adds text after the
 * number (the issue's state, its title): untrusted, so it is made inert (no control character,
 * escape sequence or bidi override reaches the terminal or the page) and escaped for each format.
 */
/** What rendering reads of the graph (a read-only view, the workflow's port, will do). */
export type RenderableGraph = Pick<DependencyGraph, 'nodes' | 'blocked' | 'state' | 'isExternal' | 'isReady' | 'dependencies' | 'cycles'>;

export function renderGraph(
  graph: RenderableGraph,
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
    return inertJson(JSON.stringify({ nodes, cycles: graph.cycles() }, null, 2));
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
  return inert(value).replace(/[#"<>]/g, (character) => `#${character.charCodeAt(0)};`);
}

/** Inert first (a newline shown as `\n`, not a line break), then DOT's quoting. */
function dotEscape(value: string): string {
  return inert(value).replace(/[\\"]/g, (character) => `\\${character}`);
}
