/**
 * Work carries through the dependency graph, in both modes (`workflow.dependencies.mode`), on
 * the local source with the example agents: a chain (#1 → #2 → #3) and a diamond (#4 → #5, #6 →
 * #7) in one backlog. What must hold is read back from the git repository, the orchestra log, the
 * local tracker (`pulls.json`) and the task files.
 *
 * In stacked mode the CI of the chain's and the diamond's roots is held (test/workflow/fixtures/
 * gate.mjs) until every pull request is open, so "a dependent starts before its dependencies
 * merged" and "its pull request targets the dependency's branch" are made sure, not hoped for.
 *
 * Restack (stacked): #8 goes through a review round after its dependent #9 started (the route
 * puts review after pr; #9's first run is held until #8 has new commits), and #9 is rebased onto
 * them before its next stage; with fixtures/owner-line.mjs both claim one line, the rebase
 * conflicts, and #9 goes back to its first stage with the conflict.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/cli.ts';
import { startTestOrchestra, type TestOrchestra } from '../support/orchestra.ts';
import { waitFor } from '../support/wait.ts';
import {
  exampleAgents,
  exampleCi,
  fixturesDir,
  gated,
  gatedCodegen,
  git,
  indexOf,
  isAncestor,
  issueFiles,
  orchestraLog,
  pulls,
  snapshotOf,
  taskFile,
  trackerIssue,
  waitForLog,
  waitForState,
} from '../support/workflow-run.ts';

/** Dependent → its dependencies. */
const EDGES: Record<number, number[]> = { 2: [1], 3: [2], 5: [4], 6: [4], 7: [5, 6] };
const ALL = [1, 2, 3, 4, 5, 6, 7];
const backlog = issueFiles(ALL.map((number) => ({ number, dependsOn: EDGES[number] ?? [] })));
const edges = Object.entries(EDGES).flatMap(([dependent, on]) => on.map((dependency) => [Number(dependent), dependency] as const));

function config(mode: 'merged' | 'stacked', extra: Record<string, unknown> = {}) {
  return {
    workflow: {
      defaultRoute: ['codegen', 'pr', 'merge'],
      retry: { initialDelayMs: 200 },
      dependencies: { mode },
      ci: { pollIntervalMs: 200 },
      ...extra,
    },
  };
}

/** Every dependent's branch holds its dependencies' work (their heads), and main holds every issue's. */
async function expectWorkCarried(test: TestOrchestra): Promise<void> {
  for (const [dependent, dependency] of edges) {
    const head = await git(test.repo, 'rev-parse', `miyabi/issue-${dependency}`);
    expect(await isAncestor(test.repo, head, `miyabi/issue-${dependent}`), `#${dependent}'s branch contains #${dependency}'s head`).toBe(true);
  }
  const files = (await git(test.repo, 'ls-tree', '-r', '--name-only', 'main')).split('\n');
  for (const number of ALL) expect(files, `#${number}'s work on main`).toContain(`miyabi/issue-${number}.md`);
  const merged = await pulls(test.dataDir);
  expect(merged.map((pull) => pull.issue).sort()).toEqual(ALL);
  for (const pull of merged) expect(pull, `#${pull.issue}'s pull request`).toMatchObject({ base: 'main', merged: true });
}

const dir = await tempDir('miyabi-gates-');
afterAll(() => dir[Symbol.asyncDispose]());
async function gateDir(name: string): Promise<string> {
  const path = join(dir.path, name);
  await mkdir(path);
  return path;
}

describe('dependencies carry their work', { timeout: 150_000 }, () => {
  it('merged mode: a dependent starts only after its dependencies merged, from main, and main ends with everything', async () => {
    const test = await startTestOrchestra({ backend: 'process', agents: exampleAgents('codegen', 'pr'), config: config('merged'), issues: backlog });
    try {
      await waitForState(test, ALL, 'done', 120_000);
      await expectWorkCarried(test);

      const log = await orchestraLog(test.dataDir);
      for (const [dependent, dependency] of edges) {
        const started = indexOf(log, 'stage dispatched', dependent);
        const merged = indexOf(log, 'merge recorded', dependency);
        expect(merged, `#${dependency} merge recorded`).toBeGreaterThan(-1);
        expect(started, `#${dependent} dispatched after #${dependency}'s merge recorded`).toBeGreaterThan(merged);
        // Its branch was made from main after that merge: the merge commit itself is in it.
        const mergeCommit = snapshotOf(test, dependency)!.context.merged!.sha;
        expect(await isAncestor(test.repo, mergeCommit, `miyabi/issue-${dependent}`), `#${dependent}'s branch contains #${dependency}'s merge`).toBe(true);
      }
      // What the agent was told: the branch started from main, each dependency merged.
      const task = await taskFile(test.dataDir, 'issue-7.g1.codegen.r0.a1');
      expect(task.git).toMatchObject({ mode: 'merged', baseBranch: 'main', startedFrom: { ref: 'main' }, pullRequestBase: 'main' });
      expect(task.git.dependencies).toEqual([
        expect.objectContaining({ number: 5, branch: 'miyabi/issue-5', merged: true, mergeCommit: snapshotOf(test, 5)!.context.merged!.sha }),
        expect.objectContaining({ number: 6, branch: 'miyabi/issue-6', merged: true, mergeCommit: snapshotOf(test, 6)!.context.merged!.sha }),
      ]);
      // Each merged once.
      const merges = (await git(test.repo, 'log', '--first-parent', '--format=%B%x00', 'main')).split('\0').filter((body) => body.includes('Miyabi-Merge: '));
      expect(merges).toHaveLength(ALL.length);
    } finally {
      await test.stop();
    }
  });

  it('stacked mode: a dependent starts once its dependencies passed pr, before they merged, on their branches; its pull request is retargeted to main; everything merges', async () => {
    const gates = await gateDir('stacked');
    // The roots' CI waits: nothing can merge until every pull request is open.
    for (const root of [1, 4]) await writeFile(join(gates, `ci-${root}.hold`), '');
    const test = await startTestOrchestra({
      backend: 'process',
      agents: exampleAgents('codegen', 'pr'),
      config: config('stacked', { ci: { pollIntervalMs: 200, command: gated(gates, 'ci-{issue}', exampleCi) } }),
      issues: backlog,
    });
    try {
      const open = await waitFor(async () => ((await pulls(test.dataDir)).length === ALL.length ? pulls(test.dataDir) : undefined), {
        timeoutMs: 90_000,
        what: 'every pull request open',
      });
      // Nothing merged yet, and every dependent is past its pr stage: they all started early.
      expect((await orchestraLog(test.dataDir)).filter((line) => line.msg === 'merge recorded')).toEqual([]);
      for (const number of ALL) expect(snapshotOf(test, number)!.context.merged, `#${number} not merged yet`).toBeUndefined();
      const bases = Object.fromEntries(open.map((pull) => [pull.issue, pull.base]));
      expect(bases).toEqual({ 1: 'main', 2: 'miyabi/issue-1', 3: 'miyabi/issue-2', 4: 'main', 5: 'miyabi/issue-4', 6: 'miyabi/issue-4', 7: 'main' });
      for (const [dependent, dependency] of edges) {
        const prDone = snapshotOf(test, dependency)!.context.history.find((run) => run.stage === 'pr' && run.status === 'success')!;
        const firstRun = snapshotOf(test, dependent)!.context.history[0]!;
        expect(firstRun.startedAt, `#${dependent} dispatched after #${dependency}'s pr stage succeeded`).toBeGreaterThanOrEqual(prDone.finishedAt);
      }
      // What the agents were told: a branch started from the dependency's head (or a merge of both heads).
      const second = await taskFile(test.dataDir, 'issue-2.g1.codegen.r0.a1');
      expect(second.git).toMatchObject({ mode: 'stacked', startedFrom: { ref: 'miyabi/issue-1' }, pullRequestBase: 'miyabi/issue-1' });
      expect(second.git.dependencies).toEqual([expect.objectContaining({ number: 1, branch: 'miyabi/issue-1', merged: false })]);
      const seventh = await taskFile(test.dataDir, 'issue-7.g1.codegen.r0.a1');
      expect(seventh.git).toMatchObject({ mode: 'stacked', startedFrom: { ref: 'merge of #5 and #6' }, pullRequestBase: 'main' });
      const parents = (await git(test.repo, 'rev-list', '--parents', '-n', '1', seventh.git.startedFrom.sha)).split(' ').slice(1);
      expect(parents).toEqual([seventh.git.dependencies[0].head, seventh.git.dependencies[1].head]);

      for (const root of [1, 4]) await writeFile(join(gates, `ci-${root}`), '');
      await waitForState(test, ALL, 'done', 120_000);
      await expectWorkCarried(test);

      const log = await orchestraLog(test.dataDir);
      for (const [dependent, dependency] of edges) {
        expect(indexOf(log, 'merge recorded', dependent), `#${dependent} merged after #${dependency}`).toBeGreaterThan(indexOf(log, 'merge recorded', dependency));
      }
      // The stacked pull requests were pointed at main before they merged.
      for (const number of [2, 3, 5, 6]) {
        const retargeted = indexOf(log, 'pull request retargeted to the base branch', number);
        expect(retargeted, `#${number} retargeted`).toBeGreaterThan(-1);
        expect(retargeted).toBeLessThan(indexOf(log, 'merge recorded', number));
      }
    } finally {
      await test.stop();
    }
  });

  it('stacked mode, restack: the dependency goes through a review round after its dependent started; the dependent is rebased onto its new commits', async () => {
    const gates = await gateDir('restack');
    // #9's first codegen run waits until #8 has been sent back and has new commits; #8's CI until #9 is restacked.
    await writeFile(join(gates, 'codegen-9-r0.hold'), '');
    await writeFile(join(gates, 'ci-8.hold'), '');
    const test = await startTestOrchestra({
      backend: 'process',
      agents: { ...exampleAgents('review', 'pr'), codegen: gatedCodegen(gates) },
      config: config('stacked', {
        routes: [{ label: 'review-last', stages: ['codegen', 'pr', 'review', 'merge'] }],
        ci: { pollIntervalMs: 200, command: gated(gates, 'ci-{issue}', exampleCi) },
      }),
      issues: issueFiles([
        { number: 8, labels: ['review-last', 'demo:changes-requested-once'] },
        { number: 9, dependsOn: [8] },
      ]),
    });
    try {
      await waitForLog(test.dataDir, (line) => line.msg === 'stage dispatched' && line.taskId === 'issue-8.g1.pr.r1.a1', '#8 back from its review round');
      await writeFile(join(gates, 'codegen-9-r0'), '');
      await waitForLog(test.dataDir, (line) => line.msg === 'stage dispatched' && line.taskId === 'issue-9.g1.pr.r0.a1', '#9 at its pr stage');
      await writeFile(join(gates, 'ci-8'), '');
      await waitForState(test, [8, 9], 'done');

      const log = await orchestraLog(test.dataDir);
      // #9 started before #8 was sent back for changes.
      const started9 = indexOf(log, 'stage dispatched', 9);
      const rework8 = log.findIndex((line) => line.msg === 'stage dispatched' && line.taskId === 'issue-8.g1.codegen.r1.a1');
      expect(started9).toBeGreaterThan(-1);
      expect(started9).toBeLessThan(rework8);
      // #9's first run started on #8's branch as it was; its next stage on #8's new head, after a restack.
      const rework = snapshotOf(test, 8)!.context.history.find((run) => run.stage === 'codegen' && run.round === 1 && run.status === 'success');
      expect(rework).toBeDefined();
      const first = await taskFile(test.dataDir, 'issue-9.g1.codegen.r0.a1');
      const next = await taskFile(test.dataDir, 'issue-9.g1.pr.r0.a1');
      expect(first.git.startedFrom.ref).toBe('miyabi/issue-8');
      expect(next.git.startedFrom.ref).toBe('miyabi/issue-8');
      expect(next.git.startedFrom.sha).not.toBe(first.git.startedFrom.sha);
      const newWork = (await git(test.repo, 'log', '--format=%H', `${first.git.startedFrom.sha}..${next.git.startedFrom.sha}`)).split('\n').filter(Boolean);
      expect(newWork.length, '#8 got new commits after #9 started').toBeGreaterThan(0);
      const restacked = log.findIndex((line) => line.msg === 'branch restacked' && line.branch === 'miyabi/issue-9');
      expect(restacked, '#9 restacked').toBeGreaterThan(rework8);
      expect(restacked).toBeLessThan(log.findIndex((line) => line.msg === 'stage dispatched' && line.taskId === 'issue-9.g1.pr.r0.a1'));
      // The branch holds #8's new commits, and everything merged.
      for (const sha of newWork) expect(await isAncestor(test.repo, sha, 'miyabi/issue-9'), `#9 contains ${sha.slice(0, 7)}`).toBe(true);
      expect(await git(test.repo, 'show', 'main:miyabi/issue-8.md')).toContain('## Changes after review');
      expect(await git(test.repo, 'show', 'main:miyabi/issue-9.md')).toContain('Issue #9');
      for (const pull of await pulls(test.dataDir)) expect(pull).toMatchObject({ base: 'main', merged: true });
    } finally {
      await test.stop();
    }
  });

  it('stacked mode, restack conflict: the dependent goes back to its first stage with the conflict (during restack), resolves it, and merges', async () => {
    const gates = await gateDir('restack-conflict');
    // Each claims OWNER.txt's line (test/workflow/fixtures/owner-line.mjs): #8's review round conflicts with #9's claim.
    await writeFile(join(gates, 'codegen-9-r0.hold'), '');
    await writeFile(join(gates, 'ci-8.hold'), '');
    const test = await startTestOrchestra({
      backend: 'process',
      agents: {
        ...exampleAgents('review', 'pr'),
        codegen: { command: gated(gates, 'codegen-{issue}-r{round}', ['node', join(fixturesDir, 'owner-line.mjs')]), min: 2, max: 2 },
      },
      config: config('stacked', {
        routes: [{ label: 'review-last', stages: ['codegen', 'pr', 'review', 'merge'] }],
        ci: { pollIntervalMs: 200, command: gated(gates, 'ci-{issue}', exampleCi) },
      }),
      issues: issueFiles([
        { number: 8, labels: ['review-last', 'demo:changes-requested-once'] },
        { number: 9, dependsOn: [8] },
      ]),
    });
    try {
      // #9's first run ends once #8's new commits are all there (its second pr stage done).
      await waitForLog(test.dataDir, (line) => line.msg === 'stage dispatched' && line.taskId === 'issue-8.g1.review.r1.a1', '#8 reviewed again');
      await writeFile(join(gates, 'codegen-9-r0'), '');
      await waitForLog(test.dataDir, (line) => line.msg === 'stage dispatched' && line.issue === 9 && line.stage === 'pr', '#9 at its pr stage');
      await writeFile(join(gates, 'ci-8'), '');
      await waitForState(test, [8, 9], 'done');

      const { context } = snapshotOf(test, 9)!;
      expect(context.conflictRounds).toBe(1);
      expect(context.history.map((run) => `${run.stage}.r${run.round}:${run.status}`)).toEqual([
        'codegen.r0:success',
        'pr.r0:failure',
        'codegen.r1:success',
        'pr.r1:success',
        'merge.r1:success',
      ]);
      // The pr stage was never run with the conflict: the first stage got it.
      const log = await orchestraLog(test.dataDir);
      expect(log.filter((line) => line.msg === 'stage dispatched' && line.issue === 9).map((line) => line.taskId)).toEqual([
        'issue-9.g1.codegen.r0.a1',
        'issue-9.g1.codegen.r1.a1',
        'issue-9.g1.pr.r1.a1',
      ]);
      const task = await taskFile(test.dataDir, 'issue-9.g1.codegen.r1.a1');
      const head8 = await git(test.repo, 'rev-parse', 'miyabi/issue-8');
      expect(task.conflict).toMatchObject({ during: 'restack', files: ['OWNER.txt'], theirs: { ref: 'miyabi/issue-8', sha: head8 }, ours: { ref: 'miyabi/issue-9' } });
      expect(task.conflict.commits.theirs.map((commit: { subject: string }) => commit.subject)).toContain('owner: #8 r1');
      expect(task.conflict.commits.ours.map((commit: { subject: string }) => commit.subject)).toContain('owner: #9 r0');
      expect(context.results.codegen!.summary).toContain('resolved the conflict with miyabi/issue-8 in OWNER.txt');
      expect((await trackerIssue(test.dataDir, 9)).comments.map((comment) => comment.key)).toContain('issue-9.g1.conflict.r1');
      expect(await isAncestor(test.repo, head8, 'miyabi/issue-9')).toBe(true);
      for (const pull of await pulls(test.dataDir)) expect(pull).toMatchObject({ base: 'main', merged: true });
    } finally {
      await test.stop();
    }
  });
});
