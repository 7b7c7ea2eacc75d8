/**
 * `logs search QUERY [--issue N] [--agent ID] [--task ID] [--since T] [--limit N] [--json]`: the
 * orchestra's log, the runners' logs and the agents' output, searched through the index
 * `<dataDir>/logs/index.sqlite` (src/logs), brought up to date first. Works whether or not the
 * orchestra runs.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, MiyabiError } from '../../errors.ts';
import { inert } from '../../inert-text.ts';
import { LogIndex, searchLogs, type LogHit, type LogSearch } from '../../logs/log-index.ts';
import { SEARCH_WINDOW } from '../../logs/search.ts';
import { loadConfigOrExit } from '../connect.ts';
import { CliExit, ExitCode } from '../output.ts';

export interface LogsSearchFlags {
  config?: string;
  issue?: string;
  agent?: string;
  task?: string;
  since?: string;
  limit?: string;
  json?: boolean;
}

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `--since`: a duration back from now (`30m`, `2h`, `7d`) or an ISO date or time. */
export function parseSince(value: string, now = Date.now()): number {
  const relative = /^(\d+)([smhd])$/.exec(value);
  if (relative) return now - Number(relative[1]) * UNITS[relative[2]!]!;
  if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value)) {
    const time = Date.parse(value.length === 10 ? `${value}T00:00:00Z` : value);
    if (Number.isFinite(time)) return time;
  }
  throw new CliExit(ExitCode.invalid, `--since ${JSON.stringify(value)}: expected a duration like 30m, 2h or 7d, or an ISO date or time like 2025-01-02T03:04:05Z`);
}

function positiveInteger(flag: string, value: string, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max) {
    throw new CliExit(ExitCode.invalid, `--${flag} ${JSON.stringify(value)}: expected a whole number from 1 to ${max === Number.MAX_SAFE_INTEGER ? 'up' : max}`);
  }
  return Number(value);
}

function plainName(flag: string, value: string): string {
  if (!/^[A-Za-z0-9_.:-]+$/.test(value)) throw new CliExit(ExitCode.invalid, `--${flag} ${JSON.stringify(value)}: expected an id (letters, digits, . _ : -)`);
  return value;
}

export function logsSearchRequest(words: readonly string[], flags: LogsSearchFlags): LogSearch {
  const request: LogSearch = { query: words.join(' ') };
  if (flags.issue !== undefined) request.issue = positiveInteger('issue', flags.issue);
  if (flags.agent !== undefined) request.agent = plainName('agent', flags.agent);
  if (flags.task !== undefined) request.taskId = plainName('task', flags.task);
  if (flags.since !== undefined) request.since = parseSince(flags.since);
  request.limit = flags.limit === undefined ? 20 : positiveInteger('limit', flags.limit, SEARCH_WINDOW);
  if (request.query.trim() === '' && request.issue === undefined && request.agent === undefined && request.taskId === undefined) {
    throw new CliExit(ExitCode.invalid, 'logs search: give a QUERY (or --issue, --agent or --task)\n\nusage: miyabi-orchestra logs search QUERY [--issue N] [--agent ID] [--task ID] [--since T] [--limit N] [--json]');
  }
  return request;
}

function renderHit(hit: LogHit): string {
  const link = [hit.issue === undefined ? undefined : `#${hit.issue}`, hit.taskId, hit.agent].filter((part) => part !== undefined).join(' ');
  return `${hit.time}  ${hit.file}:${hit.line}${link === '' ? '' : `  ${inert(link)}`}${hit.level === undefined ? '' : `  ${hit.level}`}\n    ${inert(hit.snippet)}`;
}

export async function logsSearch(words: readonly string[], flags: LogsSearchFlags): Promise<number> {
  const request = logsSearchRequest(words, flags);
  const loaded = await loadConfigOrExit(flags.config);
  const logsDir = join(loaded.config.dataDir, 'logs');
  if (!existsSync(logsDir)) throw new CliExit(ExitCode.failure, `no logs to search: ${logsDir} does not exist (has the orchestra run with this config?)`);
  let result;
  try {
    result = searchLogs(logsDir, request);
  } catch (error) {
    if (error instanceof MiyabiError && error.code === ErrorCodes.LogQueryInvalid) throw new CliExit(ExitCode.invalid, error.message);
    throw new CliExit(ExitCode.failure, `cannot search the logs in ${logsDir}: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (flags.json) {
    const { update, ...found } = result;
    process.stdout.write(`${JSON.stringify({ query: request.query, ...found, indexed: update }, null, 2)}\n`);
    return ExitCode.ok;
  }
  const out = result.hits.map(renderHit);
  if (result.hits.length === 0) out.push(`no line matches (${result.update.files} log file(s) indexed in ${logsDir})`);
  else if (result.windowFull) out.push(`(ranked among the newest ${result.ranked} matching lines; narrow with --issue, --agent, --task or --since to reach older ones)`);
  process.stdout.write(`${out.join('\n')}\n`);
  return ExitCode.ok;
}

/**
 * `logs index`: brings the index up to date and prints what it read as one JSON line. The running
 * orchestra runs it every `log.index.intervalMs` (src/actors/log-indexer.ts), in a process of its
 * own so that a long first indexing never holds up the daemon's event loop.
 */
export async function logsIndex(flags: { config?: string }): Promise<number> {
  const loaded = await loadConfigOrExit(flags.config);
  const logsDir = join(loaded.config.dataDir, 'logs');
  if (!existsSync(logsDir)) throw new CliExit(ExitCode.failure, `no logs to index: ${logsDir} does not exist (has the orchestra run with this config?)`);
  const index = LogIndex.open(logsDir);
  try {
    process.stdout.write(`${JSON.stringify(index.update())}\n`);
  } finally {
    index.close();
  }
  return ExitCode.ok;
}
