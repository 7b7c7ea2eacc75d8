/**
 * `GET /api/logs?q=&issue=&agent=&task=&since=&limit=`: the log index searched (src/logs), the
 * answer exactly what `logs search --json` prints: `{ query, hits, ranked, windowFull, indexed }`.
 *
 * The search runs as that command, in a process of its own, as the log indexer's updates do
 * (./log-indexer.ts): `searchLogs()` brings the index up to date before it searches, synchronous
 * SQLite work that may take long after a burst of output, and in the daemon it would hold up the
 * event loop (the bus, the watchdogs, every other console client). The command also checks the
 * parameters as it checks its flags: what it refuses (exit 2) is a 400 with its reason.
 * At most MAX_SEARCHES run at once; past that, 429.
 */
import { execa } from 'execa';
import { cliArgv } from './log-indexer.ts';
import type { OrchestraResources } from './resources.ts';

type Answer = { status: number; body: unknown };

const MAX_SEARCHES = 2;
const SEARCH_TIMEOUT_MS = 60_000;
const FLAGS = [
  ['issue', '--issue'],
  ['agent', '--agent'],
  ['task', '--task'],
  ['since', '--since'],
  ['limit', '--limit'],
] as const;

let running = 0;

export async function logsSearchAnswer(resources: OrchestraResources, url: URL): Promise<Answer> {
  const query = url.searchParams.get('q') ?? '';
  const flags = FLAGS.flatMap(([param, flag]) => {
    const value = url.searchParams.get(param);
    return value === null || value === '' ? [] : [`${flag}=${value}`];
  });
  if (running >= MAX_SEARCHES) return { status: 429, body: { error: 'busy', message: `${MAX_SEARCHES} log searches are running: try again when one is done` } };
  running += 1;
  try {
    const [node, ...args] = cliArgv(resources.configPath, ['logs', 'search', '--json', ...flags], query.trim() === '' ? [] : [query]);
    const result = await execa(node!, args, { reject: false, stdin: 'ignore', timeout: SEARCH_TIMEOUT_MS, cleanup: true, maxBuffer: 32 * 1024 * 1024 });
    const said = resources.redact(String(result.stderr).trim().split('\n').slice(-5).join('\n'));
    if (result.exitCode === 0) return { status: 200, body: JSON.parse(String(result.stdout)) };
    if (result.exitCode === 2) return { status: 400, body: { error: 'invalid_search', message: said } };
    if (/no logs to search/.test(said)) return { status: 200, body: { query, hits: [], ranked: 0, windowFull: false, message: said } };
    return { status: 500, body: { error: 'logs_search_failed', message: said || `logs search ended with ${result.exitCode ?? result.signal}` } };
  } finally {
    running -= 1;
  }
}
