/**
 * The merge stage on the local source, with the example agents and the example CI check
 * (examples/ci/check.mjs, the default `workflow.ci.command`): a merge conflict sent back to the
 * code generator with both sides in its task and resolved; a red CI sent back with the check's
 * log and fixed; each capped by its limit; a CI command that does not exist fails only the issues
 * that reach it.
 *
 * `demo:shared-line` makes the example codegen write the issue's line into miyabi/SHARED.md, so
 * two such issues conflict at the second merge; `demo:ci-fail-once` leaves `ci: red` in the
 * issue's file until a CI round.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { processAlive } from '../../src/infra/os/process.ts';
import { startTestOrchestra, type TestOrchestra } from '../support/orchestra.ts';
import { waitFor } from '../support/wait.ts';
import {
  exampleAgent,
  exampleCi,
  gated,
  git,
  isAncestor,
  issueFiles,
  orchestraLog,
  pulls,
  snapshotOf,
  stateOf,
  taskFile,
  trackerIssue,
  waitForState,
} from '../support/workflow-run.ts';

const backlog = issueFiles([
  { number: 1, title: 'Owners API', labels: ['demo:shared-line'] },
  { number: 2, title: 'Owners page', labels: ['demo:shared-line'] },
  { number: 3, title: 'Rate limit', labels: ['demo:ci-fail-once'] },
]);

// Two code generators: both shared-line branches are made from main before either merges.
const agents = { codegen: exampleAgent('codegen', { min: 2, max: 2 }), pr: exampleAgent('pr') };

function start(workflow: Record<string, unknown> = {}, issues = backlog): Promise<TestOrchestra> {
  return startTestOrchestra({
    backend: 'process',
    agents,
    config: { workflow: { defaultRoute: ['codegen', 'pr', 'merge'], retry: { initialDelayMs: 200 }, ci: { pollIntervalMs: 200 }, ...workflow } },
    issues,
  });
}

/** The shared-line issue that merged first, and the other. */
async function mergeOrder(test: TestOrchestra): Promise<[number, number]> {
  const first = (await orchestraLog(test.dataDir)).find((line) => line.msg === 'merge recorded' && (line.issue === 1 || line.issue === 2))!.issue!;
  return [first, 3 - first];
}

const subjects = (commits: Array<{ subject: string }>) => commits.map((commit) => commit.subject);

describe('the merge stage, local source', { timeout: 120_000 }, () => {
  it('a merge conflict goes back to codegen with both sides in the task and is resolved; a red CI goes back with the check\'s log and turns green; all merge', async () => {
    const test = await start();
    try {
      await waitForState(test, [1, 2, 3], 'done', 90_000);
      const [first, second] = await mergeOrder(test);

      // The second shared-line issue met the first's change at its merge and went back once.
      const context = snapshotOf(test, second)!.context;
      expect(context.conflictRounds).toBe(1);
      expect(snapshotOf(test, first)!.context.conflictRounds).toBe(0);
      const task = await taskFile(test.dataDir, `issue-${second}.g1.codegen.r1.a1`);
      expect(task.conflict).toMatchObject({
        during: 'merge',
        files: ['miyabi/SHARED.md'],
        theirs: { ref: 'main' },
        ours: { ref: `miyabi/issue-${second}` },
      });
      // Both sides' commits: the first issue's work on main, the second's on its branch.
      expect(subjects(task.conflict.commits.theirs)).toContain(`miyabi: #${first} ${first === 1 ? 'Owners API' : 'Owners page'}`);
      expect(subjects(task.conflict.commits.ours)).toContain(`miyabi: #${second} ${second === 1 ? 'Owners API' : 'Owners page'}`);
      expect(await isAncestor(test.repo, task.conflict.theirs.sha, 'main')).toBe(true);
      expect(context.results.codegen!.summary).toContain('resolved the conflict with main in miyabi/SHARED.md');
      // Resolved: the next stage's task does not hand it on.
      expect(await taskFile(test.dataDir, `issue-${second}.g1.pr.r1.a1`)).not.toHaveProperty('conflict');
      const comments = (await trackerIssue(test.dataDir, second)).comments.map((comment) => comment.key);
      expect(comments).toContain(`issue-${second}.g1.conflict.r1`);
      // Resolved: main has both lines, each issue merged once.
      const shared = await git(test.repo, 'show', 'main:miyabi/SHARED.md');
      expect(shared).toContain('- #1: Owners API');
      expect(shared).toContain('- #2: Owners page');

      // #3: red, then back to codegen with the check's name and the end of its log, then green.
      const three = snapshotOf(test, 3)!.context;
      expect(three.ciRounds).toBe(1);
      const ciRound = await taskFile(test.dataDir, 'issue-3.g1.codegen.r1.a1');
      expect(ciRound.round).toBe(1);
      expect(ciRound.previous.ci).toMatchObject({ status: 'failure', summary: 'CI check ci.command failed', outputs: { check: 'ci.command' } });
      const ciLog: string[] = ciRound.previous.ci.outputs.log;
      expect(ciLog.join('\n')).toContain('ci: FAIL miyabi/issue-3.md: it still says "ci: red"');
      expect(ciLog.join('\n')).toContain('ci: 1 test, 1 failure');
      const ciComment = (await trackerIssue(test.dataDir, 3)).comments.find((comment) => comment.key === 'issue-3.g1.ci-failed.r1');
      expect(ciComment?.body).toContain('still says "ci: red"');
      const merged3 = await git(test.repo, 'show', 'main:miyabi/issue-3.md');
      expect(merged3).not.toMatch(/^ci: red/m);
      expect(merged3).toContain('## Fixed after CI');

      const all = await pulls(test.dataDir);
      expect(all.map((pull) => pull.issue).sort()).toEqual([1, 2, 3]);
      for (const pull of all) expect(pull).toMatchObject({ base: 'main', merged: true });
      const trailers = (await git(test.repo, 'log', '--first-parent', '--format=%B', 'main')).split('\n').filter((line) => line.startsWith('Miyabi-Merge: '));
      expect(trailers).toHaveLength(3);
    } finally {
      await test.stop();
    }
  });

  it('maxConflictRounds 0 and maxCiRounds 0: the conflict and the red CI fail their issues with the reason; nothing of theirs merges', async () => {
    const test = await start({ maxConflictRounds: 0, maxCiRounds: 0 });
    try {
      await waitForState(test, [3], 'failed', 90_000);
      await waitFor(() => [1, 2].every((number) => ['done', 'failed'].includes(stateOf(test, number) ?? '')), {
        timeoutMs: 60_000,
        what: 'both shared-line issues settled',
      });
      const [first, second] = await mergeOrder(test);
      expect(stateOf(test, first)).toBe('done');
      expect(stateOf(test, second)).toBe('failed');
      expect(snapshotOf(test, second)!.context.reason).toBe(
        'merge conflict with main in miyabi/SHARED.md still there after 0 round(s) (workflow.maxConflictRounds 0)',
      );
      expect(snapshotOf(test, 3)!.context.reason).toBe('CI check ci.command still failing after 0 CI round(s) (workflow.maxCiRounds 0)');
      await test.orchestra.resources.workflow!.flush();
      for (const number of [second, 3]) {
        const failed = (await trackerIssue(test.dataDir, number)).comments.find((comment) => comment.key === `issue-${number}.g1.failed`);
        expect(failed?.body, `#${number}'s failure comment`).toContain(snapshotOf(test, number)!.context.reason!);
        // Never sent back for another round.
        expect(snapshotOf(test, number)!.context.round).toBe(0);
      }
      const merged = (await pulls(test.dataDir)).filter((pull) => pull.merged).map((pull) => pull.issue);
      expect(merged).toEqual([first]);
      expect(await git(test.repo, 'ls-tree', '-r', '--name-only', 'main')).not.toContain('miyabi/issue-3.md');
    } finally {
      await test.stop();
    }
  });

  it('a ci.command that does not exist fails the issue that reaches it with command_not_found; another goes on', async () => {
    const test = await start(
      { ci: { pollIntervalMs: 200, command: ['no-such-ci-binary', '{worktree}'] }, routes: [{ label: 'no-merge', stages: ['codegen', 'pr'] }] },
      issueFiles([{ number: 1 }, { number: 2, labels: ['no-merge'] }]),
    );
    try {
      await waitForState(test, [1], 'failed');
      await waitForState(test, [2], 'done');
      expect(snapshotOf(test, 1)!.context.reason).toMatch(/^command_not_found: .*no-such-ci-binary/);
      await test.orchestra.resources.workflow!.flush();
      const failed = (await trackerIssue(test.dataDir, 1)).comments.find((comment) => comment.key === 'issue-1.g1.failed');
      expect(failed?.body).toContain('command_not_found');
      expect((await pulls(test.dataDir)).map((pull) => [pull.issue, pull.merged]).sort()).toEqual([
        [1, false],
        [2, false],
      ]);
      expect(await test.orchestra.resources.metrics.render()).toMatch(/miyabi_merge_stage_total\{outcome="failed"\} 1\b/);
    } finally {
      await test.stop();
    }
  });

  it('a ci.command running when the orchestra stops is stopped with it, not left behind', async () => {
    const gates = await mkdtemp(join(tmpdir(), 'miyabi-ci-gates-'));
    await writeFile(join(gates, 'ci-1.hold'), '');
    const test = await start({ ci: { pollIntervalMs: 200, command: gated(gates, 'ci-{issue}', exampleCi) } }, issueFiles([{ number: 1, title: 'Held in CI' }]));
    let pid: number;
    try {
      const waiting = await waitFor(() => readFile(join(gates, 'ci-1.waiting'), 'utf8').catch(() => undefined), { timeoutMs: 60_000, what: "#1's CI command running" });
      pid = Number(waiting.trim());
      expect(processAlive(pid)).toBe(true);
    } finally {
      await test.stop();
    }
    // Its process group is gone with the orchestra (it waited for a file that never came).
    await waitFor(() => !processAlive(pid), { timeoutMs: 10_000, what: 'the CI command stopped' }).finally(() => rm(gates, { recursive: true, force: true }));
  });
});
