/**
 * The idle orchestra's footprint (issue #18): the real CLI on the embedded default under the
 * compiled runtime (dist/), once its runners are up and nothing is to be done.
 *
 *   processes    everything `up` started: its descendants, and the tmux server of its private
 *                socket with the runners in its panes; no helper (esbuild, tsx) may be among them;
 *   idle CPU     the orchestrator's own utime+stime over a window, and the whole orchestra's;
 *   memory       RSS of the orchestrator and of each runner (agents' and spares'), and the private
 *                part (what a process adds beside the pages every node process shares), next to a
 *                bare node process's;
 *   runner flags a copy of a spare runner (its command line and environment, another spare id)
 *                started with and without RUNNER_NODE_FLAGS, same run: what the flags save.
 */
import { execa, type ResultPromise } from 'execa';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { RUNNER_NODE_FLAGS } from '../src/actors/runner-command.ts';
import { isRunner, listProcesses, processTree, type ProcessInfo } from '../test/support/processes.ts';
import { cpuMs, cpuShare, loadAverage, memoryOf, processKind, tmuxServerPid, type Memory } from './proc.ts';
import { quantile } from './stamps.ts';
import type { BenchRow } from './types.ts';

const root = resolve(import.meta.dirname, '..');
const IDLE_WINDOW_MS = 10_000;
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** Resolves once `child` printed `text` on stdout (a runner's "spare runner for …"). */
function printed(child: ResultPromise, text: string, timeoutMs: number): Promise<void> {
  return new Promise((done, fail) => {
    let seen = '';
    const timer = setTimeout(() => fail(new Error(`no "${text}" within ${timeoutMs} ms: ${seen}`)), timeoutMs);
    child.stdout!.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.includes(text)) {
        clearTimeout(timer);
        done();
      }
    });
  });
}

/** The orchestra's processes: `up` and all under it, the tmux server of its socket and all under it. */
async function orchestraProcesses(upPid: number, socket: string): Promise<ProcessInfo[]> {
  const all = await listProcesses();
  const tmux = await tmuxServerPid(socket);
  return [...processTree(upPid, all), ...(tmux === undefined ? [] : processTree(tmux, all))];
}

/** A spare runner started again as the orchestra started `spare` (its argv and environment), under another id. */
async function spareCopy(spare: ProcessInfo, id: string, flags: 'with' | 'without'): Promise<{ memory: Memory; startCpuMs: number }> {
  const environ = (await readFile(`/proc/${spare.pid}/environ`, 'utf8')).split('\0').filter(Boolean);
  const env = Object.fromEntries(environ.map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]));
  const argv = spare.argv.slice(1).filter((arg) => !RUNNER_NODE_FLAGS.includes(arg));
  argv[argv.indexOf('--spare') + 1] = id;
  const child = execa(spare.argv[0]!, flags === 'with' ? [...RUNNER_NODE_FLAGS, ...argv] : argv, { env, extendEnv: false, reject: false, cwd: spare.cwd });
  try {
    await printed(child, 'spare runner for', 60_000);
    const startCpuMs = await cpuMs(child.pid!);
    await sleep(2_000);
    return { memory: await memoryOf(child.pid!), startCpuMs };
  } finally {
    child.kill('SIGTERM');
    await child;
  }
}

const mib = (value: number) => `${value.toFixed(1)} MiB`;

export async function benchOrchestra(): Promise<BenchRow[]> {
  const dir = await mkdtemp(join(tmpdir(), 'miyabi-bench-'));
  const config = join(dir, 'bench.yaml');
  const socket = `miyabi-bench-${process.pid}`;
  await writeFile(config, `dataDir: ${join(dir, 'data')}\nhttp:\n  port: 0\nlog:\n  level: warn\npanes:\n  socket: ${socket}\nworkspace:\n  repo: ${root}\n`);
  const up = execa(join(root, 'bin/miyabi-orchestra'), ['up', '--config', config], { reject: false });
  try {
    const runFile = join(dir, 'data/orchestra.json');
    const deadline = Date.now() + 60_000;
    while (!(await readFile(runFile, 'utf8').then(() => true, () => false))) {
      if (Date.now() > deadline) throw new Error(`orchestra did not start within 60 s: ${(await up.catch(() => undefined))?.stderr ?? ''}`);
      await sleep(100);
    }
    // Every runner up (their number unchanged for 5 s), then start-up garbage left to settle.
    let runners = 0;
    for (let stableSince = Date.now(); Date.now() - stableSince < 5_000; await sleep(500)) {
      const now = (await listProcesses()).filter((entry) => isRunner(entry, config)).length;
      if (now !== runners) [runners, stableSince] = [now, Date.now()];
      if (Date.now() > deadline + 60_000) throw new Error('the runners did not settle within 2 minutes');
    }
    await sleep(3_000);
    const processes = await orchestraProcesses(up.pid!, socket);
    const kinds = new Map<string, number>();
    for (const entry of processes) kinds.set(processKind(entry.argv), (kinds.get(processKind(entry.argv)) ?? 0) + 1);
    // bin/miyabi-orchestra execs node: `up`'s pid is the orchestrator's.
    const orchestrator = up.pid!;
    const helpers = processes.filter((entry) => /esbuild|tsx/.test(entry.argv.join(' ')));
    const load = await loadAverage();
    const [orchestratorCpu, treeCpu] = await Promise.all([cpuShare([orchestrator], IDLE_WINDOW_MS), cpuShare(processes.map((entry) => entry.pid), IDLE_WINDOW_MS)]);
    const orchestratorMemory = await memoryOf(orchestrator);
    const runnerMemory = async (kind: string) => Promise.all(processes.filter((entry) => processKind(entry.argv) === kind).map((entry) => memoryOf(entry.pid)));
    const [agents, spares] = await Promise.all([runnerMemory('agent runner'), runnerMemory('spare runner')]);
    const bare = execa(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { reject: false });
    await sleep(1_000);
    const bareMemory = await memoryOf(bare.pid!);
    bare.kill('SIGKILL');
    await bare;
    const spare = processes.find((entry) => processKind(entry.argv) === 'spare runner');
    const copies = spare ? { without: await spareCopy(spare, 'spare-bench-without', 'without'), with: await spareCopy(spare, 'spare-bench-with', 'with') } : undefined;
    const listing = [...kinds].map(([kind, count]) => `${kind} ${count}`).join(', ');
    const median = (memories: Memory[], field: keyof Memory) => quantile(memories.map((memory) => memory[field]), 0.5);
    const rows: BenchRow[] = [
      { name: 'orchestra: processes after start (embedded default, compiled)', value: processes.length, unit: 'processes', note: `${listing}; runners counted after their number held for 5 s` },
      { name: 'orchestra: helper processes left alive (esbuild, tsx)', value: helpers.length, unit: 'processes', note: helpers.length > 0 ? helpers.map((entry) => entry.argv.join(' ').slice(0, 80)).join('; ') : 'goal 0' },
      { name: 'orchestra: orchestrator CPU idle', value: orchestratorCpu, unit: '% of a core', note: `goal < 1 %; utime+stime over ${IDLE_WINDOW_MS / 1000} s; ${load} on 2 shared CPUs` },
      { name: 'orchestra: whole orchestra CPU idle (every process above)', value: treeCpu, unit: '% of a core', note: 'same window: the runners heartbeat every 2 s (the default)' },
      { name: 'orchestra: orchestrator RSS idle', value: orchestratorMemory.rssMiB, unit: 'MiB', note: `goal ≤ 100 MiB; private ${mib(orchestratorMemory.privateMiB)}` },
      { name: 'orchestra: agent runner RSS idle, median', value: median(agents, 'rssMiB'), unit: 'MiB', note: `${agents.length} agents; private ${mib(median(agents, 'privateMiB'))}; goal ≤ 35 MiB` },
      { name: 'orchestra: spare runner RSS idle, median', value: median(spares, 'rssMiB'), unit: 'MiB', note: `${spares.length} spares (one a role), each paid for in memory whether claimed or not; private ${mib(median(spares, 'privateMiB'))}` },
      { name: 'orchestra: RSS of a bare node process, same run', value: bareMemory.rssMiB, unit: 'MiB', note: `floor; private ${mib(bareMemory.privateMiB)}: the rest is node's code, shared by every node process` },
    ];
    if (copies) {
      const flags = RUNNER_NODE_FLAGS.join(' ');
      rows.push(
        { name: 'orchestra: a spare runner without the runner flags, RSS', value: copies.without.memory.rssMiB, unit: 'MiB', note: `before: a copy of a spare's command without ${flags}; private ${mib(copies.without.memory.privateMiB)}; CPU to ready ${copies.without.startCpuMs.toFixed(0)} ms` },
        { name: 'orchestra: a spare runner with the runner flags, RSS', value: copies.with.memory.rssMiB, unit: 'MiB', note: `after: ${flags}; private ${mib(copies.with.memory.privateMiB)}; CPU to ready ${copies.with.startCpuMs.toFixed(0)} ms` },
      );
    }
    return rows;
  } finally {
    up.kill('SIGTERM');
    await up;
    await rm(dir, { recursive: true, force: true });
  }
}
