/**
 * A chaos run (issue #15): a backlog with dependencies worked by the example agents on the
 * embedded default, faults injected at the points a seeded plan chose (test/chaos/plan.ts), the
 * orchestrator restarted whenever it dies, as systemd would. At the end it checks what must hold
 * (test/chaos/invariants.ts) and reads the orchestra's own KPIs. `npm run chaos` runs it at full
 * size; test/chaos/chaos.test.ts at CI size.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KpiReport } from '../../src/workflow/kpi-report.ts';
import { taskMarkers } from '../support/run-records.ts';
import { duplicateEffects, duplicateRuns, leaks, lostIssues, type IssueOutcome } from './invariants.ts';
import { fillWithBallast, freeBytes, mountTmpfs, removeBallast, unmountTmpfs } from './full-disk.ts';
import { describePlan, DISK_FAULT_KINDS, FAULT_KINDS, issueFile, planChaos, TRACKER_FAULT_KINDS, type PlannedFault, type TrackerFaultKind } from './plan.ts';
import { NO_TARGET, SupervisedUp } from './supervised-up.ts';
import { fileIssues, injectTrackerFault, startChaosTracker, trackerDuplicates, type ChaosTracker } from './tracker.ts';

export interface ChaosOptions {
  seed: number;
  issues: number;
  faults: number;
  /** The run gives up after this long: what is not finished by then is lost. */
  durationMs: number;
  backend?: 'tmux' | 'process';
  /**
   * `local` (default): a local issue directory, process faults only. `github`: the fake GitHub,
   * and its faults in the schedule too (5xx, a secondary rate limit, dropped connections, slow answers).
   */
  tracker?: 'local' | 'github';
  /** Progress lines (the plan, each fault, each restart). */
  log?: (line: string) => void;
  /** Keep the run's directory (to look at its logs). */
  keep?: boolean;
  /**
   * The data directory on a tmpfs of its own (needs root or CAP_SYS_ADMIN), and `full_disk` in the
   * schedule: a ballast takes every page of it for `FULL_DISK_HOLD_MS`, then goes.
   */
  fullDisk?: boolean;
}

const MIB = 1024 * 1024;
/** The data directory's own disk with `fullDisk`: room for a CI-sized run and more, far from a real one. */
const DISK_BYTES = 192 * MIB;
/** How long a full disk lasts: agents at work meet it, dispatch holds, the broker may wedge. */
export const FULL_DISK_HOLD_MS = 8_000;
/** What a full disk needs of the config: a floor under which dispatch holds, and streams that fit the small disk (nats-server reserves them against its free space). */
const FULL_DISK_CONFIG = {
  health: { checkIntervalMs: 1000, reportHeartbeatMs: 1000, minFreeDiskBytes: 16 * MIB },
  bus: { ackWaitMs: 5000, maxBytes: { tasks: 8 * MIB, events: 16 * MIB, dlq: MIB, state: 8 * MIB, once: MIB, answers: MIB } },
};

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
  /** How each restarted exit ended (its code, signal and the end of its stderr). */
  orchestratorExits: string[];
  done: number;
  issues: number;
  /** The plan's issues not done, with the state and reason they finished in: why a run fell short. */
  unfinished: string[];
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
  const tracker: ChaosTracker | undefined = options.tracker === 'github' ? await startChaosTracker() : undefined;
  const kinds = [...FAULT_KINDS, ...(tracker ? TRACKER_FAULT_KINDS : []), ...(options.fullDisk ? DISK_FAULT_KINDS : [])];
  const plan = planChaos({ ...options, kinds });
  log(`chaos plan ${describePlan(plan)}${tracker ? ' (on the fake GitHub)' : ''}${options.fullDisk ? ` (the data directory on a ${DISK_BYTES / MIB} MiB disk of its own)` : ''}`);
  const config = { ...tracker?.config, ...(options.fullDisk ? FULL_DISK_CONFIG : {}) };
  const run = await SupervisedUp.create({ name: 'chaos', backend: options.backend ?? 'tmux', config, env: tracker?.env }).catch(async (error: unknown) => {
    await tracker?.close();
    throw error;
  });
  const disk = options.fullDisk ? await mountDataDisk(run).catch(async (error: unknown) => {
    await run.dispose(false);
    await tracker?.close();
    throw error;
  }) : undefined;
  if (tracker) {
    await tracker.connect(run.repo);
    fileIssues(tracker.fake, plan.issues);
  }
  else for (const issue of plan.issues) await writeFile(join(run.issuesDir, `${issue.number}.md`), issueFile(issue));
  const started = Date.now();
  const deadline = started + options.durationMs;
  let rows: IssueOutcome[] = [];
  const settled = async () => {
    const shown = await run.issueRows();
    if (shown === undefined) return false;
    rows = shown;
    return plan.issues.every((issue) => rows.some((row) => row.issue === issue.number && FINAL.has(row.state)));
  };

  const injected: InjectedFault[] = [];
  run.start();
  try {
    let next = 0;
    let finished = false;
    while (Date.now() < deadline && !finished) {
      // The orchestrator died (a fault, or on its own): systemd starts it again.
      if (await run.keepRunning()) log(`chaos: orchestrator exited; restarted (${run.restarts})`);
      if (disk && (await disk.emptyIfDue())) log('chaos: full disk over: ballast removed');
      const fault = plan.faults[next];
      if (fault && (await run.dispatchedStages()) >= fault.afterStages) {
        next += 1;
        const target = isTrackerFault(fault.kind)
          ? injectTrackerFault(tracker!.fake, fault.kind)
          : fault.kind === 'full_disk'
            ? await disk!.fill()
            : await run.inject(fault.kind, Math.min(deadline, Date.now() + 15_000));
        injected.push({ ...fault, at: Date.now(), target, workAgainMs: undefined });
        log(`chaos: ${fault.kind} after ${fault.afterStages} stages: ${target}`);
        continue;
      }
      finished = next >= plan.faults.length && !disk?.full() && (await settled());
      if (!finished) await new Promise((resolve) => setTimeout(resolve, 500));
    }
    await settled().catch(() => false);
    const kpiRun = await run.cli(['kpi', '--json']);
    const kpis = kpiRun.exitCode === 0 ? (JSON.parse(kpiRun.stdout) as KpiReport) : undefined;
    await run.stop();

    const markers = await taskMarkers(run.dataDir);
    for (const fault of injected) {
      const answered = markers.filter((marker) => marker.kind === 'end' && Date.parse(marker.at) > fault.at).map((marker) => Date.parse(marker.at));
      fault.workAgainMs = answered.length > 0 ? Math.min(...answered) - fault.at : undefined;
    }
    const numbers = plan.issues.map((issue) => issue.number);
    return {
      plan: describePlan(plan),
      faults: injected,
      orchestratorRestarts: run.restarts,
      orchestratorExits: run.exits,
      // The plan's issues only: the orchestra may file its own (a health issue) in the same tracker.
      done: rows.filter((row) => numbers.includes(row.issue) && row.state === 'done').length,
      issues: numbers.length,
      unfinished: rows.filter((row) => numbers.includes(row.issue) && row.state !== 'done').map((row) => `#${row.issue}: ${row.state}${row.reason ? ` (${row.reason})` : ''}`),
      lost: lostIssues(numbers, rows),
      duplicated: [...duplicateRuns(markers), ...(tracker ? trackerDuplicates(tracker.fake, numbers) : await duplicateEffects(run.dataDir, run.repo, numbers))],
      leaked: await leaks({ runDir: run.runDir, dataDir: run.dataDir, repo: run.repo, socket: run.socket }),
      kpis,
      elapsedMs: Date.now() - started,
      runDir: run.runDir,
    };
  } finally {
    if (disk) {
      // Stopped before the unmount (nothing may hold the file system); the directory removed after it.
      await run.dispose(true);
      await disk.unmount();
      if (!options.keep) await rm(run.runDir, { recursive: true, force: true });
    } else await run.dispose(options.keep ?? false);
    await tracker?.close();
  }
}

/** The data directory on a tmpfs of its own, and the full disk fault on it. */
async function mountDataDisk(run: SupervisedUp) {
  await mkdir(run.dataDir);
  await mountTmpfs(run.dataDir, DISK_BYTES);
  const ballast = join(run.dataDir, 'ballast');
  let emptyAt: number | undefined;
  return {
    full: () => emptyAt !== undefined,
    async fill(): Promise<string> {
      const bytes = await fillWithBallast(ballast);
      emptyAt = Date.now() + FULL_DISK_HOLD_MS;
      return `data directory: ${Math.round(bytes / MIB)} MiB of ballast, ${await freeBytes(run.dataDir)} bytes left, for ${FULL_DISK_HOLD_MS / 1000} s`;
    },
    /** Removes the ballast once its time is up; true when it did. */
    async emptyIfDue(): Promise<boolean> {
      if (emptyAt === undefined || Date.now() < emptyAt) return false;
      await removeBallast(ballast);
      emptyAt = undefined;
      return true;
    },
    async unmount(): Promise<void> {
      await removeBallast(ballast);
      await unmountTmpfs(run.dataDir);
    },
  };
}

const isTrackerFault = (kind: string): kind is TrackerFaultKind => (TRACKER_FAULT_KINDS as readonly string[]).includes(kind);

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
    const { throughput } = result.kpis;
    lines.push(`throughput ${throughput.finished} finished (${throughput.done} done, ${throughput.failed} failed); autonomy ${ratio(result.kpis.autonomy.ratio)}, success ${ratio(result.kpis.successRate.issues)}, utilization ${ratio(result.kpis.utilization.ratio)}`);
  } else lines.push('KPIs: not read (the orchestra did not answer `kpi`)');
  for (const item of result.unfinished) lines.push(`not done: ${item}`);
  for (const [label, items] of [['lost', result.lost], ['duplicated', result.duplicated], ['leaked', result.leaked]] as const) for (const item of items) lines.push(`${label}: ${item}`);
  const injected = result.faults.filter((fault) => fault.target !== NO_TARGET).length;
  lines.push(`chaos: ${injected} faults, ${result.done}/${result.issues} done, ${result.lost.length} lost, ${result.duplicated.length} duplicated, ${result.leaked.length} leaked`);
  return lines.join('\n');
}
