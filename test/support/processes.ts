/**
 * The machine's processes as the kernel lists them (/proc), and what the tests ask of them: the
 * runners started with a config, the agent programs working in a data directory, a nats-server, a
 * process and everything under it. How chaos faults find their target, how the end of a chaos or
 * soak run finds what leaked, how the CLI tests see what `up` runs.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';

export interface ProcessInfo {
  pid: number;
  ppid: number;
  argv: string[];
  cwd: string | undefined;
}

export async function listProcesses(): Promise<ProcessInfo[]> {
  const found: ProcessInfo[] = [];
  for (const entry of await readdir('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline === '') continue;
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    if (stat === '') continue;
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => undefined);
    found.push({ pid, ppid, argv: cmdline.split('\0').filter(Boolean), cwd });
  }
  return found;
}

/** The run's own processes, whatever they are: anything naming its directory or working in it. */
export function belongsTo(info: ProcessInfo, runDir: string): boolean {
  return info.argv.some((arg) => arg.includes(runDir)) || (info.cwd !== undefined && info.cwd.startsWith(runDir));
}

/** A pane runner of the run: an agent's, or a spare's (a claimed spare is an agent's runner). */
export function isRunner(info: ProcessInfo, configPath: string): boolean {
  return info.argv.includes('pane') && (info.argv.includes('--agent') || info.argv.includes('--spare')) && info.argv.includes(configPath);
}

/** An example agent program at work on a task (the Conductor has none). */
export function isAgentProgram(info: ProcessInfo, dataDir: string): boolean {
  return info.argv.some((arg) => /examples\/agents\/(codegen|review|pr|deploy)\.mjs$/.test(arg)) && info.cwd !== undefined && info.cwd.startsWith(dataDir);
}

export function isNatsServer(info: ProcessInfo, dataDir: string): boolean {
  return info.argv[0] !== undefined && info.argv[0].endsWith('nats-server') && info.argv.some((arg) => arg.includes(dataDir));
}

/** `root` and every process under it. */
export function processTree(root: number, all: readonly ProcessInfo[]): ProcessInfo[] {
  const tree: ProcessInfo[] = [];
  const wanted = new Set([root]);
  // A child may be listed before its parent (pids wrap): repeat until nothing is added.
  for (let added = true; added; ) {
    added = false;
    for (const entry of all) {
      if (!tree.includes(entry) && (wanted.has(entry.pid) || wanted.has(entry.ppid))) {
        wanted.add(entry.pid);
        tree.push(entry);
        added = true;
      }
    }
  }
  return tree;
}
