/**
 * The processes of one chaos run as the kernel lists them (/proc): the runners started with its
 * config, the agent programs working in its data directory, its nats-server. How faults find
 * their target, and how the end of a run finds what leaked.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';

export interface ProcessInfo {
  pid: number;
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
    const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => undefined);
    found.push({ pid, argv: cmdline.split('\0').filter(Boolean), cwd });
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
