/** The five KPIs on a scripted history whose answers are worked out by hand (docs/KPI.md). */
import { describe, expect, it } from 'vitest';
import { KpiFacts } from '../../src/workflow/kpi-facts.ts';
import { computeKpis, unionLength, type KpiFact } from '../../src/workflow/kpi-report.ts';

const T0 = Date.parse('2030-01-01T00:00:00Z');
const MIN = 60_000;
const DAY = 86_400_000;
const at = (minutes: number) => T0 + minutes * MIN;
const window = { since: T0, until: T0 + DAY };
const agents = { conductor: 1, codegen: 2, review: 1 };

/** Reports every minute 0…60 and 70…100: the orchestra was down from 60 to 70. */
function alive(): KpiFact[] {
  const minutes = [...Array.from({ length: 61 }, (_, m) => m), ...Array.from({ length: 31 }, (_, m) => 70 + m)];
  return minutes.map((m) => ({ kind: 'alive', at: at(m), intervalMs: MIN, agents }));
}

const task = (m: number, issue: number, role: string, durationMin: number, status: string): KpiFact => ({
  kind: 'task', at: at(m), issue, role, durationMs: durationMin * MIN, status,
});

const history: KpiFact[] = [
  ...alive(),
  { kind: 'alive', at: T0 - 5 * MIN, intervalMs: MIN, agents }, // before the window: not counted
  task(20, 1, 'codegen', 10, 'success'),
  task(40, 2, 'codegen', 30, 'needs_input'),
  task(80, 2, 'codegen', 5, 'success'),
  task(30, 1, 'review', 9, 'success'),
  task(90, 3, 'review', 9, 'failure'),
  task(50, 5, 'conductor', 20, 'success'),
  { kind: 'finished', at: at(31), issue: 1, outcome: 'done' },
  { kind: 'finished', at: at(81), issue: 2, outcome: 'done' },
  { kind: 'finished', at: at(91), issue: 3, outcome: 'failed' },
  { kind: 'finished', at: at(95), issue: 4, outcome: 'released' },
  { kind: 'finished', at: T0 - MIN, issue: 9, outcome: 'failed' }, // before the window
  { kind: 'intervention', at: at(65), intervention: 'answer', issue: 2 }, // question at 40: waited 40…65
  { kind: 'intervention', at: at(95), intervention: 'retry_command', issue: 3 }, // failed at 91: waited 91…95
  { kind: 'intervention', at: at(50), intervention: 'label_edit', issue: 1 }, // no wait
  { kind: 'fault', at: at(10.01), actor: 'pool.codegen/codegen-1', fault: 'pane_died' }, // published just after it was noticed
  { kind: 'fault', at: at(40), actor: 'pool.codegen/codegen-1', fault: 'pane_died' }, // again, after its recovery: never recovered
  { kind: 'recovery', at: at(12), actor: 'pool.codegen/codegen-1', fault: 'pane_died', noticedAt: at(10) },
  { kind: 'fault', at: at(30), actor: 'bus', fault: 'nats_reconnect' },
  { kind: 'recovery', at: at(30.5), actor: 'bus', fault: 'nats_reconnect', noticedAt: at(30) },
  { kind: 'fault', at: at(85), actor: 'issue-watcher', fault: 'actor_crash' }, // never recovered
];

describe('computeKpis on a scripted history', () => {
  const report = computeKpis(history, window);

  it('autonomy: observed 100 min, down 60…70, waiting for a person 40…65 and 91…95 → 1 − 34/100', () => {
    expect(report.window.observedMs).toBe(100 * MIN);
    expect(report.autonomy.downMs).toBe(10 * MIN);
    expect(report.autonomy.waitingForPersonMs).toBe(29 * MIN);
    expect(report.autonomy.ratio).toBeCloseTo(0.66, 12);
    expect(report.autonomy.interventions).toEqual({ answer: 1, retry_command: 1, label_edit: 1, manual_restart: 0 });
  });

  it('throughput: 4 finished (2 done) in a one-day window', () => {
    expect(report.throughput).toEqual({ finishedPerDay: 4, donePerDay: 2, finished: 4, done: 2, failed: 1, released: 1 });
  });

  it('MTTR: the mean of 2 min, 30 s and the 10 min the orchestra was down; the fault never recovered is counted apart', () => {
    expect(report.mttr.meanMs).toBe(250_000);
    expect(report.mttr.recoveries).toBe(3);
    expect(report.mttr.unrecovered).toBe(2);
    expect(report.mttr.byFault).toEqual({
      orchestra_down: { meanMs: 10 * MIN, count: 1 },
      pane_died: { meanMs: 2 * MIN, count: 1 },
      nats_reconnect: { meanMs: 30_000, count: 1 },
    });
  });

  it('utilization: busy / available per role over the 90 min up, the Conductor excluded', () => {
    expect(report.utilization.byRole).toEqual({
      codegen: { busyMs: 45 * MIN, availableMs: 180 * MIN, ratio: 0.25 },
      review: { busyMs: 18 * MIN, availableMs: 90 * MIN, ratio: 0.2 },
    });
    expect(report.utilization.ratio).toBeCloseTo(63 / 270, 12);
  });

  it('success rate: issues done / (done + failed); tasks completed normally / all results', () => {
    expect(report.successRate.issues).toBeCloseTo(2 / 3, 12);
    expect(report.successRate).toMatchObject({ tasks: 4 / 6, tasksNormal: 4, tasksTotal: 6 });
  });

  it('reads the same from facts given in any order', () => {
    expect(computeKpis([...history].reverse(), window)).toEqual(report);
  });
});

describe('computeKpis edge cases', () => {
  it('an empty window: no ratio, nothing per day, no MTTR', () => {
    const report = computeKpis([], window);
    expect(report.autonomy.ratio).toBeNull();
    expect(report.throughput.finishedPerDay).toBe(0);
    expect(report.mttr).toEqual({ meanMs: null, recoveries: 0, unrecovered: 0, byFault: {} });
    expect(report.utilization).toEqual({ ratio: null, byRole: {} });
    expect(report.successRate).toEqual({ issues: null, tasks: null, tasksNormal: 0, tasksTotal: 0 });
  });

  it('a window of zero length has no throughput', () => {
    expect(computeKpis([{ kind: 'finished', at: T0, issue: 1, outcome: 'done' }], { since: T0, until: T0 }).throughput.finishedPerDay).toBe(0);
  });

  it('no agents present: utilization has no ratio, even with results', () => {
    const facts: KpiFact[] = [
      { kind: 'alive', at: at(0), intervalMs: MIN, agents: {} },
      { kind: 'alive', at: at(1), intervalMs: MIN, agents: {} },
      task(1, 1, 'codegen', 1, 'success'),
    ];
    const report = computeKpis(facts, window);
    expect(report.utilization.ratio).toBeNull();
    expect(report.utilization.byRole.codegen).toEqual({ busyMs: MIN, availableMs: 0, ratio: null });
    expect(report.autonomy.ratio).toBe(1);
  });

  it('a fault never recovered gives no MTTR but is counted', () => {
    const report = computeKpis([{ kind: 'fault', at: at(1), actor: 'bus', fault: 'nats_reconnect' }], window);
    expect(report.mttr).toMatchObject({ meanMs: null, recoveries: 0, unrecovered: 1 });
  });

  it('a single health report observes no time: autonomy unknown', () => {
    expect(computeKpis([{ kind: 'alive', at: at(1), intervalMs: MIN, agents }], window).autonomy.ratio).toBeNull();
  });

  it('utilization is capped at 1 when results overlap more than the agents present', () => {
    const facts: KpiFact[] = [
      { kind: 'alive', at: at(0), intervalMs: MIN, agents: { codegen: 1 } },
      { kind: 'alive', at: at(1), intervalMs: MIN, agents: { codegen: 1 } },
      task(1, 1, 'codegen', 1, 'success'),
      task(1, 2, 'codegen', 1, 'success'),
    ];
    expect(computeKpis(facts, window).utilization.byRole.codegen!.ratio).toBe(1);
  });

  it('a gap with a planned stop in it is a manual restart, down for autonomy but no fault for the MTTR', () => {
    const reports = (from: number, to: number): KpiFact[] =>
      Array.from({ length: to - from + 1 }, (_, m) => ({ kind: 'alive', at: at(from + m), intervalMs: MIN, agents }));
    const report = computeKpis([...reports(0, 10), { kind: 'stopped', at: at(10.5) }, ...reports(20, 30)], window);
    expect(report.autonomy).toMatchObject({ downMs: 10 * MIN, waitingForPersonMs: 0 });
    expect(report.autonomy.ratio).toBeCloseTo(2 / 3, 12);
    expect(report.autonomy.interventions.manual_restart).toBe(1);
    expect(report.mttr).toEqual({ meanMs: null, recoveries: 0, unrecovered: 0, byFault: {} });
  });

  it('a run asked to stop that reports once more while it shuts down still ended by a manual restart', () => {
    const run = (from: number, to: number, startedAt: number): KpiFact[] =>
      Array.from({ length: to - from + 1 }, (_, m) => ({ kind: 'alive', at: at(from + m), intervalMs: MIN, agents, startedAt }));
    const stoppedEarlier = computeKpis([...run(0, 10, at(0)), { kind: 'stopped', at: at(9.5) }, ...run(20, 30, at(19))], window);
    expect(stoppedEarlier.autonomy.interventions.manual_restart).toBe(1);
    expect(stoppedEarlier.mttr).toEqual({ meanMs: null, recoveries: 0, unrecovered: 0, byFault: {} });
    // A stop before the previous run began was another run's: this gap is a fault.
    const stoppedBefore = computeKpis([{ kind: 'stopped', at: at(-1) }, ...run(0, 10, at(0)), ...run(20, 30, at(19))], window);
    expect(stoppedBefore.autonomy.interventions.manual_restart).toBe(0);
    expect(stoppedBefore.mttr.byFault).toEqual({ orchestra_down: { meanMs: 10 * MIN, count: 1 } });
  });

  it('agents that came up between two reports count for half the span: a late check at start still sees them', () => {
    const facts: KpiFact[] = [
      { kind: 'alive', at: at(0), intervalMs: MIN, agents: {} },
      { kind: 'alive', at: at(2), intervalMs: MIN, agents: { codegen: 1 } },
      task(2, 1, 'codegen', 1, 'success'),
    ];
    expect(computeKpis(facts, window).utilization.byRole.codegen).toEqual({ busyMs: MIN, availableMs: MIN, ratio: 1 });
  });

  it('a new run of the orchestra is a gap however short; without a planned stop, a fault', () => {
    const run = (from: number, to: number, startedAt: number): KpiFact[] =>
      Array.from({ length: to - from + 1 }, (_, m) => ({ kind: 'alive', at: at(from + m), intervalMs: MIN, agents, startedAt }));
    const report = computeKpis([...run(0, 5, at(0)), ...run(6, 10, at(5.5))], window);
    expect(report.autonomy).toMatchObject({ downMs: MIN, ratio: 0.9 });
    expect(report.autonomy.interventions.manual_restart).toBe(0);
    expect(report.mttr).toMatchObject({ meanMs: MIN, byFault: { orchestra_down: { meanMs: MIN, count: 1 } } });
  });

  it('one run silent for less than 30 s is busy, not down; longer, and over 3 intervals, it was down', () => {
    const report = (gapMs: number) =>
      computeKpis([0, gapMs].map((offset): KpiFact => ({ kind: 'alive', at: T0 + offset, intervalMs: 1_000, agents, startedAt: T0 })), window);
    expect(report(20_000).autonomy).toMatchObject({ ratio: 1, downMs: 0 });
    expect(report(40_000).autonomy).toMatchObject({ ratio: 0, downMs: 40_000 });
  });

  it('unionLength merges overlapping and touching intervals', () => {
    expect(unionLength([[0, 5], [3, 8], [8, 10], [20, 21]])).toBe(11);
    expect(unionLength([])).toBe(0);
  });
});

describe('KpiFacts from envelopes', () => {
  const ts = new Date(at(5)).toISOString();
  const result = { taskId: 't1', attempt: 1, issue: 7, role: 'codegen', stage: 'codegen', status: 'success', durationMs: 1000 };

  it('maps each kind and keeps a result stored twice once', () => {
    const facts = new KpiFacts();
    facts.add({ type: 'health.report', ts, payload: { ok: true, intervalMs: 2000, agents: { codegen: 1 }, startedAt: new Date(at(1)).toISOString() } });
    facts.add({ type: 'task.result', ts, payload: result });
    facts.add({ type: 'task.result', ts, payload: result });
    facts.add({ type: 'issue.finished', ts, payload: { number: 7, outcome: 'done', generation: 1 } });
    facts.add({ type: 'issue.finished', ts, payload: { number: 7, outcome: 'done', generation: 1 } });
    facts.add({ type: 'kpi.intervention', ts, payload: { kind: 'answer', issue: 7 } });
    facts.add({ type: 'kpi.recovery', ts, payload: { actor: 'bus', fault: 'nats_reconnect', noticedAt: new Date(at(4)).toISOString() } });
    facts.add({ type: 'kpi.stopped', ts, payload: { reason: 'SIGTERM' } });
    facts.add({ type: 'issue.observed', ts, payload: {} });
    expect(facts.facts).toEqual([
      { kind: 'alive', at: at(5), intervalMs: 2000, agents: { codegen: 1 }, startedAt: at(1) },
      { kind: 'task', at: at(5), issue: 7, role: 'codegen', status: 'success', durationMs: 1000 },
      { kind: 'finished', at: at(5), issue: 7, outcome: 'done' },
      { kind: 'intervention', at: at(5), intervention: 'answer', issue: 7 },
      { kind: 'recovery', at: at(5), actor: 'bus', fault: 'nats_reconnect', noticedAt: at(4) },
      { kind: 'stopped', at: at(5) },
    ]);
  });

  it('ignores payloads that are not what their type says, and old health reports get the default interval', () => {
    const facts = new KpiFacts();
    facts.add({ type: 'task.result', ts, payload: { ...result, durationMs: 'long' } });
    facts.add({ type: 'kpi.intervention', ts, payload: { kind: 'shrug' } });
    facts.add({ type: 'kpi.fault', ts: 'yesterday', payload: { actor: 'bus', fault: 'x' } });
    facts.add({ type: 'health.report', ts, payload: { ok: true } });
    expect(facts.facts).toEqual([{ kind: 'alive', at: at(5), intervalMs: 5000, agents: {} }]);
  });
});
