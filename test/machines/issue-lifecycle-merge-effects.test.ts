/**
 * The merge stage's and the wait for a person's effects and records read in full: the reasons,
 * results and history a `merge.*` event or an agent's question leaves, and every param of the
 * comments they ask for. Each assertion here was written against a mutant that survived the
 * other lifecycle tests (docs/MUTATION.md).
 */
import { describe, expect, it } from 'vitest';
import type { ConflictReport } from '../../src/agents/task.ts';
import { hashReason, type LifecycleInput } from '../../src/machines/issue-lifecycle.ts';
import { roundComment } from '../../src/machines/issue-lifecycle-setup.ts';
import { driveLifecycle, mergeLifecycleInput } from '../support/lifecycle-drive.ts';

const input = (overrides: Partial<LifecycleInput> = {}) =>
  mergeLifecycleInput({ route: [...mergeLifecycleInput().route, { stage: 'deploy', role: 'deploy' }], ...overrides });
/** Runs the stages before merge, the last one answered at `mergingAt`: merging since then. */
function toMerging(mergingAt = 20, overrides: Partial<LifecycleInput> = {}) {
  const run = driveLifecycle(input(overrides));
  run.send({ type: 'deps.ready' });
  for (const now of [1, 3]) {
    run.dispatch(now);
    run.answer('success', now + 1);
  }
  run.dispatch(5);
  run.answer('success', mergingAt);
  expect(run.snapshot.value).toBe('merging');
  return run;
}

const conflict = (files: string[]): ConflictReport => ({
  during: 'merge',
  theirs: { ref: 'main', sha: 'a'.repeat(40) },
  ours: { ref: 'miyabi/issue-5', sha: 'b'.repeat(40) },
  files,
  commits: { theirs: [], ours: [] },
});

describe('the merge stage, recorded', () => {
  it('records the merge with its short sha and method, timed from when merging began, and goes on cleared', () => {
    const run = toMerging(20);
    run.send({ type: 'merge.waiting', reason: 'CI running', now: 30 });
    run.send({ type: 'merge.done', sha: 'c'.repeat(40), method: 'squash', now: 40 });
    expect(run.snapshot).toMatchObject({ value: 'queued', context: { reason: undefined, stageIndex: 4 } });
    expect(run.snapshot.context.results.merge).toEqual({ status: 'success', summary: `merged as ${'c'.repeat(12)} (squash)` });
    expect(run.snapshot.context.history.at(-1)).toMatchObject({ stage: 'merge', status: 'success', reason: `merged as ${'c'.repeat(40)}`, startedAt: 20, finishedAt: 40 });
  });

  it('forgets, once merged, a conflict its stages were skipped past from the cache', () => {
    const run = toMerging();
    run.send({ type: 'merge.conflict', conflict: conflict(['a.ts']), now: 30 });
    for (const now of [31, 32, 33]) run.send({ type: 'stage.cached', result: { status: 'success' }, now });
    expect(run.snapshot).toMatchObject({ value: 'merging', context: { conflict: conflict(['a.ts']) } });
    run.send({ type: 'merge.done', sha: 'c'.repeat(40), method: 'merge', now: 40 });
    expect(run.snapshot.context.conflict).toBeUndefined();
  });

  it('sends a red CI back with the check as reason, result, history and comment', () => {
    const run = toMerging(20);
    run.send({ type: 'merge.ci_failed', check: 'lint', excerpt: ['x.ts: 1 error'], now: 30 });
    expect(run.snapshot.context).toMatchObject({ reason: 'CI check lint failed', round: 1, stageIndex: 0, attempt: 1, taskId: undefined });
    expect(run.snapshot.context.results.ci).toEqual({ status: 'failure', summary: 'CI check lint failed', outputs: { check: 'lint', log: ['x.ts: 1 error'] } });
    expect(run.snapshot.context.history.at(-1)).toMatchObject({ stage: 'merge', status: 'failure', reason: 'CI check lint failed', startedAt: 20, finishedAt: 30 });
    expect(run.of('comment').at(-1)).toEqual({ kind: 'ci_failed', key: 'issue-5.g1.ci-failed.r1', reason: 'CI check lint failed', stage: 'merge' });
    expect(run.of('setStateLabel').at(-1)).toEqual({ label: 'pending' });
  });

  it('names every conflicting file, or the branch when none is named; a merge conflict is timed from when merging began', () => {
    const run = toMerging(20);
    run.send({ type: 'merge.conflict', conflict: conflict(['a.ts', 'b.ts']), now: 30 });
    expect(run.snapshot.context.reason).toBe('merge conflict with main in a.ts, b.ts');
    expect(run.snapshot.context.history.at(-1)).toMatchObject({ stage: 'merge', reason: 'merge conflict in a.ts, b.ts', startedAt: 20, finishedAt: 30 });
    expect(run.of('comment').at(-1)).toEqual({ kind: 'conflict', key: 'issue-5.g1.conflict.r1', reason: 'merge conflict with main in a.ts, b.ts', stage: 'merge' });
    expect(run.of('setStateLabel').at(-1)).toEqual({ label: 'pending' });
    const none = toMerging();
    none.send({ type: 'merge.conflict', conflict: conflict([]), now: 30 });
    expect(none.snapshot.context.reason).toBe('merge conflict with main in the branch');
    expect(none.snapshot.context.history.at(-1)).toMatchObject({ reason: 'merge conflict in the branch' });
    none.send({ type: 'stage.cached', result: { status: 'success' }, now: 31 });
    // Restacking before review conflicts: timed from the moment it was met, and past the rounds it fails.
    none.send({ type: 'branch.conflict', conflict: conflict([]), now: 35 });
    expect(none.snapshot).toMatchObject({ value: 'failed', context: { reason: 'merge conflict with main in the branch still there after 1 round(s) (workflow.maxConflictRounds 1)' } });
  });

  it('times a restack conflict from when it was met, not from an earlier merge', () => {
    const run = toMerging(20, { maxConflictRounds: 2 });
    run.send({ type: 'merge.conflict', conflict: conflict(['a.ts']), now: 30 });
    run.dispatch(31);
    run.answer('success', 32);
    run.send({ type: 'branch.conflict', conflict: conflict(['a.ts']), now: 40 });
    expect(run.snapshot.context.history.at(-1)).toMatchObject({ stage: 'review', status: 'failure', startedAt: 40, finishedAt: 40 });
    // The second round of two conflicting files is one too many: the files named, comma-separated.
    run.dispatch(41);
    run.answer('success', 42);
    run.send({ type: 'branch.conflict', conflict: conflict(['a.ts', 'b.ts']), now: 50 });
    expect(run.snapshot.context.reason).toBe('merge conflict with main in a.ts, b.ts still there after 2 round(s) (workflow.maxConflictRounds 2)');
  });

  it('comments each new refusal of the tracker under its own key, and merges or fails from merge_blocked', () => {
    const refused = () => {
      const run = toMerging();
      run.send({ type: 'merge.blocked', reason: 'review required', now: 30 });
      run.send({ type: 'merge.blocked', reason: 'a check is expected', now: 31 });
      return run;
    };
    const run = refused();
    expect(run.of('comment').filter((params) => params.kind === 'merge_blocked')).toEqual([
      { kind: 'merge_blocked', key: `issue-5.g1.merge-blocked.${hashReason('review required')}`, reason: 'review required' },
      { kind: 'merge_blocked', key: `issue-5.g1.merge-blocked.${hashReason('a check is expected')}`, reason: 'a check is expected' },
    ]);
    expect(run.of('setStateLabel').slice(-2)).toEqual([{ label: 'merge_blocked' }, { label: 'merge_blocked' }]);
    expect(run.snapshot.context.reason).toBe('a check is expected');
    run.send({ type: 'merge.done', sha: 'd'.repeat(40), method: 'merge', now: 40 });
    expect(run.snapshot).toMatchObject({ value: 'queued', context: { stageIndex: 4, merged: { sha: 'd'.repeat(40), method: 'merge', at: 40 } } });
    const failing = refused();
    failing.send({ type: 'merge.failed', reason: 'pull request closed', now: 40 });
    expect(failing.snapshot).toMatchObject({ value: 'failed', context: { reason: 'pull request closed' } });
  });
});

describe('needs_input, recorded', () => {
  const asking = (extra: Record<string, string>) => {
    const run = driveLifecycle(input());
    run.send({ type: 'deps.ready' });
    run.dispatch(1);
    run.answer('needs_input', 2, extra);
    return run;
  };

  it('asks the question, else the summary, else the reason, under a key counting the questions', () => {
    expect(asking({ summary: 'which database', reason: 'blocked' }).snapshot.context.question).toBe('which database');
    const run = asking({ reason: 'which database?' });
    expect(run.snapshot.context).toMatchObject({ question: 'which database?', taskId: undefined });
    expect(run.snapshot.context.history.at(-1)).toMatchObject({ status: 'needs_input', reason: 'which database?' });
    expect(run.of('comment').at(-1)).toEqual({ kind: 'needs_input', key: 'issue-5.g1.needs-input.codegen.r0.q1', reason: 'which database?', stage: 'codegen' });
    run.send({ type: 'issue.answer', answer: 'SQLite', by: 'aiko', now: 3 });
    expect(run.snapshot.context).toMatchObject({ question: undefined, attempt: 1 });
    expect(run.of('setStateLabel').at(-1)).toEqual({ label: 'pending' });
    run.dispatch(4);
    run.answer('needs_input', 5, { question: 'which version?' });
    expect(run.of('comment').at(-1)).toMatchObject({ key: 'issue-5.g1.needs-input.codegen.r0.q2' });
  });
});

describe('roundComment', () => {
  it('keys a kind it has no name for by the kind itself', () => {
    const { context } = driveLifecycle(input()).snapshot;
    expect(roundComment(context, 'blocked', 2)).toEqual({ kind: 'blocked', key: 'issue-5.g1.blocked.r2', reason: '', stage: 'codegen' });
  });
});
