import { describe, expect, it } from 'vitest';
import { transition } from 'xstate';
import { BUDGET_EXCEEDED } from '../../src/machines/budget.ts';
import { issueLifecycleMachine, stageRetryDelayMs } from '../../src/machines/issue-lifecycle.ts';
import { driveLifecycle, lifecycleInput } from '../support/lifecycle-drive.ts';

const input = lifecycleInput;
const drive = (machineInput = input()) => driveLifecycle(machineInput);

describe('issue lifecycle', () => {
  it('walks its route stage by stage to done, labelling and commenting once each', () => {
    const run = drive();
    expect(run.snapshot.value).toBe('discovered');
    run.send({ type: 'deps.ready' });
    expect(run.snapshot.value).toBe('queued');
    for (const stage of ['codegen', 'review', 'pr']) {
      run.dispatch(10);
      expect(run.snapshot.value).toBe('running');
      expect(run.of('dispatchTask').at(-1)).toMatchObject({ stage, role: stage, attempt: 1 });
      run.answer('success', 20, { summary: `${stage} ok` });
    }
    expect(run.snapshot.value).toBe('done');
    expect(run.of('setStateLabel').map((p) => (p as { label: string }).label)).toEqual([
      'pending',
      'implementing',
      'reviewing',
      'reviewing',
      'done',
    ]);
    expect(run.of('comment').map((p) => (p as { key: string }).key)).toEqual([
      'issue-7.g1.started',
      'issue-7.g1.started',
      'issue-7.g1.started',
      'issue-7.g1.done',
    ]);
    expect(run.of('finished')).toEqual([{ outcome: 'done' }]);
    // The next stage sees what the earlier ones produced.
    expect(run.of('dispatchTask').at(-1)).toMatchObject({ previous: { codegen: { summary: 'codegen ok' }, review: { summary: 'review ok' } } });
  });

  it('held by a used-up daily budget: labelled budget_hold once, pending again once released; a stopped run fails with budget_exceeded and runs again under a new id, no attempt spent', () => {
    const run = drive();
    run.send({ type: 'deps.ready' });
    run.send({ type: 'budget.hold', reason: 'daily budget used up', now: 1 });
    run.send({ type: 'budget.hold', reason: 'daily budget used up', now: 2 });
    run.send({ type: 'budget.release', now: 3 });
    run.send({ type: 'budget.release', now: 4 });
    expect(run.of('setStateLabel').slice(-2)).toEqual([{ label: 'budget_hold' }, { label: 'pending' }]);
    const first = run.dispatch(5);
    run.send({ type: 'budget.stop', reason: 'daily budget used up', now: 6 });
    expect(run.snapshot.value).toBe('queued');
    expect(run.snapshot.context).toMatchObject({ budgetHeld: true, attempt: 1 });
    expect(run.of('cancelTask').at(-1)).toEqual({ taskId: first });
    expect(run.snapshot.context.history.at(-1)).toMatchObject({ status: 'failure', reason: 'budget_exceeded: daily budget used up; the agent was stopped' });
    run.send({ type: 'budget.release', now: 7 });
    expect(run.dispatch(8)).toBe('issue-7.g1.codegen.r0.s1.a1');
    expect(run.of('setStateLabel').slice(-3)).toEqual([{ label: 'budget_hold' }, { label: 'pending' }, { label: 'implementing' }]);
  });

  it('ignores a result that is not for the task it runs (a stale redelivery)', () => {
    const run = drive();
    run.send({ type: 'deps.ready' });
    run.dispatch(1);
    run.send({ type: 'stage.result', outcome: { taskId: 'issue-7.g0.codegen.r0.a1', status: 'failure', reason: 'old', attempt: 1 }, now: 2 });
    expect(run.snapshot.value).toBe('running');
    expect(run.snapshot.context.history).toEqual([]);
  });

  it('waits for its dependencies, and is blocked with the reason when they can never complete', () => {
    const run = drive();
    run.send({ type: 'deps.waiting', on: [3] });
    expect(run.snapshot.value).toBe('waiting');
    expect(run.snapshot.context.waitingOn).toEqual([3]);
    run.send({ type: 'deps.blocked', reason: 'depends on #3, which failed' });
    expect(run.snapshot.value).toBe('blocked');
    expect(run.snapshot.context.reason).toBe('depends on #3, which failed');
    expect(run.of('comment').at(-1)).toMatchObject({ kind: 'blocked', reason: 'depends on #3, which failed' });
    expect(run.of('setStateLabel').at(-1)).toEqual({ label: 'blocked' });
    // The same reason again is not a second comment.
    run.send({ type: 'deps.blocked', reason: 'depends on #3, which failed' });
    expect(run.of('comment')).toHaveLength(1);
    run.send({ type: 'deps.ready' });
    expect(run.snapshot.value).toBe('queued');
  });

  it('retries a failed stage with exponential backoff, then fails with the reason', () => {
    const run = drive();
    run.send({ type: 'deps.ready' });
    run.dispatch(0);
    run.answer('failure', 100);
    expect(run.snapshot.value).toBe('retrying');
    expect(run.snapshot.context.retryAt).toBe(100 + 1_000);
    run.send({ type: 'retry.due', now: 500 });
    expect(run.snapshot.value).toBe('retrying');
    run.send({ type: 'retry.due', now: 1_100 });
    expect(run.snapshot.value).toBe('queued');
    run.dispatch(1_200);
    expect(run.of('dispatchTask').at(-1)).toMatchObject({ attempt: 2 });
    run.answer('failure', 1_300);
    expect(run.snapshot.context.retryAt).toBe(1_300 + 2_000);
    run.send({ type: 'retry.due', now: 3_300 });
    run.dispatch(3_400);
    run.answer('failure', 3_500);
    expect(run.snapshot.value).toBe('failed');
    expect(run.snapshot.context.reason).toMatch(/^codegen failed after 3 attempt\(s\)/);
    expect(run.of('comment').at(-1)).toMatchObject({ kind: 'failed', key: 'issue-7.g1.failed' });
    expect(run.of('finished').at(-1)).toMatchObject({ outcome: 'failed' });
    expect(stageRetryDelayMs(10, 1_000, 10_000)).toBe(10_000);
  });

  it('goes back to the first stage on changes_requested, at most maxReviewRounds times', () => {
    const run = drive(input({ maxReviewRounds: 1 }));
    run.send({ type: 'deps.ready' });
    run.dispatch(0);
    run.answer('success', 1);
    run.dispatch(2);
    run.answer('changes_requested', 3, { summary: 'add tests' });
    expect(run.snapshot.value).toBe('queued');
    expect(run.snapshot.context).toMatchObject({ stageIndex: 0, reviewRounds: 1 });
    expect(run.of('comment').at(-1)).toMatchObject({ kind: 'changes_requested', reason: 'add tests' });
    run.dispatch(4);
    // The second codegen round sees the review's feedback.
    expect(run.of('dispatchTask').at(-1)).toMatchObject({ stage: 'codegen', round: 1, previous: { review: { status: 'changes_requested', summary: 'add tests' } } });
    run.answer('success', 5);
    run.dispatch(6);
    run.answer('changes_requested', 7, { summary: 'still no tests' });
    expect(run.snapshot.value).toBe('failed');
    expect(run.snapshot.context.reason).toMatch(/changes still requested after 1 review round/);
  });

  it('counts the runner\'s own retries against the budget and gives up on the task when it is spent', () => {
    const run = drive(input({ maxAttempts: 2 }));
    run.send({ type: 'deps.ready' });
    const taskId = run.dispatch(0);
    run.send({ type: 'stage.result', outcome: { taskId, status: 'retry', reason: 'timed out', attempt: 1 }, now: 1 });
    expect(run.snapshot.value).toBe('running');
    run.send({ type: 'stage.result', outcome: { taskId, status: 'retry', reason: 'timed out', attempt: 2 }, now: 2 });
    expect(run.snapshot.value).toBe('failed');
    expect(run.of('cancelTask').at(-1)).toEqual({ taskId });
  });

  it('is released from any state, cancelling its running task and clearing its state label', () => {
    const run = drive();
    run.send({ type: 'deps.ready' });
    const taskId = run.dispatch(0);
    run.send({ type: 'issue.released', reason: 'closed on the tracker', now: 5 });
    expect(run.snapshot.value).toBe('released');
    expect(run.snapshot.status).toBe('done');
    expect(run.of('cancelTask')).toEqual([{ taskId }]);
    expect(run.of('setStateLabel').at(-1)).toEqual({ label: undefined });
    expect(run.of('finished').at(-1)).toEqual({ outcome: 'released', reason: 'closed on the tracker' });
  });

  it('skips a stage whose result is cached, and starts a new generation when reset', () => {
    const run = drive(input({ route: [{ stage: 'codegen', role: 'codegen' }, { stage: 'pr', role: 'pr' }] }));
    run.send({ type: 'deps.ready' });
    run.send({ type: 'stage.cached', result: { status: 'success', summary: 'from cache' }, now: 1 });
    expect(run.snapshot.value).toBe('queued');
    expect(run.snapshot.context.stageIndex).toBe(1);
    run.send({ type: 'stage.cached', result: { status: 'success' }, now: 2 });
    expect(run.snapshot.value).toBe('done');
    expect(run.of('dispatchTask')).toEqual([]);
    run.send({ type: 'issue.reset', reason: 'edited', route: input().route, priority: 0, now: 3 });
    expect(run.snapshot.value).toBe('discovered');
    expect(run.snapshot.context).toMatchObject({ generation: 2, stageIndex: 0, priority: 0, results: {} });
  });

  it('survives a round trip through its persisted snapshot', () => {
    const run = drive();
    run.send({ type: 'deps.ready' });
    run.dispatch(0);
    const persisted = JSON.parse(JSON.stringify(issueLifecycleMachine.getPersistedSnapshot(run.snapshot)));
    const restored = issueLifecycleMachine.resolveState(persisted);
    const [next] = transition(issueLifecycleMachine, restored, {
      type: 'stage.result',
      outcome: { taskId: run.snapshot.context.taskId!, status: 'success', reason: 'ok', attempt: 1 },
      now: 9,
    });
    expect(next.value).toBe('queued');
    expect(next.context.stageIndex).toBe(1);
  });
});

describe('issue lifecycle: dependencies, budget and labels', () => {
  it('comments again when it stays blocked for another reason, and leaves blocked for waiting with the label back to pending', () => {
    const run = drive();
    run.send({ type: 'deps.blocked', reason: 'depends on #3, which failed' });
    run.send({ type: 'deps.blocked', reason: 'depends on #4, which does not exist' });
    expect(run.of('comment').map((p) => (p as { reason: string }).reason)).toEqual(['depends on #3, which failed', 'depends on #4, which does not exist']);
    run.send({ type: 'deps.waiting', on: [4] });
    expect(run.snapshot.value).toBe('waiting');
    expect(run.snapshot.context).toMatchObject({ waitingOn: [4], reason: undefined });
    expect(run.of('setStateLabel').at(-1)).toEqual({ label: 'pending' });
    run.send({ type: 'deps.waiting', on: [4, 5] });
    expect(run.snapshot.context.waitingOn).toEqual([4, 5]);
    run.send({ type: 'deps.ready' });
    expect(run.snapshot).toMatchObject({ value: 'queued', context: { waitingOn: [] } });
    run.send({ type: 'deps.waiting', on: [6] });
    expect(run.snapshot).toMatchObject({ value: 'waiting', context: { waitingOn: [6] } });
  });

  it('takes a new route and priority only when the stages run so far stay as they were', () => {
    const run = drive();
    run.send({ type: 'deps.ready' });
    run.dispatch(0);
    run.answer('success', 1);
    const longer = [...input().route, { stage: 'deploy', role: 'deploy' }];
    run.send({ type: 'issue.relabeled', route: longer, priority: 5, keep: 1, now: 2 });
    expect(run.snapshot.context).toMatchObject({ route: longer, priority: 5 });
    const other = [{ stage: 'docs', role: 'docs' }, ...input().route];
    run.send({ type: 'issue.relabeled', route: other, priority: 9, keep: 1, now: 3 });
    expect(run.snapshot.context).toMatchObject({ route: longer, priority: 5 });
  });

  it('fails at once, cancelling its task, when the task went past its budget', () => {
    const run = drive();
    run.send({ type: 'deps.ready' });
    const taskId = run.dispatch(0);
    run.answer('failure', 1, { code: BUDGET_EXCEEDED });
    expect(run.snapshot.value).toBe('failed');
    expect(run.of('cancelTask')).toEqual([{ taskId }]);
  });

  it('cancels nothing when a plain failure used up its attempts, and names the stage and task that failed', () => {
    const run = drive(input({ maxAttempts: 1 }));
    run.send({ type: 'deps.ready' });
    const taskId = run.dispatch(0);
    run.answer('failure', 1);
    expect(run.snapshot.value).toBe('failed');
    expect(run.of('cancelTask')).toEqual([{ taskId: '' }]);
    expect(run.of('comment').at(-1)).toEqual({
      kind: 'failed',
      key: 'issue-7.g1.failed',
      reason: 'codegen failed after 1 attempt(s): failure',
      stage: 'codegen',
      taskId,
    });
    expect(run.of('setStateLabel').at(-1)).toEqual({ label: 'failed' });
    expect(run.snapshot.context.finishedAt).toBe(1);
  });

  it('allows 3 CI rounds and 2 conflict rounds unless told otherwise', () => {
    expect(drive().snapshot.context).toMatchObject({ maxCiRounds: 3, maxConflictRounds: 2, generation: 1 });
  });
});
