/**
 * A search of the index: FTS5 finds the lines that match the query and the filters (issue, agent
 * and task are terms of the same FTS5 query, `--since` a rowid bound and a time check); the
 * newest `SEARCH_WINDOW` of them are read back from their log files, ranked by relevance
 * (relevance.ts), then time, newest first; the best `limit` are returned with a snippet.
 *
 * Newest first, then ranked: a query that matches a million lines is answered from the newest
 * matches in a time that does not grow with the logs, and `windowFull` says more matched —
 * narrow the search with a filter to reach older lines.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import path from 'node:path';
import { ErrorCodes, MiyabiError } from '../errors.ts';
import { tagsOf } from './index-writer.ts';
import { lineFields, MAX_TEXT } from './lines.ts';
import { highlights, queryTerms, scores } from './relevance.ts';
import type { SourceKind } from './sources.ts';
import type { IndexDatabase } from './store.ts';

export interface LogSearch {
  /** FTS5 query syntax: words, "a phrase", word*, AND / OR / NOT, NEAR(…). May be empty with a filter. */
  query: string;
  issue?: number;
  agent?: string;
  taskId?: string;
  /** Epoch milliseconds: lines at or after. */
  since?: number;
  /** Hits returned (default 20). */
  limit?: number;
}

export interface LogHit {
  /** The log file, relative to the logs directory. */
  file: string;
  /** 1-based line number in that file. */
  line: number;
  /** Byte offset of the line in that file. */
  offset: number;
  /** ISO time of the line (an agent's output: its task's start). */
  time: string;
  issue?: number;
  taskId?: string;
  agent?: string;
  stage?: string;
  level?: string;
  /** The line as searched: a pino line as its message and `key=value` fields. */
  text: string;
  /** At most SNIPPET_CHARS of the text around the first match… */
  snippet: string;
  /** …and the character ranges of the snippet that matched a word of the query. */
  highlights: Array<[number, number]>;
  score: number;
}

export interface LogSearchResult {
  hits: LogHit[];
  /** Matching lines ranked (the newest ones, at most SEARCH_WINDOW). */
  ranked: number;
  /** True when SEARCH_WINDOW lines were ranked: older lines may match too. */
  windowFull: boolean;
}

export const SEARCH_WINDOW = 1_000;
const SNIPPET_CHARS = 240;
const FIRST_READ = 1024;

interface CandidateRow {
  id: number;
  line: number;
  offset: number;
  time: number;
  issue: number | null;
  task: string | null;
  agent: string | null;
  stage: string | null;
  level: string | null;
  name: string;
  kind: SourceKind;
  fileAgent: string | null;
}

/** A query whose parentheses outside quotes never close more than they opened: safe to wrap in `( … )`. */
function balanced(query: string): boolean {
  let depth = 0;
  const outsideQuotes = query.replace(/"(?:[^"]|"")*"?/g, '""');
  for (const char of outsideQuotes) {
    if (char === '(') depth += 1;
    if (char === ')' && --depth < 0) return false;
  }
  return depth === 0;
}

function invalid(query: string, reason: string): MiyabiError {
  return new MiyabiError(
    ErrorCodes.LogQueryInvalid,
    `cannot search for ${JSON.stringify(query)}: ${reason} (FTS5 query syntax: words, "a phrase", word*, AND, OR, NOT; put text with punctuation, like a task id, in double quotes)`,
  );
}

/**
 * The FTS5 MATCH expression: the query, and each filter as a term of the `tags` column; undefined
 * when a filter names an agent or task the index has never seen (nothing can match).
 */
export function matchExpression(db: IndexDatabase, search: LogSearch): string | undefined {
  const query = search.query.trim();
  if (query !== '' && !balanced(query)) throw invalid(query, 'unbalanced parentheses');
  if (query === '' && search.issue === undefined && search.agent === undefined && search.taskId === undefined) {
    throw invalid(query, 'give words to search for, or --issue, --agent or --task');
  }
  const idOf = (name: string | undefined) => (name === undefined ? undefined : ((db.prepare('SELECT id FROM names WHERE name = ?').pluck().get(name) as number | undefined) ?? -1));
  const agent = idOf(search.agent);
  const task = idOf(search.taskId);
  if (agent === -1 || task === -1) return undefined;
  const tags = tagsOf({ issue: search.issue, agent, task });
  return [...(query === '' ? [] : [`(${query})`]), ...tags.split(' ').filter((tag) => tag !== '').map((tag) => `tags:${tag}`)].join(' AND ');
}

export function searchIndex(db: IndexDatabase, logsDir: string, search: LogSearch): LogSearchResult {
  const expression = matchExpression(db, search);
  if (expression === undefined) return { hits: [], ranked: 0, windowFull: false };
  const since = search.since ?? -Infinity;
  let lowest = 0;
  if (search.since !== undefined) {
    const bound = db.prepare('SELECT min(first) AS lowest FROM spans WHERE max_time >= ?').get(search.since) as { lowest: number | null };
    if (bound.lowest === null) return { hits: [], ranked: 0, windowFull: false };
    lowest = bound.lowest;
  }
  let rows: CandidateRow[];
  try {
    rows = db
      .prepare(
        `SELECT l.id, l.line, l.offset, l.time, l.issue, task.name AS task, agent.name AS agent, stage.name AS stage,
           level.name AS level, f.name, f.kind, f.agent AS fileAgent
         FROM search JOIN lines l ON l.id = search.rowid JOIN files f ON f.id = l.file
           LEFT JOIN names task ON task.id = l.task LEFT JOIN names agent ON agent.id = l.agent
           LEFT JOIN names stage ON stage.id = l.stage LEFT JOIN names level ON level.id = l.level
         WHERE search MATCH ? AND search.rowid >= ? AND l.time >= ?
         ORDER BY search.rowid DESC LIMIT ?`,
      )
      .all(expression, lowest, since === -Infinity ? Number.MIN_SAFE_INTEGER : since, SEARCH_WINDOW) as CandidateRow[];
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (/^(fts5:|no such column|unknown special query)/.test(message)) throw invalid(search.query.trim(), message);
    throw error;
  }
  const lines = new LineReader(logsDir);
  let texts: string[];
  try {
    texts = rows.map((row) => lines.text(row));
  } finally {
    lines.close();
  }
  const terms = queryTerms(search.query);
  const scored = scores(texts, terms).map((score, index) => ({ score, index }));
  scored.sort((a, b) => b.score - a.score || rows[b.index]!.time - rows[a.index]!.time || rows[b.index]!.id - rows[a.index]!.id);
  const hits = scored.slice(0, search.limit ?? 20).map(({ score, index }) => hit(rows[index]!, texts[index]!, score, terms));
  return { hits, ranked: rows.length, windowFull: rows.length === SEARCH_WINDOW };
}

function hit(row: CandidateRow, text: string, score: number, terms: ReturnType<typeof queryTerms>): LogHit {
  const ranges = highlights(text, terms);
  let start = 0;
  if (text.length > SNIPPET_CHARS && ranges.length > 0) start = Math.max(0, Math.min(ranges[0]![0] - 60, text.length - SNIPPET_CHARS));
  const end = Math.min(text.length, start + SNIPPET_CHARS);
  const lead = start > 0 ? '…' : '';
  const snippet = `${lead}${text.slice(start, end)}${end < text.length ? '…' : ''}`;
  const shift = lead.length - start;
  const shown = ranges.filter(([from, to]) => from >= start && to <= end).map(([from, to]): [number, number] => [from + shift, to + shift]);
  return {
    file: row.name,
    line: row.line,
    offset: row.offset,
    time: new Date(row.time).toISOString(),
    ...(row.issue === null ? {} : { issue: row.issue }),
    ...(row.task === null ? {} : { taskId: row.task }),
    ...(row.agent === null ? {} : { agent: row.agent }),
    ...(row.stage === null ? {} : { stage: row.stage }),
    ...(row.level === null ? {} : { level: row.level }),
    text,
    snippet,
    highlights: shown,
    score: Math.round(score * 1000) / 1000,
  };
}

/** Reads indexed lines back from their files (the index keeps no text), one descriptor per file. */
class LineReader {
  private readonly open = new Map<string, number | undefined>();
  private readonly buffer = Buffer.alloc(MAX_TEXT * 4 + 1);
  constructor(private readonly logsDir: string) {}

  text(row: CandidateRow): string {
    const fd = this.fd(row.name);
    if (fd === undefined) return '';
    // Most lines are short: read a little, and the rest only for a long one.
    let read = readSync(fd, this.buffer, 0, FIRST_READ, row.offset);
    let newline = this.buffer.subarray(0, read).indexOf(10);
    if (newline === -1 && read === FIRST_READ) {
      read += readSync(fd, this.buffer, read, this.buffer.length - read, row.offset + read);
      newline = this.buffer.subarray(0, read).indexOf(10);
    }
    let end = newline === -1 ? read : newline;
    if (end > 0 && this.buffer[end - 1] === 13) end -= 1;
    const raw = this.buffer.toString('utf8', 0, end);
    return lineFields(row.kind, raw, row.fileAgent ?? undefined, { time: row.time }).fields.text;
  }

  close(): void {
    for (const fd of this.open.values()) if (fd !== undefined) closeSync(fd);
    this.open.clear();
  }

  private fd(name: string): number | undefined {
    if (!this.open.has(name)) {
      let fd: number | undefined;
      try {
        fd = openSync(path.join(this.logsDir, name), 'r');
        if (!fstatSync(fd).isFile()) {
          closeSync(fd);
          fd = undefined;
        }
      } catch {
        fd = undefined;
      }
      this.open.set(name, fd);
    }
    return this.open.get(name);
  }
}
