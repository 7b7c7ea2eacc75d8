/**
 * The lifecycle's effects and records read in full: every param of a label, comment, task or
 * cancel it asks for, and what it writes into its context (reasons, history, times, counters),
 * on the paths the other lifecycle tests take only for their state. Each assertion here was
 * written against a mutant that survived them (docs/MUTATION.md).
 */
import { describe, expect, it } from 'vitest';
import { BUDGET_EXCEEDED } from '../../src/machines/budget.ts';
import { hashReason } from '../../src/machines/issue-lifecycle.ts';
import { driveLifecycle, lifecycleInput } from '../support/lifecycle-drive.ts';

const input = lifecycleInput;
const labels = (run: ReturnType<typeof driveLifecycle>) => run.of('setStateLabel').map((params) => params.label);

describe('issue lifecycle: starting', () => {
  it('starts discovered with nothing run, waited for or recorded, at the generation it is given', () => {
    const run = driveLifecycle(input({ generation: 4, maxCiRounds: 5, maxConflictRounds: 6 }));
    expect(run.snapshot.value).toBe('discovered');
    expect(run.snapshot.context).toMatchObject({ generation: 4, maxCiRounds: 5, maxConflictRounds: 6, stageIndex: 0, attempt: 1, round: 0 });
    expect(run.snapshot.context.history).toEqual([]);
    expect(run.snapshot.context.waitingOn).toEqual([]);
    expect(run.effects).toEqual([{ type: 'setStateLabel', params: { label: 'pending' } }]);
  });

  it('dispatches the first stage with exactly what the agent needs, and labels a stage with no state of its own implementing', () => {
    const run = driveLifecycle(input({ route: [{ stage: 'docs', role: 'writer' }], stageStates: {} }));
    run.send({ type: 'deps.ready' });
    const taskId = run.dispatch(10);
    expect(run.of('dispatchTask')).toStrictEqual([{ taskId, stage: 'docs', role: 'writer', attempt: 1, round: 0, generation: 1, previous: {} }]);
    expect(run.of('comment')).toEqual([{ kind: 'started', key: 'issue-7.g1.started', stage: 'docs' }]);
    expect(labels(run)).toEqual(['pending', 'implementing']);
  });

  it('keeps when it first started and the branch it was given; each run records when it was dispatched', () => {
    const run = driveLifecycle(input());
    const git = { mode: 'merged' as const, baseBranch: 'main', startedFrom: { ref: 'main', sha: 'a'.repeat(40) }, dependencies: [], pullRequestBase: 'main' };
    run.send({ type: 'deps.ready' });
    run.dispatch(10, { git });
    run.answer('failure', 20);
    run.send({ type: 'retry.due', now: 2_000 });
    expect(run.snapshot.context.retryAt).toBeUndefined();
    run.dispatch(2_100);
    expect(run.snapshot.context).toMatchObject({ startedAt: 10, dispatchedAt: 2_100, git });
    expect(run.of('dispatchTask').at(-1)).toMatchObject({ git });
    run.answer('success', 2_200, { agentId: 'codegen-1' });
    expect(run.snapshot.context.history.map(({ startedAt, finishedAt, status }) => ({ startedAt, finishedAt, status }))).toEqual([
      { startedAt: 10, finishedAt: 20, status: 'failure' },
      { startedAt: 2_100, finishedAt: 2_200, status: 'success' },
    ]);
    expect(run.snapshot.context.history.at(-1)).toMatchObject({ agentId: 'codegen-1' });
  });
});

describe('issue lifecycle: dependencies and budget', () => {
  it('comments a blocking reason under a key of its own, and leaves blocked for queued cleared and pending', () => {
    const run = driveLifecycle(input());
    run.send({ type: 'deps.blocked', reason: 'depends on #3, which failed' });
    run.send({ type: 'deps.blocked', reason: 'depends on #4, which failed' });
    expect(run.of('comment').map((params) => params.key)).toEqual([
      `issue-7.g1.blocked.${hashReason('depends on #3, which failed')}`,
      `issue-7.g1.blocked.${hashReason('depends on #4, which failed')}`,
    ]);
    run.send({ type: 'deps.ready' });
    expect(run.snapshot).toMatchObject({ value: 'queued', context: { reason: undefined, waitingOn: [] } });
    expect(labels(run)).toEqual(['pending', 'blocked', 'blocked', 'pending']);
  });

  it('is held by the budget once, however often told, and a held issue leaves queued unheld, waiting pending again', () => {
    const run = driveLifecycle(input());
    run.send({ type: 'deps.ready' });
    run.send({ type: 'budget.hold', reason: 'used up', now: 1 });
    run.send({ type: 'budget.hold', reason: 'used up', now: 2 });
    expect(labels(run)).toEqual(['pending', 'budget_hold']);
    run.send({ type: 'deps.waiting', on: [3] });
    expect(run.snapshot).toMatchObject({ value: 'waiting', context: { budgetHeld: false, waitingOn: [3] } });
    expect(labels(run)).toEqual(['pending', 'budget_hold', 'pending']);
    // Not held: waiting again asks for no label.
    run.send({ type: 'deps.ready' });
    run.send({ type: 'deps.waiting', on: [3] });
    expect(labels(run)).toHaveLength(3);
  });

  it('a held issue dispatched, cached or blocked is held no more', () => {
    const held = () => {
      const run = driveLifecycle(input());
      run.send({ type: 'deps.ready' });
      run.send({ type: 'budget.hold', reason: 'used up', now: 1 });
      expect(run.snapshot.context.budgetHeld).toBe(true);
      return run;
    };
    const dispatched = held();
    dispatched.dispatch(2);
    expect(dispatched.snapshot.context.budgetHeld).toBe(false);
    const cached = held();
    cached.send({ type: 'stage.cached', result: { status: 'success' }, now: 2 });
    expect(cached.snapshot).toMatchObject({ value: 'queued', context: { budgetHeld: false } });
    expect(cached.snapshot.context.history).toEqual([
      expect.objectContaining({ stage: 'codegen', status: 'cached', reason: 'already succeeded with the same content and dependencies (cache)', startedAt: 2, finishedAt: 2 }),
    ]);
    const blocked = held();
    blocked.send({ type: 'deps.blocked', reason: 'depends on #3, which failed' });
    expect(blocked.snapshot).toMatchObject({ value: 'blocked', context: { budgetHeld: false, reason: 'depends on #3, which failed' } });
  });

  it('released before any task cancels none, and records why and when', () => {
    const run = driveLifecycle(input());
    run.send({ type: 'issue.released', reason: 'closed', now: 5 });
    expect(run.of('cancelTask')).toEqual([{ taskId: '' }]);
    expect(run.snapshot.context).toMatchObject({ reason: 'closed', finishedAt: 5 });
    const running = driveLifecycle(input());
    running.send({ type: 'deps.ready' });
    running.dispatch(1);
    running.send({ type: 'issue.released', reason: 'closed', now: 5 });
    expect(running.snapshot.context.taskId).toBeUndefined();
  });
});

describe('issue lifecycle: results', () => {
  it('records a success for the idempotency cache with its stage, generation and result', () => {
    const run = driveLifecycle(input());
    run.send({ type: 'deps.ready' });
    run.dispatch(1);
    run.answer('success', 2, { summary: 'written', outputs: { files: 2 } });
    expect(run.of('stageSucceeded')).toEqual([{ stage: 'codegen', generation: 1, result: { status: 'success', summary: 'written', outputs: { files: 2 } } }]);
  });

  it('ends done without the reason of an earlier failed attempt, with the time it ended', () => {
    const run = driveLifecycle(input({ route: [{ stage: 'codegen', role: 'codegen' }] }));
    run.send({ type: 'deps.ready' });
    run.dispatch(1);
    run.answer('failure', 2);
    expect(run.snapshot.context.reason).toBe('failure');
    run.send({ type: 'retry.due', now: 1_002 });
    run.dispatch(1_003);
    run.answer('success', 1_004);
    expect(run.snapshot).toMatchObject({ value: 'done', context: { reason: undefined, finishedAt: 1_004, taskId: undefined } });
  });

  it('backs off from the larger of its own attempt count and the runner\'s, and names it when it gives up', () => {
    const run = driveLifecycle(input({ maxAttempts: 3 }));
    run.send({ type: 'deps.ready' });
    run.dispatch(0);
    // The runner counted two attempts (it retried once itself) where the machine counts one.
    run.answer('failure', 100, { attempt: 2 });
    expect(run.snapshot.context).toMatchObject({ attempt: 3, retryAt: 100 + 2_000, reason: 'failure' });
    run.send({ type: 'retry.due', now: 2_100 });
    run.dispatch(2_200);
    // And a stale count from the runner does not lower the machine's own.
    run.answer('failure', 2_300, { attempt: 1, reason: 'crashed' });
    expect(run.snapshot.context.reason).toBe('codegen failed after 3 attempt(s): crashed');
  });

  it('lets the runner retry a task in place, recording each try, and records its last try as a retry when it gives up', () => {
    const run = driveLifecycle(input({ maxAttempts: 3 }));
    run.send({ type: 'deps.ready' });
    const taskId = run.dispatch(0);
    run.send({ type: 'stage.result', outcome: { taskId, status: 'retry', reason: 'timed out', attempt: 1 }, now: 1 });
    expect(run.snapshot).toMatchObject({ value: 'running', context: { taskId, attempt: 2 } });
    // The machine's count is behind the runner's: the runner's decides.
    run.send({ type: 'stage.result', outcome: { taskId, status: 'retry', reason: 'timed out', attempt: 3 }, now: 2 });
    expect(run.snapshot.value).toBe('failed');
    expect(run.snapshot.context.history.map((entry) => entry.status)).toEqual(['retry', 'retry']);
    expect(run.snapshot.context.reason).toBe('codegen failed after 3 attempt(s): timed out');
  });

  it('fails a task past its budget at once even with attempts left, and the runner\'s retry of it too', () => {
    const run = driveLifecycle(input({ maxAttempts: 3 }));
    run.send({ type: 'deps.ready' });
    const taskId = run.dispatch(0);
    run.answer('failure', 1, { code: BUDGET_EXCEEDED });
    expect(run.snapshot.value).toBe('failed');
    expect(run.of('cancelTask')).toEqual([{ taskId }]);
    expect(run.snapshot.context.history.map((entry) => entry.status)).toEqual(['failure']);
  });

  it('sends changes requested without a summary back with the reviewer\'s reason, under a counted key', () => {
    const run = driveLifecycle(input({ maxReviewRounds: 1 }));
    run.send({ type: 'deps.ready' });
    run.dispatch(0);
    run.answer('success', 1);
    run.dispatch(2);
    run.answer('changes_requested', 3, { reason: 'no tests' });
    expect(run.of('comment').at(-1)).toEqual({ kind: 'changes_requested', key: 'issue-7.g1.changes-requested.r1', reason: 'no tests', stage: 'review' });
    expect(run.snapshot.context.history.at(-1)).toMatchObject({ stage: 'review', status: 'changes_requested', reason: 'no tests', finishedAt: 3 });
    expect(run.snapshot.context).toMatchObject({ round: 1, stageIndex: 0, attempt: 1, taskId: undefined, retryAt: undefined });
    expect(labels(run).at(-1)).toBe('pending');
    run.dispatch(4);
    run.answer('success', 5);
    run.dispatch(6);
    run.answer('changes_requested', 7, { reason: 'still no tests' });
    expect(run.snapshot.context.reason).toBe('changes still requested after 1 review round(s) (workflow.maxReviewRounds 1): still no tests');
    expect(run.snapshot.context.taskId).toBeUndefined();
  });

  it('hands a cached result to the next stage as its previous result', () => {
    const run = driveLifecycle(input());
    run.send({ type: 'deps.ready' });
    run.send({ type: 'stage.cached', result: { status: 'success', summary: 'from cache' }, now: 1 });
    run.dispatch(2);
    expect(run.of('dispatchTask').at(-1)).toMatchObject({ stage: 'review', previous: { codegen: { status: 'success', summary: 'from cache' } } });
  });

  it('reports a failure as finished with its reason, and starts again from failed when reset', () => {
    const run = driveLifecycle(input({ maxAttempts: 1 }));
    run.send({ type: 'deps.ready' });
    run.dispatch(1);
    run.answer('failure', 2);
    expect(run.of('finished')).toEqual([{ outcome: 'failed', reason: 'codegen failed after 1 attempt(s): failure' }]);
    run.send({ type: 'issue.reset', reason: 'retry', route: input().route, priority: 1, now: 3 });
    expect(run.snapshot).toMatchObject({ value: 'discovered', context: { generation: 2, finishedAt: undefined } });
  });

  it('starts a new generation when reset, its finish forgotten', () => {
    const run = driveLifecycle(input({ route: [{ stage: 'codegen', role: 'codegen' }] }));
    run.send({ type: 'deps.ready' });
    run.send({ type: 'stage.cached', result: { status: 'success' }, now: 1 });
    expect(run.snapshot.context.finishedAt).toBe(1);
    const route = [{ stage: 'docs', role: 'docs' }];
    run.send({ type: 'issue.reset', reason: 'edited', route, priority: 3, now: 2 });
    expect(run.snapshot.context).toMatchObject({ generation: 2, route, priority: 3, finishedAt: undefined });
  });
});
