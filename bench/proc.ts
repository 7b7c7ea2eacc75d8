/**
 * What the footprint and scale benches read of a process from Linux /proc: its CPU time, its
 * memory (RSS, and the private part: what it costs beyond the pages it shares with every other
 * node process, such as node's own code), what a process of the orchestra's tree is. Listing the
 * processes is test/support/processes.ts's.
 */
import { execa } from 'execa';
import { readFile } from 'node:fs/promises';

/** Clock ticks per second of utime/stime in /proc/<pid>/stat (USER_HZ, 100 on Linux). */
let ticksPerSecond: number | undefined;
async function clockTicks(): Promise<number> {
  ticksPerSecond ??= Number((await execa('getconf', ['CLK_TCK'])).stdout.trim()) || 100;
  return ticksPerSecond;
}

/**
 * The CPU time the process has used, user and system, in ms: its own threads, and with
 * `children` also the children it has reaped (the git commands an orchestrator runs, say).
 */
export async function cpuMs(pid: number, { children = false } = {}): Promise<number> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = text.slice(text.lastIndexOf(')') + 2).trim().split(' ');
  // utime, stime, cutime, cstime are fields 14 to 17 of stat(5); fields[0] is field 3 (state).
  const ticks = (children ? [11, 12, 13, 14] : [11, 12]).reduce((sum, index) => sum + Number(fields[index] ?? 0), 0);
  return (ticks * 1000) / (await clockTicks());
}

/** CPU of one core used by `pids` (summed) over `windowMs`, in % of one core. */
export async function cpuShare(pids: readonly number[], windowMs: number): Promise<number> {
  const sum = async () => (await Promise.all(pids.map((pid) => cpuMs(pid).catch(() => 0)))).reduce((a, b) => a + b, 0);
  const before = await sum();
  const started = performance.now();
  await new Promise((done) => setTimeout(done, windowMs));
  const after = await sum();
  return ((after - before) / (performance.now() - started)) * 100;
}

export interface Memory {
  /** Resident set, MiB: shared pages (node's code, the bundle's file pages) counted whole. */
  rssMiB: number;
  /** Private pages only (USS), MiB: what this process adds to the machine. */
  privateMiB: number;
}

export async function memoryOf(pid: number): Promise<Memory> {
  const text = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return { rssMiB: kb('Rss') / 1024, privateMiB: (kb('Private_Clean') + kb('Private_Dirty')) / 1024 };
}

/** What a process of the orchestra's tree is, for the listing. */
export function processKind(argv: readonly string[]): string {
  const line = argv.join(' ');
  if (line.includes('miyabi-runner.mjs') || / pane( |$)/.test(line)) {
    if (line.includes('--spare')) return 'spare runner';
    return line.includes('--role conductor') ? 'conductor runner' : 'agent runner';
  }
  if (line.includes('esbuild')) return 'esbuild';
  if (line.includes('nats-server')) return 'nats-server';
  // The server, and the orchestrator's two lasting clients: the control-mode client that watches
  // the panes and the `wait-for` that wakes it when one dies.
  if (/(^|\/)tmux$/.test(argv[0] ?? '')) return argv.includes('new-session') ? 'tmux server' : `tmux ${argv.includes('-C') ? 'control client' : argv.includes('wait-for') ? 'wait-for client' : 'client'}`;
  if (line.includes('miyabi-orchestra')) return 'orchestrator';
  return (argv[0] ?? '?').split('/').pop()!;
}

/** The pid of the tmux server on a private socket, if one runs. */
export async function tmuxServerPid(socket: string): Promise<number | undefined> {
  const { stdout, exitCode } = await execa('tmux', ['-L', socket, 'display-message', '-p', '#{pid}'], { reject: false });
  return exitCode === 0 && stdout.trim() ? Number(stdout.trim()) : undefined;
}

/** The load average (1 minute) as /proc/loadavg says it. */
export async function loadAverage(): Promise<string> {
  const [one, five] = (await readFile('/proc/loadavg', 'utf8')).split(' ');
  return `load average ${one} (1 min), ${five} (5 min)`;
}
