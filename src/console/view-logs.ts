/**
 * The Logs view: a search box over the log index (/api/logs, what `logs search --json` answers):
 * words or FTS5 syntax, filtered by issue, agent, task and time. Each hit shows its time, file
 * and line, its issue, task and agent, and its snippet with the matched words marked — as text
 * nodes, never as HTML.
 */
import { getJson, type LogHit, type LogsReply } from './api.ts';
import { el, replace } from './dom.ts';
import type { View } from './view.ts';

/** The snippet as text and <mark> elements, from its highlight ranges. */
export function snippetNodes(hit: Pick<LogHit, 'snippet' | 'highlights'>): Array<Node> {
  const nodes: Node[] = [];
  let at = 0;
  for (const [start, end] of [...hit.highlights].sort((a, b) => a[0] - b[0])) {
    if (start < at) continue;
    if (start > at) nodes.push(document.createTextNode(hit.snippet.slice(at, start)));
    nodes.push(el('mark', {}, hit.snippet.slice(start, end)));
    at = end;
  }
  if (at < hit.snippet.length) nodes.push(document.createTextNode(hit.snippet.slice(at)));
  return nodes;
}

export const logsView: View = (root) => {
  const field = (name: string, placeholder: string, size = '8') => el('input', { name, id: `logs-${name}`, placeholder, size });
  const query = el('input', { name: 'q', id: 'logs-q', placeholder: 'words, "a phrase", word*, AND / OR / NOT', size: '40' });
  const issue = field('issue', 'issue');
  const agent = field('agent', 'agent');
  const task = field('task', 'task');
  const since = field('since', 'since: 30m, 2h, 7d or a date', '14');
  const form = el('form', { class: 'logs-form', id: 'logs-form' }, query, issue, agent, task, since, el('button', { type: 'submit' }, 'Search'));
  const summary = el('p', { class: 'summary', id: 'logs-summary' });
  const results = el('ol', { class: 'hits', id: 'logs-hits' });
  replace(root, el('h2', {}, 'Logs'), form, summary, results);
  let stopped = false;

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const params = new URLSearchParams();
    for (const input of [query, issue, agent, task, since]) if (input.value.trim() !== '') params.set(input.name, input.value.trim());
    params.set('limit', '50');
    summary.textContent = 'searching…';
    summary.classList.remove('error');
    getJson<LogsReply>(`/api/logs?${params.toString()}`).then(
      (reply) => {
        if (stopped) return;
        summary.textContent = `${reply.hits.length} hit${reply.hits.length === 1 ? '' : 's'}${reply.windowFull ? ` (ranked among the newest ${reply.ranked} matching lines: narrow the search to reach older ones)` : ''}`;
        replace(
          results,
          ...reply.hits.map((hit) =>
            el(
              'li',
              { class: `hit ${hit.level ?? ''}` },
              el('div', { class: 'where' }, `${hit.time}  ${hit.file}:${hit.line}`, [hit.issue === undefined ? '' : `  #${hit.issue}`, hit.taskId ?? '', hit.agent ?? '', hit.level ?? ''].filter(Boolean).join('  ')),
              el('div', { class: 'snippet' }, ...snippetNodes(hit)),
            ),
          ),
        );
      },
      (error: unknown) => {
        if (stopped) return;
        summary.textContent = error instanceof Error ? error.message : String(error);
        summary.classList.add('error');
        results.replaceChildren();
      },
    );
  });
  return () => {
    stopped = true;
  };
};
