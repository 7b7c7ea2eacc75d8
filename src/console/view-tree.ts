/**
 * The Tree view: the supervisor tree live — each actor's status, state, restarts, uptime and
 * (for a supervisor) strategy. A restart makes the actor's row flash; an actor running a machine
 * of the catalog opens that machine's diagram when clicked.
 */
import { el, duration, replace } from './dom.ts';
import { flatten } from './live.ts';
import type { View } from './view.ts';
import type { TreeNode } from './api.ts';

const FLASH_MS = 3_000;

type Row = { element: HTMLElement; fields: Record<'status' | 'state' | 'restarts' | 'uptime', HTMLElement>; flashedAt: number };

export const treeView: View = (root, { live, machines, navigate }) => {
  const list = el('ul', { class: 'tree', id: 'tree' });
  const summary = el('p', { class: 'summary' });
  replace(root, el('h2', {}, 'Supervisor tree'), summary, list);
  const rows = new Map<string, Row>();
  let shape = '';
  let receivedAt = Date.now();
  let known = new Set<string>();
  void machines.then((reply) => {
    known = new Set(reply.machines.map((machine) => machine.id));
    draw();
  });

  const row = (node: TreeNode & { path: string }): HTMLElement => {
    const fields = {
      status: el('span', { class: 'status' }),
      state: el('span', { class: 'state' }),
      restarts: el('span', { class: 'restarts' }),
      uptime: el('span', { class: 'uptime' }),
    };
    const name = el('span', { class: 'name' }, node.id);
    const element = el(
      'li',
      { class: `actor ${node.type}`, 'data-path': node.path },
      el('div', { class: 'row' }, name, el('span', { class: 'strategy' }, node.strategy ?? ''), fields.status, fields.state, fields.restarts, fields.uptime),
    );
    if (node.machine && known.has(node.machine)) {
      name.classList.add('link');
      name.dataset.machine = node.machine;
      name.title = `open the ${node.machine} machine`;
      name.addEventListener('click', () => navigate(`machines/${node.machine}`));
    }
    // A restart of the last few seconds flashes in a view opened just after it; an older one does not.
    const restarted = live.restartedAt.get(node.path) ?? 0;
    rows.set(node.path, { element, fields, flashedAt: Date.now() - restarted < FLASH_MS ? 0 : restarted });
    if (node.children && node.children.length > 0) element.append(el('ul', {}, ...node.children.map((child) => row({ ...child, path: `${node.path}/${child.id}` }))));
    return element;
  };

  const draw = () => {
    const tree = live.tree;
    if (!tree) return;
    const nodes = flatten(tree.tree);
    const nextShape = `${[...known].join(',')}|${nodes.map((node) => node.path).join('\n')}`;
    if (nextShape !== shape) {
      shape = nextShape;
      rows.clear();
      replace(list, row({ ...tree.tree, path: tree.tree.id }));
    }
    receivedAt = Date.now();
    for (const node of nodes) {
      const found = rows.get(node.path);
      if (!found) continue;
      const actor = live.actors.get(node.path);
      found.fields.status.textContent = node.status;
      found.fields.state.textContent = actor?.state ?? node.state;
      found.fields.restarts.textContent = `${node.restarts} restart${node.restarts === 1 ? '' : 's'}`;
      found.fields.uptime.textContent = duration(node.uptimeMs);
      found.fields.uptime.dataset.uptimeMs = String(node.uptimeMs);
      found.element.dataset.status = node.status;
      const restarted = live.restartedAt.get(node.path) ?? 0;
      if (restarted > found.flashedAt) {
        found.flashedAt = restarted;
        // The animation runs again only when the class comes back after a style recalculation.
        found.element.classList.remove('flash');
        void found.element.offsetWidth;
        found.element.classList.add('flash');
      }
    }
    summary.textContent = `${nodes.length} actors · orchestra pid ${tree.pid} · up ${duration(tree.uptimeMs)}`;
  };

  const tick = setInterval(() => {
    const elapsed = Date.now() - receivedAt;
    for (const { fields } of rows.values()) {
      const base = Number(fields.uptime.dataset.uptimeMs);
      if (base > 0) fields.uptime.textContent = duration(base + elapsed);
    }
  }, 1_000);
  const unsubscribe = live.subscribe((change) => {
    if (change.kind === 'tree') draw();
    else if (change.kind === 'record' && change.record.kind === 'snapshot') {
      const found = rows.get(change.record.actor);
      if (found) found.fields.state.textContent = change.record.state;
    }
  });
  draw();
  return () => {
    clearInterval(tick);
    unsubscribe();
  };
};
