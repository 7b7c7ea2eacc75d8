/**
 * The web console (docs/CONSOLE.md): one page, its views chosen by the address's hash —
 * `#tree`, `#machines/<id>`, `#issue/<n>`, `#graph`, `#queues`, `#logs`. Bundled with elkjs
 * into dist/console.js by scripts/build.mjs and inlined into the page the orchestra serves at
 * `/`: it loads nothing from anywhere, and talks only to the orchestra that served it.
 */
import { getJson, type MachinesReply } from './api.ts';
import type { View } from './view.ts';
import { el, replace } from './dom.ts';
import { Live } from './live.ts';
import { graphView } from './view-graph.ts';
import { issueView } from './view-issue.ts';
import { logsView } from './view-logs.ts';
import { machinesView } from './view-machines.ts';
import { queuesView } from './view-queues.ts';
import { treeView } from './view-tree.ts';

const VIEWS: Array<[string, string, View]> = [
  ['tree', 'Tree', treeView],
  ['machines', 'Machines', machinesView],
  ['issue', 'Issue', issueView],
  ['graph', 'Graph', graphView],
  ['queues', 'Queues and agents', queuesView],
  ['logs', 'Logs', logsView],
];

function start(): void {
  const live = new Live();
  const machines = getJson<MachinesReply>('/api/machines');
  const nav = el('nav', {});
  const status = el('span', { class: 'connection', id: 'connection' }, 'connecting…');
  const main = el('main', { id: 'view' });
  document.body.replaceChildren(el('header', {}, el('h1', {}, 'Miyabi Orchestra'), nav, status), main);
  const navigate = (hash: string) => {
    if (location.hash === `#${hash}`) show();
    else location.hash = hash;
  };
  let stop: (() => void) | undefined;
  const show = () => {
    stop?.();
    const [name, ...rest] = location.hash.replace(/^#/, '').split('/');
    const entry = VIEWS.find(([id]) => id === name) ?? VIEWS[0]!;
    replace(nav, ...VIEWS.map(([id, title]) => el('a', { href: `#${id}`, class: id === entry[0] ? 'current' : undefined, 'data-view': id }, title)));
    main.replaceChildren();
    main.dataset.view = entry[0];
    stop = entry[2](main, { live, machines, argument: rest.length > 0 ? decodeURIComponent(rest.join('/')) : undefined, navigate });
  };
  live.subscribe((change) => {
    if (change.kind !== 'connection') return;
    status.textContent = change.open ? (live.droppedTotal > 0 ? `live (${live.droppedTotal} events missed)` : 'live') : 'disconnected: reconnecting…';
    status.classList.toggle('down', !change.open);
  });
  window.addEventListener('hashchange', show);
  live.start();
  show();
}

start();
