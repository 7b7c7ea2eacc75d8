/**
 * The Queues and agents view: per role the waiting tasks (in the order they would start), the
 * tasks in flight and the agents, busy or idle (/api/queues, read again as the actors change);
 * clicking an agent tails its output (/api/agents/<id>/output, its pane log), live.
 */
import { getJson, type OutputReply, type QueuesReply } from './api.ts';
import { duration, el, replace } from './dom.ts';
import type { View } from './view.ts';

const TAIL_EVERY_MS = 1_000;
const TAIL_KEPT = 500;

export const queuesView: View = (root, { live, argument }) => {
  const roles = el('div', { class: 'roles', id: 'roles' }, 'loading…');
  const tailTitle = el('h3', {}, 'Agent output');
  const tail = el('pre', { class: 'tail', id: 'agent-output' });
  replace(root, el('h2', {}, 'Queues and agents'), roles, el('section', { class: 'output' }, tailTitle, tail));
  let stopped = false;
  let pending: ReturnType<typeof setTimeout> | undefined;
  let tailTimer: ReturnType<typeof setTimeout> | undefined;

  const draw = (reply: QueuesReply) => {
    const now = Date.now();
    replace(
      roles,
      ...reply.roles.map((role) =>
        el(
          'section',
          { class: 'role', 'data-role': role.role },
          el('h3', {}, `${role.role} · capacity ${role.capacity}`),
          el('h4', {}, `waiting (${role.waiting.length})`),
          el('ul', { class: 'waiting' }, ...role.waiting.map((task) => el('li', {}, `#${task.issue} P${task.priority} · waiting ${duration(now - task.enqueuedAt)}`))),
          el('h4', {}, `in flight (${role.running.length})`),
          el('ul', { class: 'running' }, ...role.running.map((task) => el('li', {}, `#${task.issue}${task.stage ? ` ${task.stage}` : ''}${task.agent ? ` on ${task.agent}` : ''}${task.since ? ` · ${duration(now - task.since)}` : ''}`))),
          el('h4', {}, 'agents'),
          el(
            'ul',
            { class: 'agents' },
            ...role.agents.map((agent) => {
              const link = el('a', { href: `#queues/${encodeURIComponent(agent.id)}`, class: agent.busy ? 'busy' : 'idle', 'data-agent': agent.id }, agent.id);
              return el('li', {}, link, ` ${agent.busy ? 'busy' : 'idle'} · ${agent.state}`);
            }),
          ),
        ),
      ),
    );
    if (reply.roles.length === 0) roles.append(el('p', { class: 'muted' }, 'no role configured'));
  };
  const load = () =>
    getJson<QueuesReply>('/api/queues').then(
      (reply) => !stopped && draw(reply),
      (error: unknown) => !stopped && replace(roles, el('p', { class: 'error' }, `queues unavailable: ${error instanceof Error ? error.message : String(error)}`)),
    );
  const reload = () => {
    if (pending !== undefined) return;
    pending = setTimeout(() => {
      pending = undefined;
      void load();
    }, 300);
  };

  // The output of the agent in the address (`#queues/codegen-1`), from where its log file is now.
  if (argument !== undefined) {
    tailTitle.textContent = `Output of ${argument}`;
    let file: string | null = null;
    let offset = 0;
    const lines: string[] = [];
    const poll = async () => {
      const query = file === null ? '?lines=200' : `?file=${encodeURIComponent(file)}&offset=${offset}`;
      try {
        const reply = await getJson<OutputReply>(`/api/agents/${encodeURIComponent(argument)}/output${query}`);
        if (stopped) return;
        if (reply.file !== file) lines.length = 0;
        file = reply.file;
        offset = reply.offset;
        lines.push(...reply.lines);
        lines.splice(0, Math.max(0, lines.length - TAIL_KEPT));
        tail.textContent = file === null ? '(no output yet)' : lines.join('\n');
        tail.scrollTop = tail.scrollHeight;
      } catch (error) {
        if (!stopped) tail.textContent = `output unavailable: ${error instanceof Error ? error.message : String(error)}`;
      }
      if (!stopped) tailTimer = setTimeout(() => void poll(), TAIL_EVERY_MS);
    };
    void poll();
  } else {
    tail.textContent = 'click an agent to follow its output';
  }

  void load();
  const unsubscribe = live.subscribe((change) => {
    if (change.kind === 'tree' || (change.kind === 'record' && (change.record.kind === 'issue' || change.record.machine === 'agent-pane'))) reload();
  });
  return () => {
    stopped = true;
    clearTimeout(pending);
    clearTimeout(tailTimer);
    unsubscribe();
  };
};
