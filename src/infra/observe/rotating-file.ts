/**
 * A log file that rotates itself, by size and by age: the destination of `orchestra.log` and of
 * each runner's log (`logs/runners/<agent>.log`).
 *
 * Why in-process and not `pino-roll` or logrotate: the orchestra's log lines are written
 * synchronously (a line logged before exit is on disk when the call returns), and scrubbed of
 * secrets before any destination sees them. `pino-roll` is a pino transport: it runs in a worker
 * thread, asynchronously, and would need a new dependency for what fifty lines do here. logrotate
 * (reopen on SIGHUP) needs a signal sent to every runner process too, and a host rule an operator
 * must remember; this file needs neither, and works the same under systemd, tmux and tests.
 *
 * - `file` is the current file; a rotated one is `file.1` (newest) … `file.<maxFiles>` (oldest);
 *   the one past `maxFiles` is deleted. So the disk it takes is at most
 *   `(maxFiles + 1) × maxBytes` (plus one line).
 * - It rotates before a line that would take it past `maxBytes`, and before a line written when
 *   the file was begun more than `maxAgeMs` ago (its birth time on disk when the file system
 *   keeps one, else when this process opened it).
 * - Writes are `writeSync` on a file opened for append; one process writes a file at a time (the
 *   orchestra its own, each runner its agent's).
 * - A line the file cannot take (a full disk) is dropped, counted and said once, never thrown
 *   into whoever logged (../os/lossy-append.ts).
 */
import { closeSync, fstatSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import { LossyAppend, type SayOutage } from '../os/lossy-append.ts';
import { shiftRotatedFiles } from '../os/rotated-files.ts';

export interface RotatingFileOptions {
  file: string;
  /** A file reaching this size is rotated before the next line. */
  maxBytes: number;
  /** A file begun longer ago than this is rotated before the next line. */
  maxAgeMs: number;
  /** Rotated files kept (`file.1` … `file.<maxFiles>`). */
  maxFiles: number;
  /** Epoch milliseconds. Default Date.now. */
  clock?: () => number;
  /** Where a file that stops taking lines is said (and its recovery). Default: stderr. */
  sayOutage?: SayOutage;
}

export class RotatingFile {
  private fd: number | undefined;
  private size = 0;
  private begunAt = 0;
  private readonly clock: () => number;
  private readonly lossy: LossyAppend;

  constructor(private readonly options: RotatingFileOptions) {
    this.clock = options.clock ?? Date.now;
    this.lossy = new LossyAppend(options.file, options.sayOutage);
  }

  /** Lines dropped because the file could not take them. */
  get dropped(): number {
    return this.lossy.dropped;
  }

  /** pino's destination contract: one serialized line (with its newline). */
  write(line: string): boolean {
    const bytes = Buffer.from(line);
    const ready = () => {
      if (this.fd === undefined) this.open();
      const tooBig = this.size > 0 && this.size + bytes.length > this.options.maxBytes;
      const tooOld = this.size > 0 && this.clock() - this.begunAt > this.options.maxAgeMs;
      if (tooBig || tooOld) this.rotate();
      return this.fd!;
    };
    // Not `this.size += …`: that reads the size before a rotation inside \`append\` resets it.
    const written = this.lossy.append(ready, bytes, () => this.end()) ?? 0;
    this.size += written;
    return true;
  }

  /** Every line is on disk when `write` returns; nothing waits. */
  flushSync(): void {}

  /** Closes the file; a later write opens it again (also what a SIGHUP reopen would do). */
  end(): void {
    const fd = this.fd;
    this.fd = undefined;
    if (fd !== undefined) closeSync(fd);
  }

  private open(): void {
    mkdirSync(path.dirname(this.options.file), { recursive: true, mode: 0o700 });
    this.fd = openSync(this.options.file, 'a', 0o600);
    const stats = fstatSync(this.fd);
    this.size = stats.size;
    // A file kept from an earlier run ages from its birth, where the file system records one.
    this.begunAt = stats.size > 0 && stats.birthtimeMs > 0 ? stats.birthtimeMs : this.clock();
  }

  /** `file` → `file.1` → `file.2` …; the one past maxFiles is deleted. */
  private rotate(): void {
    this.end();
    shiftRotatedFiles(this.options.file, this.options.maxFiles);
    this.open();
    this.begunAt = this.clock();
  }
}
