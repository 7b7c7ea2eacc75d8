/**
 * The Machines view: each machine of the catalog drawn from its definition (/api/machines, laid
 * out by elkjs), with the state of every live actor of that machine highlighted and following
 * the inspection records as they come (an issue's lifecycle steps too, for `issue-lifecycle`).
 */
import type { MachineGraph } from './api.ts';
import { drawDiagram, highlight, machineLayout } from './diagram.ts';
import { activeStateIds, stateTextIds } from './states.ts';
import { el, replace } from './dom.ts';
import type { ActorNow, Live } from './live.ts';
import type { View } from './view.ts';

/** The live actors of a machine, each with the state ids it is in. */
export function actorsOf(live: Live, machineId: string): Map<string, string[]> {
  const actors = new Map<string, string[]>();
  for (const actor of live.actors.values()) {
    if (actor.machine !== machineId || (actor.status !== undefined && actor.status !== 'active')) continue;
    actors.set(shortName(actor), actor.value === undefined ? stateTextIds(machineId, actor.state) : activeStateIds(machineId, actor.value));
  }
  return actors;
}

const shortName = (actor: ActorNow) => actor.path.split('/').at(-1)!.replace(/^(\d+)$/, '#$1');

export const machinesView: View = (root, { live, machines, argument }) => {
  const tabs = el('div', { class: 'tabs' });
  const holder = el('div', { class: 'diagram-holder' }, 'laying out…');
  const actorsList = el('ul', { class: 'machine-actors' });
  replace(root, el('h2', {}, 'Machines'), tabs, el('div', { class: 'split' }, holder, el('aside', {}, el('h3', {}, 'Live actors'), actorsList)));
  let diagram: SVGSVGElement | undefined;
  let machineId: string | undefined;
  let stopped = false;

  const refresh = () => {
    if (!diagram || !machineId) return;
    const actors = actorsOf(live, machineId);
    highlight(diagram, actors);
    replace(
      actorsList,
      ...[...live.actors.values()]
        .filter((actor) => actor.machine === machineId)
        .map((actor) => el('li', { 'data-path': actor.path }, el('code', {}, actor.path), ' ', el('span', { class: 'state' }, actor.state))),
    );
    if (actors.size === 0) actorsList.append(el('li', { class: 'muted' }, 'no live actor of this machine'));
  };

  void machines.then(
    async (reply) => {
      machineId = reply.machines.some((machine) => machine.id === argument) ? argument! : reply.machines[0]?.id;
      replace(tabs, ...reply.machines.map((machine) => el('a', { href: `#machines/${machine.id}`, class: machine.id === machineId ? 'current' : undefined }, machine.id)));
      if (!machineId) return;
      const graph: MachineGraph = reply.graphs[machineId]!;
      const placed = await machineLayout(graph);
      if (stopped) return;
      diagram = drawDiagram(placed, { className: 'machine' });
      diagram.dataset.machine = machineId;
      replace(holder, diagram);
      refresh();
    },
    (error: unknown) => replace(holder, el('p', { class: 'error' }, `machines unavailable: ${String(error)}`)),
  );
  const unsubscribe = live.subscribe((change) => {
    if (change.kind === 'tree' || (change.kind === 'record' && change.record.machine === machineId)) refresh();
  });
  return () => {
    stopped = true;
    unsubscribe();
  };
};
