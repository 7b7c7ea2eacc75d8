/**
 * The daily/weekly report's pure builder on a scripted history with its answers worked out by
 * hand, an empty period, and the periods' boundaries in a time zone (DST included).
 */
import { describe, expect, it } from 'vitest';
import type { DaySpend } from '../../src/machines/budget.ts';
import { buildReport, type ReportIssue } from '../../src/workflow/report.ts';
import { lastCompletePeriod, parseReportDate, periodOf } from '../../src/workflow/report-period.ts';
import { renderReport } from '../../src/workflow/report-render.ts';

const T = (time: string) => `2030-01-02T${time}Z`;
const at = (time: string) => Date.parse(T(time));
const MIN = 60_000;
const env = (type: string, ts: string, payload: unknown) => ({ type, ts, payload });
const result = (ts: string, taskId: string, attempt: number, issue: number, role: string, stage: string, status: string, durationMs: number, extra: object = {}) =>
  env('task.result', ts, { taskId, attempt, issue, role, stage, status, reason: status === 'failure' ? 'tests failed\nnpm ERR! 3 failing' : 'ok', durationMs, agentId: `${role}-1`, worktree: '/w', branch: 'b', ...extra });
const health = (ts: string, startedAt: string) => env('health.report', ts, { ok: true, problems: [], intervalMs: MIN, agents: { codegen: 1, pr: 1 }, startedAt });

const history = [
  result('2030-01-01T23:00:00Z', 'old', 1, 9, 'codegen', 'implement', 'success', 1000),
  health(T('00:00:00'), '2030-01-01T20:00:00Z'),
  result(T('00:00:50'), 't1', 1, 1, 'codegen', 'implement', 'success', 50_000, { cost: { usd: 0.5, inputTokens: 1000, outputTokens: 200 } }),
  result(T('00:00:50'), 't1', 1, 1, 'codegen', 'implement', 'success', 50_000, { cost: { usd: 0.5, inputTokens: 1000, outputTokens: 200 } }),
  result(T('00:01:00'), 't2', 1, 2, 'codegen', 'implement', 'failure', 20_000),
  health(T('00:01:00'), '2030-01-01T20:00:00Z'),
  env('kpi.stopped', T('00:01:30'), { reason: 'SIGTERM' }),
  env('kpi.fault', T('00:05:00'), { actor: 'agents/pool.codegen/codegen-1', fault: 'pane_died' }),
  env('kpi.recovery', T('00:05:02'), { actor: 'agents/pool.codegen/codegen-1', fault: 'pane_died', noticedAt: T('00:05:00') }),
  health(T('00:10:00'), T('00:10:00')),
  result(T('00:10:30'), 't2', 2, 2, 'codegen', 'implement', 'failure', 30_000),
  env('issue.finished', T('00:10:40'), { number: 2, outcome: 'failed', reason: 'tests failed', generation: 1 }),
  health(T('00:11:00'), T('00:10:00')),
  result(T('00:11:00'), 't3', 1, 1, 'pr', 'pr', 'success', 5_000, { cost: { usd: 0.25, inputTokens: 500 } }),
  env('issue.finished', T('00:11:00'), { number: 1, outcome: 'done', reason: 'merged', generation: 1 }),
  env('kpi.fault', T('00:20:00'), { actor: 'core/issue-watcher', fault: 'heartbeat_lost' }),
];

const records: ReportIssue[] = [
  { number: 1, title: 'Add parser', state: 'done', priority: 1, discoveredAt: Date.parse('2030-01-01T23:00:00Z'), finishedAt: at('00:11:00') },
  { number: 2, title: 'Fix @alice | tests', state: 'failed', priority: 0, discoveredAt: Date.parse('2030-01-01T23:50:00Z'), finishedAt: at('00:10:40'), reason: 'tests failed' },
  { number: 3, title: 'Docs', state: 'blocked', priority: 2, discoveredAt: at('00:00:00'), reason: 'depends on #9, which failed' },
  { number: 4, title: 'API', state: 'waiting_for_human', priority: 3, discoveredAt: at('00:00:00'), reason: 'Which API?' },
  { number: 5, title: 'Quick', state: 'done', priority: 2, discoveredAt: at('00:00:00'), finishedAt: at('00:30:00') },
];
const SLA = [20 * MIN, 30 * MIN, 60 * MIN, 1440 * MIN];
const slaMs = (priority: number) => SLA[Math.min(priority, SLA.length - 1)]!;

describe('buildReport on a scripted day', () => {
  const period = periodOf('daily', at('12:00:00'), 'UTC');
  const report = buildReport({ period, now: Date.parse('2030-01-03T06:00:00Z'), envelopes: history, records, slaMs });

  it('names the period, complete', () => {
    expect(report.period).toEqual({ kind: 'daily', start: '2030-01-02', timeZone: 'UTC', since: T('00:00:00.000'), until: '2030-01-03T00:00:00.000Z', key: 'report.daily.2030-01-02', complete: true });
    expect(report.empty).toBe(false);
  });

  it('lists issues done and failed in the period, blocked and waiting for a person now', () => {
    expect(report.issues.done).toEqual([{ number: 1, title: 'Add parser', at: T('00:11:00.000'), reason: 'merged' }]);
    expect(report.issues.failed).toEqual([{ number: 2, title: 'Fix @alice | tests', at: T('00:10:40.000'), reason: 'tests failed' }]);
    expect(report.issues.blocked).toEqual([{ number: 3, title: 'Docs', reason: 'depends on #9, which failed' }]);
    expect(report.issues.waitingForHumans).toEqual([{ number: 4, title: 'API', reason: 'Which API?' }]);
  });

  it('has the KPIs of the period, as kpi computes them', () => {
    expect(report.kpis.throughput).toEqual({ finishedPerDay: 2, donePerDay: 1, finished: 2, done: 1, failed: 1, released: 0 });
    expect(report.kpis.successRate).toEqual({ issues: 0.5, tasks: 0.5, tasksNormal: 2, tasksTotal: 4 });
    expect(report.kpis.autonomy.interventions.manual_restart).toBe(1);
    // Up 00:00–00:01 and 00:10–00:11; down between.
    expect(report.kpis.window.observedMs).toBe(11 * MIN);
    expect(report.kpis.autonomy.downMs).toBe(9 * MIN);
    expect(report.kpis.mttr).toMatchObject({ meanMs: 2000, recoveries: 1, unrecovered: 1 });
  });

  it('ranks the slowest stages, a duplicate result once, the day before left out', () => {
    expect(report.slowestStages.map((stage) => [stage.issue, stage.stage, stage.durationMs])).toEqual([[1, 'implement', 50_000], [2, 'implement', 30_000], [2, 'implement', 20_000], [1, 'pr', 5_000]]);
    expect(report.stages).toEqual([
      { stage: 'implement', role: 'codegen', count: 3, meanMs: 100_000 / 3, maxMs: 50_000 },
      { stage: 'pr', role: 'pr', count: 1, meanMs: 5_000, maxMs: 5_000 },
    ]);
  });

  it('lists the starts, recoveries and faults not recovered with their times', () => {
    expect(report.restarts).toEqual({
      starts: [{ at: T('00:10:00.000'), planned: true }],
      recoveries: [{ actor: 'agents/pool.codegen/codegen-1', fault: 'pane_died', noticedAt: T('00:05:00.000'), recoveredAt: T('00:05:02.000'), ms: 2000 }],
      unrecovered: [{ actor: 'core/issue-watcher', fault: 'heartbeat_lost', at: T('00:20:00.000') }],
    });
  });

  it('adds up the cost and tokens the agents reported, per role', () => {
    expect(report.cost).toEqual({
      byRole: { codegen: { results: 3, reported: 1, usd: 0.5, inputTokens: 1000, outputTokens: 200 }, pr: { results: 1, reported: 1, usd: 0.25, inputTokens: 500, outputTokens: 0 } },
      total: { usd: 0.75, inputTokens: 1500, outputTokens: 200 },
    });
  });

  it('finds the SLA deadlines that passed in the period on issues not done by then', () => {
    expect(report.slaBreaches).toEqual([
      { issue: 2, title: 'Fix @alice | tests', priority: 0, deadline: T('00:10:00.000'), state: 'failed' },
      { issue: 3, title: 'Docs', priority: 2, deadline: T('01:00:00.000'), state: 'blocked' },
    ]);
  });

  it('counts the failure reasons by their first line', () => {
    expect(report.failureReasons).toEqual([{ reason: 'tests failed', count: 3, issues: [2] }]);
  });

  it('renders Markdown with untrusted text kept on one line and nobody pinged', () => {
    const text = renderReport(report);
    expect(text).toContain('## Miyabi Orchestra daily report: 2030-01-02 (UTC)');
    expect(text).toContain("- #2 Fix @\u200balice ' tests — tests failed");
    expect(text).toContain('| success rate | 50.0% |');
    expect(text).toContain('- 3× tests failed (#2)');
    expect(text).toContain('| codegen | 3 (1) | 0.50 | 1000 | 200 |');
    expect(text).toContain('- orchestra started at 2030-01-02T00:10:00.000Z (after a stop that was asked for)');
    expect(text).not.toContain('No activity');
  });
});

describe('the budget spend in the report', () => {
  const spend = (usd: number, wallClockMs: number, tasks: number) => ({ usd, wallClockMs, inputTokens: 10 * tasks, outputTokens: tasks, tasks });
  const days: DaySpend[] = [
    { day: '2030-01-01', roles: { codegen: spend(9, 60_000, 9) } },
    { day: '2030-01-02', roles: { codegen: spend(1.5, 120_000, 2), review: spend(0, 30_000, 1) } },
    { day: '2030-01-03', roles: { codegen: spend(4, 60_000, 1) } },
  ];

  it("sums the ledger's spend per role over the budget days of the period, wall-clock with it, without a reported cost too", () => {
    const period = periodOf('daily', at('12:00:00'), 'UTC');
    const report = buildReport({ period, now: Date.parse('2030-01-03T06:00:00Z'), envelopes: [], records: [], slaMs, budget: { timeZone: 'UTC', days } });
    expect(report.budget).toEqual({
      timeZone: 'UTC',
      from: '2030-01-02',
      to: '2030-01-02',
      byRole: { codegen: spend(1.5, 120_000, 2), review: spend(0, 30_000, 1) },
      total: spend(1.5, 150_000, 3),
    });
    const text = renderReport(report);
    expect(text).toContain('### Budget spend (the budget ledger, budget day 2030-01-02, UTC)');
    expect(text).toContain('| codegen | 2 | 1.50 | 2m | 20 | 2 |');
    expect(text).toContain('| review | 1 | 0.00 | 30s | 10 | 1 |');
    expect(text).toContain('| total | 3 | 1.50 | 2m30s | 30 | 3 |');
  });

  it('takes every budget day a period touches when the budget keeps another time zone', () => {
    // A UTC day runs from 09:00 one Tokyo day to 09:00 the next: both budget days are in it.
    const period = periodOf('daily', at('12:00:00'), 'UTC');
    const report = buildReport({ period, now: Date.parse('2030-01-03T06:00:00Z'), envelopes: [], records: [], slaMs, budget: { timeZone: 'Asia/Tokyo', days } });
    expect(report.budget).toMatchObject({ from: '2030-01-02', to: '2030-01-03', total: spend(5.5, 210_000, 4) });
  });

  it('is left out when the ledger was not read', () => {
    const report = buildReport({ period: periodOf('daily', at('12:00:00'), 'UTC'), now: at('13:00:00'), envelopes: [], records: [], slaMs });
    expect(report.budget).toBeNull();
    expect(renderReport(report)).not.toContain('Budget spend');
  });
});

describe('buildReport on a period with no activity', () => {
  it('is an honest empty report: nothing finished, cost not reported, no ratios', () => {
    const period = periodOf('daily', Date.parse('2030-01-05T12:00:00Z'), 'UTC');
    const report = buildReport({ period, now: Date.parse('2030-01-06T01:00:00Z'), envelopes: history, records: [], slaMs });
    expect(report.empty).toBe(true);
    expect(report.issues).toEqual({ done: [], failed: [], released: [], blocked: [], waitingForHumans: [] });
    expect(report.cost).toBeNull();
    expect(report.slowestStages).toEqual([]);
    expect(report.kpis.autonomy.ratio).toBeNull();
    expect(report.kpis.throughput.finished).toBe(0);
    const text = renderReport(report);
    expect(text).toContain('**No activity in this period**');
    expect(text).toContain('Not reported: no agent result of this period carried a cost.');
  });

  it('reports a period not over yet up to now', () => {
    const period = periodOf('weekly', at('12:00:00'), 'UTC');
    const report = buildReport({ period, now: at('00:05:00'), envelopes: history, records, slaMs });
    expect(report.period.complete).toBe(false);
    expect(report.issues.done).toEqual([]);
    expect(report.kpis.window.until).toBe(T('00:05:00.000'));
    expect(renderReport(report)).toContain('(not over: up to 2030-01-02T00:05:00.000Z)');
  });
});

describe('report periods', () => {
  it('follow the time zone: a Tokyo day starts at 15:00 UTC the day before', () => {
    const day = periodOf('daily', Date.parse('2026-12-02T13:00:00Z'), 'Asia/Tokyo');
    expect([day.key, new Date(day.since).toISOString(), new Date(day.until).toISOString()]).toEqual(['report.daily.2026-12-02', '2026-12-01T15:00:00.000Z', '2026-12-02T15:00:00.000Z']);
  });

  it('weeks run Monday to Monday, and a DST day lasts 23 hours', () => {
    const week = periodOf('weekly', Date.parse('2026-03-08T12:00:00Z'), 'America/New_York');
    expect([week.key, new Date(week.since).toISOString(), new Date(week.until).toISOString()]).toEqual(['report.weekly.2026-03-02', '2026-03-02T05:00:00.000Z', '2026-03-09T04:00:00.000Z']);
    const day = periodOf('daily', Date.parse('2026-03-08T12:00:00Z'), 'America/New_York');
    expect(day.until - day.since).toBe(23 * 3_600_000);
  });

  it('a firing reports the last complete period', () => {
    expect(lastCompletePeriod('daily', Date.parse('2026-12-02T00:00:05Z'), 'UTC').key).toBe('report.daily.2026-12-01');
    expect(lastCompletePeriod('weekly', Date.parse('2026-12-02T00:00:05Z'), 'UTC').key).toBe('report.weekly.2026-11-23');
  });

  it('--at takes a date in the zone or an ISO time, and nothing else', () => {
    expect(periodOf('daily', parseReportDate('2026-12-01', 'Pacific/Kiritimati')!, 'Pacific/Kiritimati').since).toBe(Date.parse('2026-11-30T10:00:00Z'));
    expect(parseReportDate('2026-12-01T23:30:00Z', 'UTC')).toBe(Date.parse('2026-12-01T23:30:00Z'));
    expect(parseReportDate('2026-02-30', 'UTC')).toBeUndefined();
    expect(parseReportDate('yesterday', 'UTC')).toBeUndefined();
  });
});
