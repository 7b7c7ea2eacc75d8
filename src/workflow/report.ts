/**
 * The daily and weekly reports (docs/OPERATIONS.md, "Reports"): what `miyabi-orchestra report`
 * prints and the orchestra posts, built from its durable records only — the events stream read
 * back over the period (MIYABI_EVENTS: results, finished issues, KPI facts, health reports) and
 * the issues' records in the KV bucket (states now, SLA deadlines). Pure: the period, the envelopes
 * and the records in, the report out, so a scripted history has exact answers
 * (test/workflow/report.test.ts). The KPIs are `computeKpis` of ./kpi-report.ts, the same as `kpi`.
 *
 *   issues          finished in the period (`issue.finished`, the last outcome of each issue);
 *                   blocked and waiting for a person as the KV records say when the report is made
 *   slowest stages  task results of the period by duration; and per stage, count, mean, max
 *   restarts        runs of the orchestrator that began in the period (a new `startedAt` in the
 *                   health reports; planned when a `kpi.stopped` came since the last run began),
 *                   and the recoveries (`kpi.recovery`) and faults never recovered (`kpi.fault`)
 *   cost            the `cost` the agents reported with their results, per role; "not reported"
 *                   when no result of the period carried one
 *   budget spend    the budget ledger's durable spend per role (dollars, wall-clock, tokens,
 *                   tasks) over the budget days the period touches (src/workflow/budget-ledger.ts
 *                   `readDaySpends`, summed by src/machines/budget.ts `spendPerRole`); wall-clock
 *                   is counted even when no agent reports a cost
 *   SLA breaches    issues whose deadline (`discoveredAt + workflow.priority.slaMs[priority]`)
 *                   fell in the period while they were not done by it
 *   failure reasons failed issues' and failed tasks' reasons, counted, the most frequent first
 */
import type { Envelope } from '../infra/bus/envelope.ts';
import { addSpend, budgetDay, emptySpend, spendPerRole, type DaySpend, type Spend } from '../machines/budget.ts';
import { KpiFacts } from './kpi-facts.ts';
import { computeKpis, type KpiReport } from './kpi-report.ts';
import type { ReportPeriod } from './report-period.ts';

/** What the report needs of an issue's KV record (`reportIssueOf` in ./report-read.ts). */
export interface ReportIssue {
  number: number;
  title: string;
  state: string;
  priority: number;
  discoveredAt: number;
  finishedAt?: number;
  /** Why it is blocked or failed; the question it waits on. */
  reason?: string;
}

export interface IssueLine {
  number: number;
  title: string;
  reason?: string;
  at?: string;
}

export interface StageDuration {
  stage: string;
  role: string;
  issue: number;
  status: string;
  durationMs: number;
  at: string;
}

export interface RoleCost {
  results: number;
  /** Results that carried a cost. */
  reported: number;
  usd: number;
  inputTokens: number;
  outputTokens: number;
}

export interface Report {
  period: { kind: ReportPeriod['kind']; start: string; timeZone: string; since: string; until: string; key: string; complete: boolean };
  generatedAt: string;
  /** Nothing happened: no result, no finished issue, no fault, no start, no SLA breach. */
  empty: boolean;
  issues: { done: IssueLine[]; failed: IssueLine[]; released: IssueLine[]; blocked: IssueLine[]; waitingForHumans: IssueLine[] };
  kpis: KpiReport;
  slowestStages: StageDuration[];
  stages: Array<{ stage: string; role: string; count: number; meanMs: number; maxMs: number }>;
  restarts: {
    starts: Array<{ at: string; planned: boolean }>;
    recoveries: Array<{ actor: string; fault: string; noticedAt: string; recoveredAt: string; ms: number }>;
    unrecovered: Array<{ actor: string; fault: string; at: string }>;
  };
  /** Null when no result of the period carried a cost: not reported, rather than zero. */
  cost: { byRole: Record<string, RoleCost>; total: Omit<RoleCost, 'results' | 'reported'> } | null;
  /** The ledger's spend per role over the budget days `from`..`to`; null when the ledger was not read. */
  budget: { timeZone: string; from: string; to: string; byRole: Record<string, Spend>; total: Spend } | null;
  slaBreaches: Array<{ issue: number; title: string; priority: number; deadline: string; state: string }>;
  failureReasons: Array<{ reason: string; count: number; issues: number[] }>;
}

export interface ReportInput {
  period: ReportPeriod;
  /** When the report is made: a period not over yet is reported up to here. */
  now: number;
  /** The events stream from the period's start (later ones are left out). */
  envelopes: Iterable<Pick<Envelope, 'type' | 'ts' | 'payload'>>;
  records: readonly ReportIssue[];
  /** The SLA of a priority (ms): `slaMsOf(priority, config.workflow)`. */
  slaMs: (priority: number) => number;
  /** The budget ledger's days (`budget.timeZone`), as `readDaySpends` reads them; absent: no budget section. */
  budget?: { timeZone: string; days: readonly DaySpend[] };
}

export const SLOWEST = 5;
export const TOP_REASONS = 5;
/** A reason is counted by its first line, this long at most: the rest (a log excerpt) differs each time. */
const REASON_CHARS = 120;

const record = (value: unknown): Record<string, unknown> => (value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : {});
const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const num = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);
const iso = (at: number): string => new Date(at).toISOString();
const shortReason = (reason: string): string => (reason.split('\n', 1)[0] ?? '').trim().slice(0, REASON_CHARS) || '(no reason given)';

export function buildReport(input: ReportInput): Report {
  const { period, now, records } = input;
  const until = Math.min(period.until, now);
  const inPeriod = (at: number) => at >= period.since && at < until;
  const titles = new Map(records.map((issue) => [issue.number, issue.title]));
  const line = (number: number, extra: Omit<IssueLine, 'number' | 'title'> = {}): IssueLine => ({ number, title: titles.get(number) ?? '', ...extra });

  const facts = new KpiFacts();
  const finished = new Map<number, { outcome: string; reason?: string; at: number }>();
  const results = new Map<string, { stage: string; role: string; issue: number; status: string; reason: string; durationMs: number; at: number; cost?: Record<string, unknown> }>();
  const starts = new Map<number, number>();
  const stops: number[] = [];
  for (const envelope of input.envelopes) {
    const at = Date.parse(envelope.ts);
    if (!Number.isFinite(at) || at >= until) continue;
    facts.add(envelope);
    const payload = record(envelope.payload);
    if (envelope.type === 'kpi.stopped') stops.push(at);
    if (envelope.type === 'health.report') {
      const startedAt = Date.parse(text(payload.startedAt) ?? '');
      if (Number.isFinite(startedAt) && !starts.has(startedAt)) starts.set(startedAt, at);
    }
    if (!inPeriod(at)) continue;
    if (envelope.type === 'issue.finished' && num(payload.number) !== undefined) {
      const outcome = text(payload.outcome) ?? '';
      finished.set(num(payload.number)!, { outcome, at, ...(text(payload.reason) ? { reason: text(payload.reason)! } : {}) });
    }
    if (envelope.type === 'task.result' && text(payload.taskId) !== undefined && text(payload.status) !== undefined) {
      const key = `${text(payload.taskId)}:${num(payload.attempt) ?? 0}`;
      if (results.has(key)) continue;
      results.set(key, {
        stage: text(payload.stage) ?? '?',
        role: text(payload.role) ?? '?',
        issue: num(payload.issue) ?? 0,
        status: text(payload.status)!,
        reason: text(payload.reason) ?? '',
        durationMs: num(payload.durationMs) ?? 0,
        at,
        ...(payload.cost === undefined ? {} : { cost: record(payload.cost) }),
      });
    }
  }

  const byOutcome = (outcome: string) =>
    [...finished].filter(([, entry]) => entry.outcome === outcome).sort(([a], [b]) => a - b).map(([number, entry]) => line(number, { at: iso(entry.at), ...(entry.reason ? { reason: shortReason(entry.reason) } : {}) }));
  const inState = (state: string) => records.filter((issue) => issue.state === state).map((issue) => line(issue.number, issue.reason ? { reason: shortReason(issue.reason) } : {}));
  const issues: Report['issues'] = {
    done: byOutcome('done'),
    failed: byOutcome('failed'),
    released: byOutcome('released'),
    blocked: inState('blocked'),
    waitingForHumans: inState('waiting_for_human'),
  };

  const tasks = [...results.values()];
  const slowestStages = [...tasks]
    .sort((a, b) => b.durationMs - a.durationMs || a.at - b.at)
    .slice(0, SLOWEST)
    .map(({ stage, role, issue, status, durationMs, at }) => ({ stage, role, issue, status, durationMs, at: iso(at) }));
  const stageTotals = new Map<string, { stage: string; role: string; count: number; totalMs: number; maxMs: number }>();
  for (const task of tasks) {
    const entry = stageTotals.get(`${task.stage}\0${task.role}`) ?? { stage: task.stage, role: task.role, count: 0, totalMs: 0, maxMs: 0 };
    entry.count += 1;
    entry.totalMs += task.durationMs;
    entry.maxMs = Math.max(entry.maxMs, task.durationMs);
    stageTotals.set(`${task.stage}\0${task.role}`, entry);
  }
  const stages = [...stageTotals.values()]
    .map(({ stage, role, count, totalMs, maxMs }) => ({ stage, role, count, meanMs: totalMs / count, maxMs }))
    .sort((a, b) => b.meanMs - a.meanMs || a.stage.localeCompare(b.stage));

  const restarts = restartsOf(facts, starts, stops, inPeriod);
  const cost = costOf(tasks);
  const budget = input.budget === undefined ? null : budgetOf(input.budget, period.since, until);

  const slaBreaches: Report['slaBreaches'] = [];
  for (const issue of records) {
    const deadline = issue.discoveredAt + input.slaMs(issue.priority);
    if (!Number.isFinite(deadline) || !inPeriod(deadline) || issue.state === 'released') continue;
    const doneInTime = issue.state === 'done' && issue.finishedAt !== undefined && issue.finishedAt <= deadline;
    if (!doneInTime) slaBreaches.push({ issue: issue.number, title: issue.title, priority: issue.priority, deadline: iso(deadline), state: issue.state });
  }
  slaBreaches.sort((a, b) => a.deadline.localeCompare(b.deadline) || a.issue - b.issue);

  const reasons = new Map<string, Set<number>>();
  const counts = new Map<string, number>();
  const count = (reason: string, issue: number) => {
    const key = shortReason(reason);
    counts.set(key, (counts.get(key) ?? 0) + 1);
    reasons.set(key, (reasons.get(key) ?? new Set()).add(issue));
  };
  for (const task of tasks) if (task.status === 'failure') count(task.reason, task.issue);
  for (const [number, entry] of finished) if (entry.outcome === 'failed') count(entry.reason ?? '', number);
  const failureReasons = [...counts]
    .sort(([a, x], [b, y]) => y - x || a.localeCompare(b))
    .slice(0, TOP_REASONS)
    .map(([reason, total]) => ({ reason, count: total, issues: [...reasons.get(reason)!].sort((a, b) => a - b) }));

  const empty = finished.size === 0 && tasks.length === 0 && slaBreaches.length === 0 && restarts.starts.length === 0 && restarts.recoveries.length === 0 && restarts.unrecovered.length === 0;
  return {
    period: { kind: period.kind, start: period.start, timeZone: period.timeZone, since: iso(period.since), until: iso(period.until), key: period.key, complete: now >= period.until },
    generatedAt: iso(now),
    empty,
    issues,
    kpis: computeKpis(facts.facts, { since: period.since, until }),
    slowestStages,
    stages,
    restarts,
    cost,
    budget,
    slaBreaches,
    failureReasons,
  };
}

function restartsOf(facts: KpiFacts, starts: ReadonlyMap<number, number>, stops: readonly number[], inPeriod: (at: number) => boolean): Report['restarts'] {
  const began = [...starts.keys()].sort((a, b) => a - b);
  const runs: Report['restarts']['starts'] = [];
  began.forEach((startedAt, index) => {
    if (!inPeriod(startedAt)) return;
    // Planned: the run before was asked to stop (a signal, `stop`) after it began and before this one.
    const previous = began[index - 1];
    const planned = previous !== undefined && stops.some((at) => at >= previous && at <= startedAt);
    runs.push({ at: iso(startedAt), planned });
  });
  const recoveries: Report['restarts']['recoveries'] = [];
  const unrecovered: Report['restarts']['unrecovered'] = [];
  const all = facts.facts;
  for (const fact of all) {
    if (!inPeriod(fact.at)) continue;
    if (fact.kind === 'recovery') recoveries.push({ actor: fact.actor, fault: fact.fault, noticedAt: iso(fact.noticedAt), recoveredAt: iso(fact.at), ms: Math.max(0, fact.at - fact.noticedAt) });
    if (fact.kind === 'fault') {
      const recovered = all.some((other) => other.kind === 'recovery' && other.actor === fact.actor && other.noticedAt <= fact.at && other.at >= fact.at);
      if (!recovered) unrecovered.push({ actor: fact.actor, fault: fact.fault, at: iso(fact.at) });
    }
  }
  recoveries.sort((a, b) => a.recoveredAt.localeCompare(b.recoveredAt));
  return { starts: runs, recoveries, unrecovered };
}

function costOf(tasks: ReadonlyArray<{ role: string; cost?: Record<string, unknown> }>): Report['cost'] {
  const byRole: Record<string, RoleCost> = {};
  const total = { usd: 0, inputTokens: 0, outputTokens: 0 };
  let reported = 0;
  for (const task of tasks) {
    const entry = (byRole[task.role] ??= { results: 0, reported: 0, usd: 0, inputTokens: 0, outputTokens: 0 });
    entry.results += 1;
    if (!task.cost) continue;
    entry.reported += 1;
    reported += 1;
    for (const field of ['usd', 'inputTokens', 'outputTokens'] as const) {
      const value = num(task.cost[field]) ?? 0;
      entry[field] += value;
      total[field] += value;
    }
  }
  return reported === 0 ? null : { byRole, total };
}

/** The budget days a period touches: from the day of its start to the day of its last instant, in the budget's time zone. */
export function budgetDaysOf(since: number, until: number, timeZone: string): { from: string; to: string } {
  return { from: budgetDay(since, timeZone), to: budgetDay(Math.max(since, until - 1), timeZone) };
}

function budgetOf(budget: NonNullable<ReportInput['budget']>, since: number, until: number): Report['budget'] {
  const { from, to } = budgetDaysOf(since, until, budget.timeZone);
  const byRole = spendPerRole(budget.days, from, to);
  return { timeZone: budget.timeZone, from, to, byRole, total: Object.values(byRole).reduce(addSpend, emptySpend()) };
}
