/**
 * Appending lines to a log file that may not take them: a full disk (`ENOSPC`), a quota, an I/O
 * error. Shared by the orchestra's and runners' logs (src/infra/observe/rotating-file.ts) and the
 * agents' pane logs (src/infra/panes/log.ts), which write synchronously from whoever logged: a
 * write that threw there would throw into the caller — a supervisor's listener, a runner's
 * result handler — and kill the process for a log line (issue #15, a full disk).
 *
 * So a line that cannot be written is dropped and counted, and the outage said once when it
 * begins and once when the file takes lines again (with how many were lost), through `say`: the
 * orchestra's stderr (the journal; its log lines are on stdout too), a runner's pane. The file is
 * closed on a failure and opened afresh for the next line, whatever state the failure left the
 * descriptor in. A line cut short by the failure is ended before the next one, so every later
 * line stays whole (a JSON line stays parseable).
 */
import { writeSync } from 'node:fs';

const NEWLINE = Buffer.from('\n');

/** Tells an operator about a file that stopped (or started again) taking lines. */
export type SayOutage = (message: string) => void;

export const toStderr: SayOutage = (message) => {
  try {
    process.stderr.write(`${message}\n`);
  } catch {
    // Nowhere left to say it.
  }
};

/** An error from the file system (it carries an errno code), as opposed to a bug in the caller. */
function fileSystemCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : undefined;
}

export class LossyAppend {
  /** Lines dropped since the file last took one. */
  #dropping = 0;
  /** Lines dropped in all. */
  #dropped = 0;
  /** The last write failed partway: the file may end inside a line. */
  #torn = false;

  constructor(
    /** The file, as the notices name it. */
    private readonly file: string,
    private readonly say: SayOutage = toStderr,
  ) {}

  /** Lines dropped so far. */
  get dropped(): number {
    return this.#dropped;
  }

  /**
   * Writes `bytes` (one or more whole lines) to the descriptor `open()` returns, all of them or
   * nothing counted: returns the bytes the file grew by, or undefined when the line was dropped
   * (`close` is then called, and the next line opens the file again).
   */
  append(open: () => number, bytes: Buffer, close: () => void): number | undefined {
    let written = 0;
    try {
      const fd = open();
      if (this.#torn) written += writeFully(fd, NEWLINE);
      this.#torn = false;
      written += writeFully(fd, bytes, () => (this.#torn = true));
    } catch (error) {
      const code = fileSystemCode(error);
      if (code === undefined) throw error;
      this.#dropped += 1;
      this.#dropping += 1;
      if (this.#dropping === 1) this.say(`${this.file}: cannot write (${code}); dropping its lines until it can`);
      try {
        close();
      } catch {
        // Already unusable: it is opened afresh for the next line.
      }
      return undefined;
    }
    if (this.#dropping > 0) {
      this.say(`${this.file}: writing again; ${this.#dropping} line(s) dropped meanwhile`);
      this.#dropping = 0;
    }
    return written;
  }
}

/** `writeSync` until every byte is written (a full disk first answers with a short write). */
function writeFully(fd: number, bytes: Buffer, onPartial?: () => void): number {
  let offset = 0;
  try {
    while (offset < bytes.length) offset += writeSync(fd, bytes, offset);
  } catch (error) {
    if (offset > 0) onPartial?.();
    throw error;
  }
  return offset;
}
