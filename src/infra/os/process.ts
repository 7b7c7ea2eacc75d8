/**
 * What the operating system says about a process we did not start (Linux /proc): whether it
 * still runs, its argv, and the exit status of a zombie. A run file's or pid file's pid may now
 * belong to another program, so callers check the argv before they act on it.
 *
 * tmux reaps its panes' processes; when it misses a SIGCHLD (seen with tmux 3.3a about once in
 * ten `kill -9`s) the pane is dead, tmux knows no status, and the process stays a zombie whose
 * `/proc/<pid>/stat` still holds the wait status (field 52, `exit_code`). Without procfs every
 * reader here answers undefined (or empty) and callers fall back to what they know.
 */
import { readFileSync } from 'node:fs';

export interface ProcStat {
  /** R, S, D, Z (zombie), T … */
  state: string;
  ppid: number;
  /** The process group: a group leader's is its own pid. */
  pgrp: number;
  /** The raw wait status (Linux ≥ 3.5); meaningful only for a zombie. */
  waitStatus: number | undefined;
}

export function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid …": comm may hold spaces and parentheses, so read after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).trim().split(' ');
  const waitStatus = fields[49] === undefined ? undefined : Number(fields[49]);
  return { state: fields[0] ?? '?', ppid: Number(fields[1]), pgrp: Number(fields[2]), waitStatus };
}

/** A wait status as an exit code or a signal number, the way waitpid(2)'s macros read it. */
export function decodeWaitStatus(status: number): { exitCode: number | null; signal: number | null } {
  const signal = status & 0x7f;
  return signal === 0 ? { exitCode: (status >> 8) & 0xff, signal: null } : { exitCode: null, signal };
}

/** True while `pid` runs; a zombie nobody has reaped yet counts as ended. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  return readProcStat(pid)?.state !== 'Z';
}

/** The argv of a process; empty when it cannot be read. */
export function commandLineOf(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

/**
 * Resolves once `pid` has ended; SIGKILLs it after `timeoutMs`. Polls the process table, since a
 * process that is not our child gives no exit event.
 */
export async function waitForProcessExit(pid: number, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (processAlive(pid)) {
    if (performance.now() > deadline) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // ended meanwhile
      }
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
