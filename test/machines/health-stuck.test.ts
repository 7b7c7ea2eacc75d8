import { describe, expect, it } from 'vitest';
import { healthSection } from '../../src/config/sections/runtime.ts';
import { judgeStuckIssues, stateAges, type IssueStateObservation } from '../../src/machines/health-stuck.ts';

// The bounds as the config gives them by default.
const limits = healthSection.parse({}).stuckIssues;
const minutes = (n: number) => n * 60_000;
const hours = (n: number) => n * 3_600_000;
const issue = (number: number, state: string, ageMs: number, extra: Partial<IssueStateObservation> = {}): IssueStateObservation => ({ issue: number, state, ageMs, ...extra });
const judge = (issues: IssueStateObservation[], idle: Record<string, number> = {}) =>
  judgeStuckIssues(issues, new Map(Object.entries(idle)), limits).map((finding) => `${finding.kind}:${finding.severity}:${finding.subject}`);

describe('judgeStuckIssues', () => {
  it('finds nothing in issues within their states\' bounds', () => {
    expect(
      judge([
        issue(1, 'discovered', minutes(9)),
        issue(2, 'waiting', hours(23)),
        issue(3, 'blocked', minutes(59)),
        issue(4, 'queued', hours(23), { role: 'codegen' }),
        issue(5, 'retrying', minutes(59)),
        issue(6, 'waiting_for_human', hours(71)),
        issue(7, 'merging', hours(1.9)),
        issue(8, 'merge_blocked', hours(23)),
      ]),
    ).toEqual([]);
  });

  it('reports an issue past its state\'s bound as issue_stuck, a warning, for every bounded state', () => {
    const problems = judge([
      issue(1, 'discovered', minutes(11)),
      issue(2, 'waiting', hours(25)),
      issue(3, 'blocked', minutes(61), { reason: 'depends on #9, which failed' }),
      issue(4, 'queued', hours(25), { role: 'codegen' }),
      issue(5, 'retrying', minutes(61)),
      issue(6, 'waiting_for_human', hours(73)),
      issue(7, 'merging', hours(2.1)),
      issue(8, 'merge_blocked', hours(25)),
    ]);
    expect(problems).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((number) => `issue_stuck:warning:#${number}`));
  });

  it('says the state, how long, the bound and the reason', () => {
    const [finding] = judgeStuckIssues([issue(3, 'blocked', hours(3), { reason: 'depends on #9, which was released' })], new Map(), limits);
    expect(finding!.message).toBe('issue #3 has been blocked for 3 h, past the 60 min allowed (depends on #9, which was released)');
  });

  it('leaves running and finished issues alone: a running one is judged by its task', () => {
    expect(judge([issue(1, 'running', hours(100)), issue(2, 'done', hours(100)), issue(3, 'failed', hours(100)), issue(4, 'released', hours(100))])).toEqual([]);
  });

  it('reports dispatch_stalled when an issue is queued and an agent of its role idle, both past queuedWhileIdleMs', () => {
    const queued = issue(4, 'queued', minutes(3), { role: 'codegen' });
    expect(judge([queued], { codegen: minutes(3) })).toEqual(['dispatch_stalled:warning:#4']);
    // An idle agent of another role, or one freed a moment ago, has not passed the issue over.
    expect(judge([queued], { review: minutes(30) })).toEqual([]);
    expect(judge([queued], { codegen: 5_000 })).toEqual([]);
    // Queued a moment ago: the dispatcher has not had its chance.
    expect(judge([issue(4, 'queued', 5_000, { role: 'codegen' })], { codegen: minutes(30) })).toEqual([]);
  });

  it('does not report dispatch_stalled while the budget or a full disk holds dispatch back', () => {
    expect(judge([issue(4, 'queued', minutes(30), { role: 'codegen', dispatchHeld: true })], { codegen: minutes(30) })).toEqual([]);
  });

  it('takes its bounds from the config', () => {
    const tight = { ...limits, waitingMs: 1_000 };
    expect(judgeStuckIssues([issue(2, 'waiting', 2_000)], new Map(), tight).map((finding) => finding.kind)).toEqual(['issue_stuck']);
  });
});

describe('stateAges', () => {
  it('keeps the time a state was first seen, starts again on a change, prefers the owner\'s own time, and forgets what is gone', () => {
    const first = stateAges(new Map(), [{ key: 1, state: 'queued' }, { key: 2, state: 'waiting' }], 1_000);
    const second = stateAges(first, [{ key: 1, state: 'queued' }, { key: 2, state: 'blocked' }, { key: 3, state: 'merging', enteredAt: 500 }], 5_000);
    expect([...second]).toEqual([
      [1, { state: 'queued', since: 1_000 }],
      [2, { state: 'blocked', since: 5_000 }],
      [3, { state: 'merging', since: 500 }],
    ]);
    expect([...stateAges(second, [{ key: 3, state: 'merging', enteredAt: 500 }], 6_000).keys()]).toEqual([3]);
  });
});
