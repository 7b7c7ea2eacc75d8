/**
 * An agent's output, persisted: `<dir>/<agentId>/<YYYY-MM-DD>.log` (UTC days), one file per agent
 * per day, rotated by size to `<day>.log.1`, `.2` … (the newest rotated file is `.1`; older
 * ones beyond `maxFiles` are dropped). Days older than `retention.days` are deleted
 * (`removeOldPaneLogDays`, swept by the workspace actor).
 *
 * Lines are the agent's output as it printed them. Task boundaries are single lines that a later
 * indexer can find without reading anything else:
 *
 *   === miyabi task start {"taskId":"t-1","issue":3,"role":"codegen","attempt":1,"at":"2025-01-02T03:04:05.000Z"} ===
 *   === miyabi task end {"taskId":"t-1","issue":3,"status":"success","durationMs":5120,"at":"…"} ===
 *
 * The JSON holds no newline, so a marker is always one line. An output line that starts like a
 * marker (`=== miyabi`) is written with a leading backslash, so an agent cannot forge one.
 *
 * Writes are synchronous (`writeSync` on a file opened for append): a line is on disk when the
 * call returns, and nothing is lost at exit. Only a partial line (output without its newline
 * yet, given to `write`) waits in memory, until its newline, the next marker, `flush()` or
 * `close()`. `close()` releases the file; a later write opens it again. One writer per agent:
 * the size that decides rotation is counted in this process. A line the file cannot take (a full
 * disk) is dropped, counted and said once, never thrown into the runner (../os/lossy-append.ts).
 */
import { closeSync, fstatSync, mkdirSync, openSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { z } from 'zod';
import { ErrorCodes, MiyabiError } from '../../errors.ts';
import { LossyAppend, type SayOutage } from '../os/lossy-append.ts';
import { shiftRotatedFiles } from '../os/rotated-files.ts';

export interface PaneLogOptions {
  /** Root of the pane logs, e.g. `<dataDir>/logs/panes`. */
  dir: string;
  /** A plain name (letters, digits, `.`, `_`, `-`): the agent's directory. */
  agentId: string;
  /** A file reaching this size is rotated before the next line. */
  maxBytes: number;
  /** Rotated files kept per day. Default 5. */
  maxFiles?: number;
  /** Epoch milliseconds. Default Date.now. */
  clock?: () => number;
  /** Where a file that stops taking lines is said (and its recovery). Default: stderr. */
  sayOutage?: SayOutage;
}

export const MARKER_PREFIX = '=== miyabi task ';
const MARKER_SUFFIX = ' ===';

const taskStartSchema = z.object({
  taskId: z.string(),
  issue: z.number().int(),
  role: z.string(),
  attempt: z.number().int(),
});
const taskEndSchema = z.object({
  taskId: z.string(),
  issue: z.number().int(),
  status: z.string(),
  durationMs: z.number(),
});

export type TaskStart = z.infer<typeof taskStartSchema>;
export type TaskEnd = z.infer<typeof taskEndSchema>;
export type TaskMarker = ({ kind: 'start' } & TaskStart & { at: string }) | ({ kind: 'end' } & TaskEnd & { at: string });

/** The marker a line holds, or undefined for an output line. */
export function parseMarker(line: string): TaskMarker | undefined {
  for (const kind of ['start', 'end'] as const) {
    const head = `${MARKER_PREFIX}${kind} `;
    if (!line.startsWith(head) || !line.endsWith(MARKER_SUFFIX)) continue;
    let json: unknown;
    try {
      json = JSON.parse(line.slice(head.length, -MARKER_SUFFIX.length));
    } catch {
      return undefined;
    }
    const schema = (kind === 'start' ? taskStartSchema : taskEndSchema).extend({ at: z.string() });
    const parsed = schema.safeParse(json);
    return parsed.success ? ({ kind, ...parsed.data } as TaskMarker) : undefined;
  }
  return undefined;
}

function utcDay(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 10);
}

export class PaneLog {
  readonly agentDir: string;
  private readonly maxBytes: number;
  private readonly maxFiles: number;
  private readonly clock: () => number;
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';
  private fd: number | undefined;
  private day = '';
  private size = 0;
  private readonly lossy: LossyAppend;

  constructor(options: PaneLogOptions) {
    if (!/^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(options.agentId)) {
      throw new MiyabiError(ErrorCodes.InvalidArgument, `agent id ${JSON.stringify(options.agentId)} is not a plain name`);
    }
    if (!(options.maxBytes > 0)) throw new MiyabiError(ErrorCodes.InvalidArgument, 'maxBytes must be positive');
    this.agentDir = path.join(options.dir, options.agentId);
    this.maxBytes = options.maxBytes;
    this.maxFiles = Math.max(0, options.maxFiles ?? 5);
    this.clock = options.clock ?? Date.now;
    this.lossy = new LossyAppend(this.agentDir, options.sayOutage);
  }

  /** Lines dropped because the file could not take them. */
  get dropped(): number {
    return this.lossy.dropped;
  }

  /** The file today's lines go to. */
  get path(): string {
    return this.fileOf(utcDay(this.clock()));
  }

  /** Raw output: complete lines are written now, a trailing partial line when it completes. */
  write(chunk: string | Uint8Array): void {
    const text = this.partial + (typeof chunk === 'string' ? chunk : this.decoder.write(chunk));
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) this.append(escapeOutput(line.endsWith('\r') ? line.slice(0, -1) : line));
  }

  /** One or more complete lines of output (one trailing newline is not an extra empty line). */
  line(text: string): void {
    this.flushPartial();
    for (const line of text.replace(/\r?\n$/, '').split('\n')) this.append(escapeOutput(line.replace(/\r$/, '')));
  }

  taskStart(task: TaskStart): void {
    this.marker('start', taskStartSchema.parse(task));
  }

  taskEnd(task: TaskEnd): void {
    this.marker('end', taskEndSchema.parse(task));
  }

  /** Writes a pending partial line (as a line of its own). */
  flush(): void {
    this.flushPartial();
  }

  /** Flushes and releases the file. */
  close(): void {
    this.flushPartial();
    this.release();
  }

  private marker(kind: 'start' | 'end', fields: TaskStart | TaskEnd): void {
    this.flushPartial();
    const at = new Date(this.clock()).toISOString();
    this.append(`${MARKER_PREFIX}${kind} ${JSON.stringify({ ...fields, at })}${MARKER_SUFFIX}`);
  }

  private flushPartial(): void {
    const rest = this.partial + this.decoder.end();
    this.partial = '';
    if (rest !== '') this.append(escapeOutput(rest));
  }

  private append(line: string): void {
    const bytes = Buffer.from(`${line}\n`);
    const ready = () => {
      const day = utcDay(this.clock());
      if (day !== this.day || this.fd === undefined) this.open(day);
      if (this.size > 0 && this.size + bytes.length > this.maxBytes) this.rotate();
      return this.fd!;
    };
    // Not `this.size += …`: that reads the size before a rotation inside \`append\` resets it.
    const written = this.lossy.append(ready, bytes, () => this.release()) ?? 0;
    this.size += written;
  }

  private release(): void {
    const fd = this.fd;
    this.fd = undefined;
    this.day = '';
    if (fd !== undefined) closeSync(fd);
  }

  private open(day: string): void {
    this.release();
    mkdirSync(this.agentDir, { recursive: true, mode: 0o700 });
    this.fd = openSync(this.fileOf(day), 'a', 0o600);
    this.day = day;
    this.size = fstatSync(this.fd).size;
  }

  /** `.log` → `.log.1` → `.log.2` …; the one past maxFiles is dropped. */
  private rotate(): void {
    const day = this.day;
    this.release();
    shiftRotatedFiles(this.fileOf(day), this.maxFiles);
    this.open(day);
  }

  private fileOf(day: string): string {
    return path.join(this.agentDir, `${day}.log`);
  }
}

const DAY_FILE = /^(\d{4}-\d{2}-\d{2})\.log(?:\.\d+)?$/;

/**
 * Retention of the agents' output: every agent's day files (and their rotated parts) of days
 * more than `keepDays` before today (UTC) are deleted; today's file is always kept. Returns the
 * files removed.
 */
export async function removeOldPaneLogDays(dir: string, keepDays: number, now: number = Date.now()): Promise<number> {
  const oldestKept = utcDay(now - keepDays * 86_400_000);
  let removed = 0;
  for (const agent of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (!agent.isDirectory()) continue;
    const agentDir = path.join(dir, agent.name);
    for (const name of await readdir(agentDir).catch(() => [] as string[])) {
      const day = DAY_FILE.exec(name)?.[1];
      if (day === undefined || day >= oldestKept) continue;
      await rm(path.join(agentDir, name), { force: true });
      removed += 1;
    }
  }
  return removed;
}

/** An output line that starts like a marker gets a leading backslash. */
function escapeOutput(line: string): string {
  return line.startsWith('=== miyabi') ? `\\${line}` : line;
}
