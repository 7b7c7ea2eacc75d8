/**
 * A chaos run (issue #15): a backlog with dependencies worked by the example agents on the
 * embedded default, faults injected at the points a seeded plan chose (test/chaos/plan.ts), the
 * orchestrator restarted whenever it dies, as systemd would. At the end it checks what must hold
 * (test/chaos/invariants.ts) and reads the orchestra's own KPIs. `npm run chaos` runs it at full
 * size; test/chaos/chaos.test.ts at CI size.
 */
import { execa, type ResultPromise } from 'execa';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KpiReport } from '../../src/workflow/kpi-report.ts';
import { cliPath, repoRoot } from '../support/cli.ts';
import { gitRepo } from '../support/orchestra.ts';
import { duplicateEffects, duplicateRuns, leaks, lostIssues, taskMarkers, type IssueOutcome } from './invariants.ts';
import { describePlan, issueFile, planChaos, type FaultKind, type PlannedFault } from './plan.ts';
import { alive, isAgentProgram, isNatsServer, isRunner, listProcesses } from './processes.ts';

export interface ChaosOptions {
  seed: number;
  issues: number;
  faults: number;
  /** The run gives up after this long: what is not finished by then is lost. */
  durationMs: number;
  backend?: 'tmux' | 'process';
  /** Progress lines (the plan, each fault, each restart). */
  log?: (line: string) => void;
  /** Keep the run's directory (to look at its logs). */
  keep?: boolean;
}

export interface InjectedFault extends PlannedFault {
  at: number;
  /** What it hit, or why it hit nothing (no such process at that moment). */
  target: string;
  /** From the fault to the first task answered after it. */
  workAgainMs: number | undefined;
}

export interface ChaosResult {
  plan: string;
  faults: InjectedFault[];
  orchestratorRestarts: number;
  done: number;
  issues: number;
  lost: string[];
  duplicated: string[];
  leaked: string[];
  kpis: KpiReport | undefined;
  elapsedMs: number;
  runDir: string;
}

const FINAL = new Set(['done', 'failed', 'blocked']);

export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const log = options.log ?? (() => undefined);
  const plan = planChaos(options);
  log(`chaos plan ${describePlan(plan)}`);
  const runDir = await mkdtemp(join(tmpdir(), 'miyabi-chaos-'));
  const dataDir = join(runDir, 'data');
  const repo = join(runDir, 'repo');
  const issuesDir = join(runDir, 'issues');
  const backend = options.backend ?? 'tmux';
  const socket = backend === 'tmux' ? `miyabi-chaos-${process.pid}-${plan.seed}` : undefined;
  await mkdir(repo);
  await mkdir(issuesDir);
  await gitRepo(repo);
  for (const issue of plan.issues) await writeFile(join(issuesDir, `${issue.number}.md`), issueFile(issue));
  const agent = (role: string) => ({ command: ['node', join(repoRoot, `examples/agents/${role}.mjs`)], min: 1, max: 2 });
  const configPath = join(runDir, 'chaos.yaml');
  await writeFile(
    configPath,
    JSON.stringify({
      dataDir,
      http: { enabled: false },
      issues: { local: { dir: issuesDir, pollIntervalMs: 500 } },
      panes: { backend, ...(socket ? { socket } : {}), heartbeatIntervalMs: 500, missedHeartbeats: 6 },
      workspace: { repo, taskFilesRetentionHours: 0 },
      health: { checkIntervalMs: 1000, reportHeartbeatMs: 1000 },
      bus: { ackWaitMs: 5000 },
      workflow: { retry: { initialDelayMs: 200 } },
      agents: { codegen: agent('codegen'), pr: agent('pr') },
    }),
  );

  const started = Date.now();
  const deadline = started + options.durationMs;
  const cli = (args: string[]) => execa(cliPath, [...args, '--config', configPath], { cwd: repoRoot, reject: false, timeout: 30_000 });
  let up: ResultPromise | undefined;
  let restarts = 0;
  const startUp = () => {
    up = execa(cliPath, ['up', '--config', configPath], { cwd: repoRoot, reject: false, stdin: 'ignore', stdout: 'ignore' });
  };
  const upExited = () => up?.exitCode !== null || up?.signalCode !== null;
  const dispatched = async () => {
    const text = await readFile(join(dataDir, 'logs', 'orchestra.log'), 'utf8').catch(() => '');
    return text.split('\n').filter((line) => line.includes('"msg":"stage dispatched"')).length;
  };
  let rows: IssueOutcome[] = [];
  const settled = async () => {
    const shown = await cli(['issues', '--json']);
    if (shown.exitCode !== 0) return false;
    rows = (JSON.parse(shown.stdout) as Array<{ issue: number; state: string; reason?: string }>).map(({ issue, state, reason }) => ({ issue, state, reason }));
    return plan.issues.every((issue) => rows.some((row) => row.issue === issue.number && FINAL.has(row.state)));
  };

  const injected: InjectedFault[] = [];
  startUp();
  try {
    let next = 0;
    let finished = false;
    while (Date.now() < deadline && !finished) {
      // The orchestrator died (a fault, or on its own): systemd starts it again.
      if (upExited()) {
        const exited = await up!;
        // Exit 2, a config or setup error: systemd would not restart it either (RestartPreventExitStatus=2).
        if (exited.exitCode === 2) throw new Error(`chaos: up refused to start: ${String(exited.stderr).slice(-2000)}`);
        restarts += 1;
        log(`chaos: orchestrator exited; restarted (${restarts})`);
        startUp();
      }
      const fault = plan.faults[next];
      if (fault && (await dispatched()) >= fault.afterStages) {
        next += 1;
        const target = await inject(fault.kind, { configPath, dataDir, up: up!, until: Math.min(deadline, Date.now() + 15_000) });
        injected.push({ ...fault, at: Date.now(), target, workAgainMs: undefined });
        log(`chaos: ${fault.kind} after ${fault.afterStages} stages: ${target}`);
        continue;
      }
      finished = next >= plan.faults.length && (await settled());
      if (!finished) await new Promise((resolve) => setTimeout(resolve, 500));
    }
    await settled().catch(() => false);
    const kpiRun = await cli(['kpi', '--json']);
    const kpis = kpiRun.exitCode === 0 ? (JSON.parse(kpiRun.stdout) as KpiReport) : undefined;
    await stop(up!);

    const markers = await taskMarkers(dataDir);
    for (const fault of injected) {
      const answered = markers.filter((marker) => marker.kind === 'end' && Date.parse(marker.at) > fault.at).map((marker) => Date.parse(marker.at));
      fault.workAgainMs = answered.length > 0 ? Math.min(...answered) - fault.at : undefined;
    }
    const numbers = plan.issues.map((issue) => issue.number);
    return {
      plan: describePlan(plan),
      faults: injected,
      orchestratorRestarts: restarts,
      done: rows.filter((row) => row.state === 'done').length,
      issues: numbers.length,
      lost: lostIssues(numbers, rows),
      duplicated: [...duplicateRuns(markers), ...(await duplicateEffects(dataDir, repo, numbers))],
      leaked: await leaks({ runDir, dataDir, repo, socket }),
      kpis,
      elapsedMs: Date.now() - started,
      runDir,
    };
  } finally {
    if (up && !upExited()) await stop(up);
    if (socket) await execa('tmux', ['-L', socket, 'kill-server'], { reject: false });
    if (!options.keep) await rm(runDir, { recursive: true, force: true });
  }
}

/** SIGTERM, as systemd stops it; SIGKILL if it has not stopped in 30 s (then leaks will say why). */
async function stop(up: ResultPromise): Promise<void> {
  if (up.exitCode !== null || up.signalCode !== null) return void (await up);
  up.kill('SIGTERM');
  const timer = setTimeout(() => up.kill('SIGKILL'), 30_000);
  await up;
  clearTimeout(timer);
}

/** One fault: its target found in the process table (waiting a while for one to exist). */
async function inject(kind: FaultKind, run: { configPath: string; dataDir: string; up: ResultPromise; until: number }): Promise<string> {
  if (kind === 'kill_orchestrator') {
    run.up.kill('SIGKILL');
    return `orchestrator ${run.up.pid}`;
  }
  const matches = {
    kill_agent: (info: Awaited<ReturnType<typeof listProcesses>>[number]) => isAgentProgram(info, run.dataDir),
    kill_runner: (info: Awaited<ReturnType<typeof listProcesses>>[number]) => isRunner(info, run.configPath),
    silence_runner: (info: Awaited<ReturnType<typeof listProcesses>>[number]) => isRunner(info, run.configPath),
    kill_nats: (info: Awaited<ReturnType<typeof listProcesses>>[number]) => isNatsServer(info, run.dataDir),
  }[kind];
  for (;;) {
    const candidates = (await listProcesses()).filter(matches);
    // A runner fault hits an agent's runner when there is one: an idle spare's death costs nothing.
    const working = candidates.filter((info) => info.argv.includes('--agent'));
    const targets = working.length > 0 ? working : candidates;
    const target = targets[Math.floor(Math.random() * targets.length)];
    if (target && alive(target.pid)) {
      process.kill(target.pid, kind === 'silence_runner' ? 'SIGUSR2' : 'SIGKILL');
      return `pid ${target.pid} (${target.argv.slice(0, 6).join(' ').slice(0, 120)})`;
    }
    if (Date.now() > run.until) return 'no target at that moment';
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The run as the operator reads it; the last line is the verdict. */
export function describeResult(result: ChaosResult): string {
  const lines = [`plan: ${result.plan}`, `elapsed ${(result.elapsedMs / 1000).toFixed(1)} s, orchestrator restarted ${result.orchestratorRestarts} time(s)`];
  for (const fault of result.faults) {
    const again = fault.workAgainMs === undefined ? 'no task answered after it' : `work answered again after ${fault.workAgainMs} ms`;
    lines.push(`  ${fault.kind} after ${fault.afterStages} stages → ${fault.target}; ${again}`);
  }
  if (result.kpis) {
    const mttr = Object.entries(result.kpis.mttr.byFault).map(([kind, { meanMs, count }]) => `${kind} ${Math.round(meanMs)} ms ×${count}`);
    lines.push(`MTTR (the orchestra's KPI): ${result.kpis.mttr.meanMs === null ? 'no recovery' : `${Math.round(result.kpis.mttr.meanMs)} ms`}${mttr.length ? ` — ${mttr.join(', ')}` : ''}; ${result.kpis.mttr.unrecovered} not recovered`);
    const ratio = (value: number | null) => (value === null ? 'n/a' : `${(value * 100).toFixed(1)} %`);
    lines.push(`autonomy ${ratio(result.kpis.autonomy.ratio)}, success ${ratio(result.kpis.successRate.issues)}, utilization ${ratio(result.kpis.utilization.ratio)}`);
  } else lines.push('KPIs: not read (the orchestra did not answer `kpi`)');
  for (const [label, items] of [['lost', result.lost], ['duplicated', result.duplicated], ['leaked', result.leaked]] as const) for (const item of items) lines.push(`${label}: ${item}`);
  const injected = result.faults.filter((fault) => fault.target !== 'no target at that moment').length;
  lines.push(`chaos: ${injected} faults, ${result.done}/${result.issues} done, ${result.lost.length} lost, ${result.duplicated.length} duplicated, ${result.leaked.length} leaked`);
  return lines.join('\n');
}
