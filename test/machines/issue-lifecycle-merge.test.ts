/**
 * The lifecycle's merge stage and its wait for a person, stepped purely: what each `merge.*`
 * event and an agent's question do, the rounds they count, and the effects they ask for.
 */
import { describe, expect, it } from 'vitest';
import type { ConflictReport } from '../../src/agents/task.ts';
import { driveLifecycle, mergeLifecycleInput } from '../support/lifecycle-drive.ts';

const input = mergeLifecycleInput;
function drive(machineInput = input()) {
  const lifecycle = driveLifecycle(machineInput);
  /** Dispatches the current stage and answers it with `status`. */
  const run = (status: 'success' | 'needs_input' = 'success', extra = {}) => {
    lifecycle.dispatch(1);
    lifecycle.answer(status, 2, { attempt: 1, ...extra });
  };
  const toMerging = () => {
    lifecycle.send({ type: 'deps.ready' });
    for (let stage = 0; stage < 3; stage += 1) run();
  };
  return {
    get snapshot() {
      return lifecycle.snapshot;
    },
    send: lifecycle.send,
    run,
    toMerging,
    of: lifecycle.of,
  };
}

const conflict: ConflictReport = {
  during: 'merge',
  theirs: { ref: 'main', sha: 'a'.repeat(40) },
  ours: { ref: 'miyabi/issue-5', sha: 'b'.repeat(40) },
  files: ['SHARED.md'],
  commits: { theirs: [{ sha: 'a'.repeat(40), subject: 'the other change' }], ours: [] },
};

describe('the merge stage', () => {
  it('follows the stage before merge with merging (no agent task), and ends done once merged', () => {
    const drive1 = drive();
    drive1.toMerging();
    expect(drive1.snapshot.value).toBe('merging');
    expect(drive1.of('dispatchTask').map((task) => task.stage)).toEqual(['codegen', 'review', 'pr']);
    expect(drive1.of('setStateLabel').at(-1)).toEqual({ label: 'merging' });
    drive1.send({ type: 'merge.waiting', reason: 'CI running', now: 3 });
    expect(drive1.snapshot).toMatchObject({ value: 'merging', context: { reason: 'CI running' } });
    drive1.send({ type: 'merge.done', sha: 'c'.repeat(40), method: 'squash', now: 4 });
    expect(drive1.snapshot.value).toBe('done');
    expect(drive1.snapshot.context.merged).toEqual({ sha: 'c'.repeat(40), method: 'squash', at: 4 });
    expect(drive1.snapshot.context.history.at(-1)).toMatchObject({ stage: 'merge', status: 'success' });
    expect(drive1.of('finished')).toEqual([{ outcome: 'done' }]);
  });

  it('asks, once merged in stacked mode, for the pull requests stacked on its branch to go to the base branch', () => {
    const merged = (mode: 'merged' | 'stacked') => {
      const drive1 = drive();
      const git = { mode, baseBranch: 'main', startedFrom: { ref: 'main', sha: 'a'.repeat(40) }, dependencies: [], pullRequestBase: 'main' };
      drive1.send({ type: 'deps.ready' });
      for (let stage = 0; stage < 3; stage += 1) {
        drive1.send({ type: 'stage.dispatch', now: 1, git });
        drive1.send({ type: 'stage.result', outcome: { taskId: drive1.snapshot.context.taskId!, status: 'success', reason: 'ok', attempt: 1 }, now: 2 });
      }
      expect(drive1.of('retargetStacked')).toEqual([]);
      drive1.send({ type: 'merge.done', sha: 'c'.repeat(40), method: 'merge', now: 4 });
      return drive1.of('retargetStacked');
    };
    expect(merged('stacked')).toEqual([{ generation: 1 }]);
    expect(merged('merged')).toEqual([]);
  });

  it('goes on to the stages after merge (deploy) once merged', () => {
    const route = [...input().route, { stage: 'deploy', role: 'deploy' }];
    const drive1 = drive(input({ route }));
    drive1.toMerging();
    drive1.send({ type: 'merge.done', sha: 'c'.repeat(40), method: 'merge', now: 4 });
    expect(drive1.snapshot.value).toBe('queued');
    drive1.run();
    expect(drive1.of('dispatchTask').at(-1)).toMatchObject({ stage: 'deploy' });
    expect(drive1.snapshot.value).toBe('done');
  });

  it('sends a red CI back to the first stage with the check and its log, a new round, then fails past maxCiRounds', () => {
    const drive1 = drive();
    drive1.toMerging();
    drive1.send({ type: 'merge.ci_failed', check: 'unit tests', excerpt: ['FAIL parse.test.ts'], now: 3 });
    expect(drive1.snapshot.value).toBe('queued');
    expect(drive1.snapshot.context).toMatchObject({ stageIndex: 0, round: 1, ciRounds: 1, attempt: 1 });
    expect(drive1.of('comment').at(-1)).toMatchObject({ kind: 'ci_failed', key: 'issue-5.g1.ci-failed.r1' });
    drive1.send({ type: 'stage.dispatch', now: 4 });
    const task = drive1.of('dispatchTask').at(-1)!;
    expect(task).toMatchObject({ stage: 'codegen', round: 1, attempt: 1, previous: { ci: { status: 'failure', outputs: { check: 'unit tests', log: ['FAIL parse.test.ts'] } } } });
    // The round is in the task id, so a second round's first attempt is a new task.
    expect(task.taskId).toBe('issue-5.g1.codegen.r1.a1');
    drive1.send({ type: 'stage.result', outcome: { taskId: task.taskId as string, status: 'success', reason: 'ok', attempt: 1 }, now: 5 });
    drive1.run();
    drive1.run();
    drive1.send({ type: 'merge.ci_failed', check: 'unit tests', excerpt: [], now: 6 });
    expect(drive1.snapshot.value).toBe('failed');
    expect(drive1.snapshot.context.reason).toMatch(/unit tests still failing after 1 CI round\(s\) \(workflow.maxCiRounds 1\)/);
  });

  it('sends a conflict back to the first stage with the conflict in its task, then fails past maxConflictRounds', () => {
    const drive1 = drive();
    drive1.toMerging();
    drive1.send({ type: 'merge.conflict', conflict, now: 3 });
    expect(drive1.snapshot.value).toBe('queued');
    expect(drive1.snapshot.context).toMatchObject({ conflictRounds: 1, round: 1 });
    expect(drive1.of('comment').at(-1)).toMatchObject({ kind: 'conflict' });
    drive1.send({ type: 'stage.dispatch', now: 4 });
    expect(drive1.of('dispatchTask').at(-1)).toMatchObject({ stage: 'codegen', conflict });
    drive1.send({ type: 'stage.result', outcome: { taskId: drive1.snapshot.context.taskId!, status: 'success', reason: 'ok', attempt: 1 }, now: 5 });
    drive1.run();
    // Resolved by the first stage: the later stages are not told to resolve it again.
    expect(drive1.of('dispatchTask').at(-1)).toMatchObject({ stage: 'review' });
    expect(drive1.of('dispatchTask').at(-1)).not.toHaveProperty('conflict');
    drive1.run();
    drive1.send({ type: 'merge.conflict', conflict, now: 6 });
    expect(drive1.snapshot.value).toBe('failed');
    expect(drive1.snapshot.context.reason).toContain('SHARED.md');
  });

  it('sends a restack conflict met before a later stage back to the first stage, counted with the merge conflicts', () => {
    const drive1 = drive();
    drive1.send({ type: 'deps.ready' });
    drive1.run();
    const restack: ConflictReport = { ...conflict, during: 'restack', theirs: { ref: 'miyabi/issue-4', sha: 'c'.repeat(40) } };
    drive1.send({ type: 'branch.conflict', conflict: restack, now: 3 });
    expect(drive1.snapshot.value).toBe('queued');
    expect(drive1.snapshot.context).toMatchObject({ stageIndex: 0, round: 1, conflictRounds: 1, conflict: restack });
    expect(drive1.snapshot.context.history.at(-1)).toMatchObject({ stage: 'review', status: 'failure', reason: 'merge conflict in SHARED.md' });
    expect(drive1.of('comment').at(-1)).toMatchObject({ kind: 'conflict', key: 'issue-5.g1.conflict.r1' });
    drive1.send({ type: 'stage.dispatch', now: 4 });
    expect(drive1.of('dispatchTask').at(-1)).toMatchObject({ stage: 'codegen', conflict: restack });
    drive1.send({ type: 'stage.result', outcome: { taskId: drive1.snapshot.context.taskId!, status: 'success', reason: 'ok', attempt: 1 }, now: 5 });
    drive1.send({ type: 'branch.conflict', conflict: restack, now: 6 });
    expect(drive1.snapshot.value).toBe('failed');
    expect(drive1.snapshot.context.reason).toBe(
      'merge conflict with miyabi/issue-4 in SHARED.md still there after 1 round(s) (workflow.maxConflictRounds 1)',
    );
  });

  it('waits in merge_blocked with the tracker\'s reason, labelled and commented once, and tries again when told', () => {
    const drive1 = drive();
    drive1.toMerging();
    drive1.send({ type: 'merge.blocked', reason: 'Required status check "ci" is expected.', now: 3 });
    expect(drive1.snapshot).toMatchObject({ value: 'merge_blocked', context: { reason: 'Required status check "ci" is expected.' } });
    expect(drive1.of('setStateLabel').at(-1)).toEqual({ label: 'merge_blocked' });
    const comments = drive1.of('comment').filter((comment) => comment.kind === 'merge_blocked');
    expect(comments).toHaveLength(1);
    // The same reason again: no second comment.
    drive1.send({ type: 'merge.blocked', reason: 'Required status check "ci" is expected.', now: 4 });
    expect(drive1.of('comment').filter((comment) => comment.kind === 'merge_blocked')).toHaveLength(1);
    drive1.send({ type: 'merge.retry', now: 5 });
    expect(drive1.snapshot.value).toBe('merging');
    drive1.send({ type: 'merge.done', sha: 'd'.repeat(40), method: 'merge', now: 6 });
    expect(drive1.snapshot.value).toBe('done');
  });

  it('fails with the reason the merge stage gives (a command that does not exist)', () => {
    const drive1 = drive();
    drive1.toMerging();
    drive1.send({ type: 'merge.failed', reason: 'command_not_found: workflow.ci.command: command not found: nope', now: 3 });
    expect(drive1.snapshot).toMatchObject({ value: 'failed', context: { reason: expect.stringContaining('command_not_found') } });
  });

  it('a cached stage before merge goes on to merging', () => {
    const drive1 = drive();
    drive1.send({ type: 'deps.ready' });
    drive1.run();
    drive1.run();
    drive1.send({ type: 'stage.cached', result: { status: 'success' }, now: 3 });
    expect(drive1.snapshot.value).toBe('merging');
  });
});

describe('needs_input', () => {
  it('waits for a person with the question, then runs the same stage again with the answer, attempt 1', () => {
    const drive1 = drive();
    drive1.send({ type: 'deps.ready' });
    drive1.run();
    drive1.run('needs_input', { question: 'Postgres or SQLite?', summary: 'which database' });
    const asked = drive1.snapshot.context.history.at(-1)!.taskId;
    expect(drive1.snapshot).toMatchObject({ value: 'waiting_for_human', context: { question: 'Postgres or SQLite?', stageIndex: 1 } });
    expect(drive1.of('setStateLabel').at(-1)).toEqual({ label: 'waiting_for_human' });
    expect(drive1.of('comment').at(-1)).toMatchObject({ kind: 'needs_input', reason: 'Postgres or SQLite?', stage: 'review' });
    // Not retried: nothing happens until someone answers.
    drive1.send({ type: 'retry.due', now: 99 });
    expect(drive1.snapshot.value).toBe('waiting_for_human');
    drive1.send({ type: 'issue.answer', answer: 'SQLite', by: 'aiko', now: 10 });
    expect(drive1.snapshot.value).toBe('queued');
    drive1.send({ type: 'stage.dispatch', now: 11 });
    expect(drive1.of('dispatchTask').at(-1)).toMatchObject({
      stage: 'review',
      attempt: 1,
      answers: [{ stage: 'review', question: 'Postgres or SQLite?', answer: 'SQLite', by: 'aiko' }],
    });
    // A new dispatch, not the one that asked: the bus drops a task id it has seen already.
    const ids = drive1.of('dispatchTask').map((task) => task.taskId);
    expect(ids.slice(-2)).toEqual(['issue-5.g1.review.r0.a1', 'issue-5.g1.review.r0.q1.a1']);
  });

  it('ignores an answer when no question is waiting', () => {
    const drive1 = drive();
    drive1.send({ type: 'deps.ready' });
    drive1.send({ type: 'issue.answer', answer: 'x', by: 'aiko', now: 1 });
    expect(drive1.snapshot.value).toBe('queued');
    expect(drive1.snapshot.context.answers).toEqual([]);
  });
});
