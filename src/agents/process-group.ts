/**
 * One agent process in a process group of its own, so that whatever it starts ends with it.
 *
 * - Started with node:child_process `spawn` (no shell), stdin ignored, stdout and stderr read
 *   line by line. Not execa: this runs in the pane runner, whose start-up is most of the time to
 *   replace a dead agent, and importing execa costs about 190 ms there.
 * - `detached: true` makes the process the leader of a new group (and session): a kill is sent
 *   to the whole group (`kill(-pid)`), reaching the shells, compilers and test runners it started.
 * - At the timeout or on abort: SIGTERM to the group, then SIGKILL after `graceMs`.
 * - When the leader exits, anything it left running in its group is killed (SIGKILL): a run that
 *   is over leaves nothing behind in the worktree. Output is read for at most a second more, in
 *   case a process that left the group on purpose (setsid) still holds the pipes.
 * - Groups still running when the orchestra's own process exits are killed by an `exit` hook.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export type OutputStream = 'stdout' | 'stderr';

export interface GroupRunOptions {
  file: string;
  args: readonly string[];
  cwd: string;
  /** The complete environment (nothing is inherited). */
  env: Record<string, string>;
  timeoutMs: number;
  graceMs: number;
  signal?: AbortSignal;
  /** Each line printed; must not throw. Without it, output is discarded. */
  onOutput?: (line: string, stream: OutputStream) => void;
  onSpawn?: (pid: number) => void;
}

export interface GroupRunEnd {
  pid: number | undefined;
  exitCode: number | undefined;
  signal: string | undefined;
  timedOut: boolean;
  cancelled: boolean;
  /** Set when the process could not start: the errno code (`ENOENT`, `EACCES`) and its message. */
  spawnError?: { code: string | undefined; message: string };
}

/** How long output is still read after the agent exited. */
const OUTPUT_DRAIN_MS = 1_000;

const liveGroups = new Set<number>();
let exitHookInstalled = false;

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is empty
  }
}

function trackGroup(pgid: number): void {
  liveGroups.add(pgid);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const group of liveGroups) killGroup(group, 'SIGKILL');
  });
}

/** Reads each pipe line by line; `stop()` stops reading (for pipes a stray process still holds). */
function readLines(child: ChildProcess, onOutput: GroupRunOptions['onOutput']) {
  const readers = onOutput
    ? ([['stdout', child.stdout], ['stderr', child.stderr]] as const).flatMap(([stream, source]) => {
        if (!source) return [];
        const lines = createInterface({ input: source, crlfDelay: Infinity });
        lines.on('line', (line) => onOutput(line, stream));
        return [{ lines, source, closed: new Promise((resolve) => lines.once('close', resolve)) }];
      })
    : [];
  return {
    closed: Promise.all(readers.map((reader) => reader.closed)),
    stop: () => {
      for (const { lines, source } of readers) {
        lines.close();
        source.destroy();
      }
    },
  };
}

export async function runInProcessGroup(options: GroupRunOptions): Promise<GroupRunEnd> {
  const child = spawn(options.file, [...options.args], {
    cwd: options.cwd,
    env: options.env,
    shell: false,
    stdio: ['ignore', options.onOutput ? 'pipe' : 'ignore', options.onOutput ? 'pipe' : 'ignore'],
    detached: true,
    windowsHide: true,
  });
  const pid = child.pid;
  if (pid === undefined) {
    // spawn reports a failed start (ENOENT, EACCES) as an 'error' event, after this tick.
    const error = await new Promise<NodeJS.ErrnoException>((resolve) => child.once('error', resolve));
    return {
      pid,
      exitCode: undefined,
      signal: undefined,
      timedOut: false,
      cancelled: false,
      spawnError: { code: error.code, message: error.message },
    };
  }
  child.on('error', () => {
    // after a successful spawn, errors (a failed kill) change nothing: the exit is what counts
  });
  const output = readLines(child, options.onOutput);
  trackGroup(pid);

  let timedOut = false;
  let cancelled = false;
  let graceTimer: NodeJS.Timeout | undefined;
  const terminate = () => {
    if (graceTimer !== undefined) return;
    killGroup(pid, 'SIGTERM');
    graceTimer = setTimeout(() => killGroup(pid, 'SIGKILL'), options.graceMs);
  };
  const timeoutTimer = setTimeout(() => {
    timedOut = true;
    terminate();
  }, options.timeoutMs);
  const onAbort = () => {
    cancelled = true;
    terminate();
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  // The leader's exit, not the end of its output: a process it left behind may hold the pipes.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  options.onSpawn?.(pid);
  if (options.signal?.aborted) onAbort();

  const leader = await exited;
  killGroup(pid, 'SIGKILL');
  liveGroups.delete(pid);
  clearTimeout(timeoutTimer);
  clearTimeout(graceTimer);
  options.signal?.removeEventListener('abort', onAbort);
  // A process that left the group (setsid) may still hold the pipes: stop reading after a while.
  const drainTimer = setTimeout(output.stop, OUTPUT_DRAIN_MS);
  await output.closed;
  clearTimeout(drainTimer);
  return { pid, exitCode: leader.code ?? undefined, signal: leader.signal ?? undefined, timedOut, cancelled };
}
