/**
 * A soak (issue #15): the orchestra on the embedded default fed a steady stream of new issues
 * while faults recur, its resources sampled all along, then judged (test/soak/trend.ts): nothing
 * may grow without bound. `npm run soak -- --duration 1h`; test/soak/soak.test.ts at CI size.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KpiReport } from '../../src/workflow/kpi-report.ts';
import { duplicateEffects, duplicateRuns, leaks, lostIssues, type IssueOutcome } from '../chaos/invariants.ts';
import { FAULT_KINDS, issueFile, seededRandom, type PlannedIssue } from '../chaos/plan.ts';
import { belongsTo, listProcesses } from '../support/processes.ts';
import { NO_TARGET, SupervisedUp } from '../chaos/supervised-up.ts';
import { bytesUnder, taskMarkers } from '../support/run-records.ts';
import { judgeAll, type Sample, type TrendRule, type Verdict } from './trend.ts';

export interface SoakOptions {
  seed: number;
  durationMs: number;
  /** A new issue this often. */
  issueEveryMs: number;
  /** A fault this often (its kind drawn from the seed). */
  faultEveryMs: number;
  sampleEveryMs: number;
  /** After the last new issue, how long the backlog may take to drain before what is left counts as lost. */
  drainMs: number;
  backend?: 'tmux' | 'process';
  log?: (line: string) => void;
  keep?: boolean;
}

export interface SoakResult {
  seed: number;
  samples: Sample[];
  verdicts: Verdict[];
  issues: number;
  done: number;
  faults: string[];
  orchestratorRestarts: number;
  lost: string[];
  duplicated: string[];
  leaked: string[];
  kpis: KpiReport | undefined;
  elapsedMs: number;
}

const MB = 1024 * 1024;
/** How each sampled resource is judged; docs/SOAK.md says why each bound is what it is. */
export const SOAK_RULES: Readonly<Record<string, TrendRule>> = {
  'orchestrator.rssBytes': { kind: 'flat', tolerance: 0.25, slack: 16 * MB },
  'orchestrator.fds': { kind: 'flat', tolerance: 0.1, slack: 8 },
  'tree.rssBytes': { kind: 'flat', tolerance: 0.25, slack: 64 * MB },
  'tree.fds': { kind: 'flat', tolerance: 0.1, slack: 16 },
  'tree.processes': { kind: 'flat', tolerance: 0, slack: 3 },
  panes: { kind: 'flat', tolerance: 0, slack: 2 },
  worktrees: { kind: 'flat', tolerance: 0, slack: 2 },
  'kv.keys': { kind: 'per-issue', bound: 24 },
  // Partly time-driven (a health report a second, inspection records): docs/SOAK.md.
  'streams.bytes': { kind: 'per-issue', bound: 128 * 1024 },
  'dataDir.bytes': { kind: 'per-issue', bound: 256 * 1024 },
};

async function procNumber(pid: number, field: string): Promise<number> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return match ? Number(match[1]) * 1024 : 0;
}

async function fdCount(pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`).catch(() => [])).length;
}

async function sample(run: SupervisedUp, at: number): Promise<Sample> {
  const values: Record<string, number> = {};
  const tree = (await listProcesses()).filter((info) => belongsTo(info, run.runDir));
  const pid = run.pid;
  if (pid !== undefined && tree.some((info) => info.pid === pid)) {
    values['orchestrator.rssBytes'] = await procNumber(pid, 'VmRSS');
    values['orchestrator.fds'] = await fdCount(pid);
  }
  values['tree.processes'] = tree.length;
  values['tree.rssBytes'] = 0;
  values['tree.fds'] = 0;
  for (const info of tree) {
    values['tree.rssBytes'] += await procNumber(info.pid, 'VmRSS');
    values['tree.fds'] += await fdCount(info.pid);
  }
  if (run.socket) {
    const panes = await run.cliTmux(['list-panes', '-a']);
    values.panes = panes.exitCode === 0 ? panes.stdout.split('\n').filter(Boolean).length : 0;
  }
  const worktrees = await run.git(['worktree', 'list', '--porcelain']);
  values.worktrees = worktrees.stdout.split('\n').filter((line) => line.startsWith('worktree ')).length - 1;
  const streams = await run.cli(['bus', 'streams', '--json']);
  if (streams.exitCode === 0) {
    const list = JSON.parse(streams.stdout) as Array<{ name: string; messages: number; bytes: number }>;
    values['streams.bytes'] = list.reduce((sum, stream) => sum + stream.bytes, 0);
    values['kv.keys'] = list.filter((stream) => stream.name.startsWith('KV_')).reduce((sum, stream) => sum + stream.messages, 0);
  }
  values['dataDir.bytes'] = await bytesUnder(run.dataDir);
  return { at, values };
}

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const log = options.log ?? (() => undefined);
  // Two generators: the issues and the faults each the same for a seed, however they interleave in time.
  const random = seededRandom(options.seed);
  const faultRandom = seededRandom(options.seed ^ 0x5bd1e995);
  const run = await SupervisedUp.create({ name: 'soak', backend: options.backend ?? 'tmux' });
  const started = Date.now();
  const feedUntil = started + options.durationMs;
  const issues: PlannedIssue[] = [];
  const faults: string[] = [];
  const samples: Sample[] = [];
  let rows: IssueOutcome[] = [];
  const settled = async () => {
    const shown = await run.issueRows();
    if (shown === undefined) return false;
    rows = shown;
    return issues.every((issue) => rows.some((row) => row.issue === issue.number && ['done', 'failed', 'blocked'].includes(row.state)));
  };
  let nextIssueAt = started;
  let nextFaultAt = started + options.faultEveryMs;
  let nextSampleAt = started;
  run.start();
  try {
    while (Date.now() < feedUntil) {
      if (await run.keepRunning()) log(`soak: orchestrator exited; restarted (${run.restarts})`);
      const now = Date.now();
      if (now >= nextIssueAt) {
        nextIssueAt += options.issueEveryMs;
        const number = issues.length + 1;
        // Now and then a dependency on one of the last few issues.
        const dependsOn = number > 1 && random() < 0.3 ? [Math.max(1, number - 1 - Math.floor(random() * 3))] : [];
        const issue = { number, dependsOn, slow: random() < 0.3 };
        issues.push(issue);
        await writeFile(join(run.issuesDir, `${number}.md`), issueFile(issue));
      }
      if (now >= nextFaultAt) {
        nextFaultAt += options.faultEveryMs;
        const kind = FAULT_KINDS[Math.floor(faultRandom() * FAULT_KINDS.length)]!;
        const target = await run.inject(kind, Date.now() + 5_000);
        faults.push(`${kind} at ${((Date.now() - started) / 1000).toFixed(0)} s: ${target}`);
        log(`soak: ${faults.at(-1)}`);
      }
      if (now >= nextSampleAt) {
        nextSampleAt += options.sampleEveryMs;
        samples.push(await sample(run, now - started));
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    // The stream stops; what was fed must still finish.
    const drainUntil = Date.now() + options.drainMs;
    while (Date.now() < drainUntil && !(await settled())) {
      await run.keepRunning();
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    samples.push(await sample(run, Date.now() - started));
    const kpiRun = await run.cli(['kpi', '--json']);
    const kpis = kpiRun.exitCode === 0 ? (JSON.parse(kpiRun.stdout) as KpiReport) : undefined;
    await run.stop();
    const numbers = issues.map((issue) => issue.number);
    // The fed issues only: the orchestra may file its own (a health issue) in the same tracker,
    // which made the verdict read `24/23 done`.
    const done = rows.filter((row) => numbers.includes(row.issue) && row.state === 'done').length;
    const markers = await taskMarkers(run.dataDir);
    return {
      seed: options.seed,
      samples,
      verdicts: judgeAll(samples, SOAK_RULES, rows.filter((row) => ['done', 'failed', 'blocked'].includes(row.state)).length),
      issues: numbers.length,
      done,
      faults,
      orchestratorRestarts: run.restarts,
      lost: lostIssues(numbers, rows),
      duplicated: [...duplicateRuns(markers), ...(await duplicateEffects(run.dataDir, run.repo, numbers))],
      leaked: await leaks({ runDir: run.runDir, dataDir: run.dataDir, repo: run.repo, socket: run.socket }),
      kpis,
      elapsedMs: Date.now() - started,
    };
  } finally {
    await run.dispose(options.keep ?? false);
  }
}

export function describeSoak(result: SoakResult): string {
  const lines = [`soak seed ${result.seed}: ${(result.elapsedMs / 1000).toFixed(0)} s, ${result.samples.length} samples, ${result.faults.length} faults (${result.faults.filter((fault) => fault.endsWith(NO_TARGET)).length} without a target), orchestrator restarted ${result.orchestratorRestarts} time(s)`];
  for (const verdict of result.verdicts) lines.push(`  ${verdict.ok ? 'bounded' : 'GROWS  '} ${verdict.name}: ${verdict.detail}`);
  if (result.kpis) {
    const ratio = (value: number | null) => (value === null ? 'n/a' : `${(value * 100).toFixed(1)} %`);
    const k = result.kpis;
    lines.push(`KPIs: autonomy ${ratio(k.autonomy.ratio)}; throughput ${k.throughput.finishedPerDay.toFixed(0)} issues/day; MTTR ${k.mttr.meanMs === null ? 'n/a' : `${Math.round(k.mttr.meanMs)} ms`}; utilization ${ratio(k.utilization.ratio)}; success ${ratio(k.successRate.issues)}`);
  } else lines.push('KPIs: not read');
  for (const [label, items] of [['lost', result.lost], ['duplicated', result.duplicated], ['leaked', result.leaked]] as const) for (const item of items) lines.push(`${label}: ${item}`);
  const grows = result.verdicts.filter((verdict) => !verdict.ok).length;
  lines.push(`soak: ${result.done}/${result.issues} done, ${grows} growing, ${result.lost.length} lost, ${result.duplicated.length} duplicated, ${result.leaked.length} leaked`);
  return lines.join('\n');
}
