/**
 * The Graph view: the dependency graph (/api/dag, what `dag show` prints) laid out by elkjs,
 * each issue coloured by its state. Read again when an issue's lifecycle steps: a new issue
 * lays the graph out again, a changed state only recolours its node.
 */
import { getJson, type DagReply } from './api.ts';
import { drawDiagram } from './diagram.ts';
import { el, replace } from './dom.ts';
import { layout } from './layout.ts';
import type { View } from './view.ts';

const nodeId = (issue: number) => `issue-${issue}`;

export const graphView: View = (root, { live, navigate }) => {
  const holder = el('div', { class: 'diagram-holder' }, 'loading…');
  const notice = el('p', { class: 'summary' });
  replace(root, el('h2', {}, 'Dependency graph'), notice, holder);
  let shape = '';
  let diagram: SVGSVGElement | undefined;
  let stopped = false;
  let pending: ReturnType<typeof setTimeout> | undefined;

  const recolour = (reply: DagReply) => {
    if (!diagram) return;
    for (const node of reply.nodes) {
      const group = diagram.querySelector<SVGGElement>(`g[data-state-id="${nodeId(node.id)}"]`);
      if (!group) continue;
      group.dataset.issueState = node.state;
      group.setAttribute('class', `state leaf issue ${node.state}${node.external ? ' external' : ''}`);
      const actors = group.querySelector('text.actors');
      if (actors) actors.textContent = node.state;
    }
  };
  const load = async () => {
    const reply = await getJson<DagReply>('/api/dag');
    if (stopped) return;
    const nextShape = reply.nodes.map((node) => `${node.id}:${node.dependsOn.join(',')}:${node.label}`).join('|');
    notice.textContent = `${reply.nodes.length} issues${reply.cycles.length > 0 ? ` · ${reply.cycles.length} dependency cycle(s)` : ''}`;
    if (nextShape !== shape) {
      shape = nextShape;
      const known = new Set(reply.nodes.map((node) => node.id));
      const placed = await layout(
        'dag',
        reply.nodes.map((node) => ({ id: nodeId(node.id), label: `#${node.id} ${node.label}`.slice(0, 60) })),
        reply.nodes.flatMap((node) => node.dependsOn.filter((dependency) => known.has(dependency)).map((dependency) => ({ id: `d${dependency}-${node.id}`, source: nodeId(dependency), target: nodeId(node.id), label: '' }))),
      );
      if (stopped) return;
      diagram = drawDiagram(placed, { className: 'dag' });
      for (const group of diagram.querySelectorAll<SVGGElement>('g.state')) {
        group.addEventListener('click', () => navigate(`issue/${(group.dataset.stateId ?? '').replace('issue-', '')}`));
      }
      replace(holder, reply.nodes.length === 0 ? el('p', { class: 'muted' }, 'no issue yet') : diagram);
    }
    recolour(reply);
  };
  const reload = () => {
    if (pending !== undefined) return;
    pending = setTimeout(() => {
      pending = undefined;
      load().catch((error: unknown) => replace(holder, el('p', { class: 'error' }, `graph unavailable: ${error instanceof Error ? error.message : String(error)}`)));
    }, 300);
  };
  reload();
  const unsubscribe = live.subscribe((change) => {
    if (change.kind === 'record' && change.record.kind === 'issue') reload();
  });
  return () => {
    stopped = true;
    clearTimeout(pending);
    unsubscribe();
  };
};
