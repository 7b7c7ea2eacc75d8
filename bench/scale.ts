/**
 * Scale on one host (issue #18): many agents of one role working a backlog of short tasks, the
 * orchestra in this process (as bench/utilization.ts runs it) with real runners, the real bus and a
 * real git repository. 50 agents with the process backend, then 20 in tmux panes (a private
 * socket). Each task is an agent that writes its answer and exits (a shell, no node start).
 *
 *   orchestrator CPU   this process's own CPU time (process.cpuUsage: every thread, the bus and
 *                      the workflow included; the bench adds only a count of results) over the
 *                      busy window, from the first tenth of the backlog's results to the ninth,
 *                      as % of one core; the git commands it ran are in /proc's reaped-children
 *                      time, reported beside it;
 *   memory             this process's RSS at the end of the window (it holds tsx too), and every
 *                      agent runner's RSS and private memory read in the middle of the window.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { flattenTree } from '../src/supervisor/tree.ts';
import { startTestOrchestra } from '../test/support/orchestra.ts';
import { isRunner, listProcesses } from '../test/support/processes.ts';
import { waitFor } from '../test/support/wait.ts';
import { cpuMs, loadAverage, memoryOf, type Memory } from './proc.ts';
import { quantile } from './stamps.ts';
import type { BenchRow } from './types.ts';

const TASKS_PER_AGENT = Number(process.env.MIYABI_BENCH_SCALE_TASKS_PER_AGENT ?? 4);
// The agent's answer, written where the runner reads it: nothing else to do.
const answer = 'printf \'{"schema":1,"status":"success","summary":"done"}\' > "$MIYABI_RESULT_FILE"';

interface ScaleRun {
  agents: number;
  backend: 'process' | 'tmux';
  tasks: number;
  windowMs: number;
  cpuPercent: number;
  withChildrenPercent: number;
  rssMiB: number;
  runners: Memory[];
  load: string;
  startMs: number;
}

async function run(backend: 'process' | 'tmux', agents: number): Promise<ScaleRun> {
  const started = Date.now();
  const test = await startTestOrchestra({
    backend,
    agents: { codegen: { command: ['sh', '-c', answer], min: agents, max: agents, tasksAhead: agents } },
    config: {
      log: { level: 'warn', file: true },
      workflow: { defaultRoute: ['codegen'], ci: { command: [] } },
      // The default heartbeat, and patience for a host this loaded: the test orchestra's 2 s
      // before a runner counts as dead kills and restarts runners still starting by the dozen.
      panes: { heartbeatIntervalMs: 2_000, missedHeartbeats: 30 },
    },
  });
  try {
    const idle = () => flattenTree(test.orchestra.inspect()).filter((node) => node.path.includes('/pool.codegen/') && node.state === 'alive.ready.idle').length;
    await waitFor(() => idle() === agents || undefined, { timeoutMs: 900_000, intervalMs: 1_000, what: `${agents} agents ready` }).catch((error: unknown) => {
      throw new Error(`${agents} agents not ready: ${idle()} were`, { cause: error });
    });
    const startMs = Date.now() - started;
    const tasks = agents * TASKS_PER_AGENT;
    const issues = join(test.dir.path, 'issues');
    for (let number = 1; number <= tasks; number += 1) {
      await writeFile(join(issues, `${number}.md`), `---\nnumber: ${number}\ntitle: Work ${number}\nlabels: [miyabi]\n---\nBench.\n`);
    }
    const done = (count: number) => waitFor(() => test.results.length >= count || undefined, { timeoutMs: 1_200_000, intervalMs: 200, what: `${count} of ${tasks} results` });
    await done(Math.ceil(tasks / 10));
    const cpuBefore = process.cpuUsage();
    const withChildrenBefore = await cpuMs(process.pid, { children: true });
    const windowStart = performance.now();
    await done(Math.ceil(tasks / 2));
    const runnerPids = (await listProcesses()).filter((entry) => isRunner(entry, join(test.dir.path, 'miyabi.yaml'))).map((entry) => entry.pid);
    const runners = (await Promise.all(runnerPids.map((pid) => memoryOf(pid).catch(() => undefined)))).filter((memory) => memory !== undefined);
    const load = await loadAverage();
    await done(Math.ceil((tasks * 9) / 10));
    const windowMs = performance.now() - windowStart;
    const cpu = process.cpuUsage(cpuBefore);
    const withChildren = (await cpuMs(process.pid, { children: true })) - withChildrenBefore;
    return {
      agents,
      backend,
      tasks,
      windowMs,
      cpuPercent: ((cpu.user + cpu.system) / 1000 / windowMs) * 100,
      withChildrenPercent: (withChildren / windowMs) * 100,
      rssMiB: process.memoryUsage().rss / 2 ** 20,
      runners,
      load,
      startMs,
    };
  } finally {
    await test.stop();
  }
}

function rowsOf(result: ScaleRun): BenchRow[] {
  const name = `scale: ${result.agents} agents (${result.backend === 'tmux' ? 'tmux panes' : 'process backend'})`;
  const rss = result.runners.map((memory) => memory.rssMiB);
  const own = result.runners.map((memory) => memory.privateMiB);
  const machine = `2 shared CPUs, ${result.load} while busy`;
  const perTaskMs = ((result.cpuPercent / 100) * result.windowMs) / (result.tasks * 0.8);
  return [
    {
      name: `${name}: orchestrator CPU while busy`,
      value: result.cpuPercent,
      unit: '% of a core',
      note: `goal < 10 % (50 agents); ${result.tasks} tasks of an agent that answers and exits, busy window ${(result.windowMs / 1000).toFixed(1)} s (10 % → 90 % of results, ${((result.tasks * 0.8) / (result.windowMs / 1000)).toFixed(1)} tasks/s); with the git commands it ran ${result.withChildrenPercent.toFixed(1)} %; ${machine}`,
    },
    {
      name: `${name}: orchestrator CPU per task`,
      value: perTaskMs,
      unit: 'ms',
      note: `a task that takes no time keeps the orchestra, not the agents, busy: at 10 % of a core it steps ${(100 / perTaskMs).toFixed(1)} tasks/s, enough for ${result.agents} agents whose tasks last ${((result.agents * perTaskMs) / 100).toFixed(0)} s or more`,
    },
    { name: `${name}: orchestrator RSS while busy`, value: result.rssMiB, unit: 'MiB', note: 'the bench process: the orchestra in it, under tsx' },
    { name: `${name}: runner RSS, median`, value: quantile(rss, 0.5), unit: 'MiB', note: `${rss.length} runners read mid-window; private ${quantile(own, 0.5).toFixed(1)} MiB; goal ≤ 35 MiB` },
    { name: `${name}: runner RSS, max`, value: Math.max(...rss), unit: 'MiB', note: `private max ${Math.max(...own).toFixed(1)} MiB; all ${result.agents} ready ${(result.startMs / 1000).toFixed(1)} s after start` },
  ];
}

export async function benchScale(): Promise<BenchRow[]> {
  const processAgents = Number(process.env.MIYABI_BENCH_SCALE_PROCESS_AGENTS ?? 50);
  const tmuxAgents = Number(process.env.MIYABI_BENCH_SCALE_TMUX_AGENTS ?? 20);
  return [...rowsOf(await run('process', processAgents)), ...rowsOf(await run('tmux', tmuxAgents))];
}
