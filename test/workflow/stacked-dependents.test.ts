/**
 * Stacked mode (`workflow.dependencies.mode: stacked`) from the dependents' side, on the local
 * source with the example agents; what must hold is read back from the git repository, the
 * orchestra log, the local tracker (`pulls.json`, `pull-<n>.md`) and the task files.
 *
 * Retarget: #2 and #3 depend on #1 and their route has no merge stage, so nothing of their own
 * ever points their pull requests elsewhere. #1's merge does: #2's pull request, open on
 * miyabi/issue-1 before #1 merged, and #3's, opened on it by a pr stage that was running while #1
 * merged (test/workflow/fixtures/gate.mjs holds the one and the other), both end on main.
 *
 * Merged on the tracker: #1's route has no merge stage either; once a person merges its pull
 * request, #2's goes to main all the same, and #3's merge stage, which waited for #1, goes on.
 *
 * Restack after a CI fix: #8's CI is red once (`demo:ci-fail-once`) after its dependent #9
 * started; #8's codegen fixes it with new commits, and #9 is rebased onto them before its next
 * stage. #9's first run is held until #8's fix is in, #8's second CI until #9 was restacked, so
 * #9 builds on #8's new head rather than on main after #8 merged.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/cli.ts';
import { startTestOrchestra } from '../support/orchestra.ts';
import { waitFor } from '../support/wait.ts';
import {
  exampleAgent,
  exampleAgents,
  exampleCi,
  gated,
  gatedCodegen,
  git,
  indexOf,
  isAncestor,
  issueFiles,
  type LogLine,
  orchestraLog,
  pulls,
  snapshotOf,
  taskFile,
  waitForLog,
  waitForState,
} from '../support/workflow-run.ts';


function stacked(gates: string, extra: Record<string, unknown> = {}) {
  return {
    workflow: {
      defaultRoute: ['codegen', 'pr', 'merge'],
      retry: { initialDelayMs: 200 },
      dependencies: { mode: 'stacked' },
      ci: { pollIntervalMs: 200, command: gated(gates, 'ci-{issue}', exampleCi) },
      ...extra,
    },
  };
}

const dir = await tempDir('miyabi-stacked-');
afterAll(() => dir[Symbol.asyncDispose]());
async function gateDir(name: string): Promise<string> {
  const path = join(dir.path, name);
  await mkdir(path);
  return path;
}

const pullOf = async (dataDir: string, issue: number) => (await pulls(dataDir)).find((pull) => pull.issue === issue);

describe('stacked dependents', { timeout: 150_000 }, () => {
  it('a dependency\'s merge points its dependents\' pull requests at main, though their routes have no merge stage', async () => {
    const gates = await gateDir('retarget');
    // #1 cannot merge until #2's pull request is open; #3's pr stage runs across #1's merge.
    await writeFile(join(gates, 'ci-1.hold'), '');
    await writeFile(join(gates, 'pr-3.hold'), '');
    const pr = exampleAgent('pr', { min: 2, max: 2 });
    const test = await startTestOrchestra({
      backend: 'process',
      agents: { codegen: exampleAgent('codegen', { max: 2 }), pr: { ...pr, command: gated(gates, 'pr-{issue}', pr.command) } },
      config: stacked(gates, { routes: [{ label: 'no-merge', stages: ['codegen', 'pr'] }] }),
      issues: issueFiles([
        { number: 1 },
        { number: 2, dependsOn: [1], labels: ['no-merge'] },
        { number: 3, dependsOn: [1], labels: ['no-merge'] },
      ]),
    });
    try {
      await waitForState(test, [2], 'done');
      const stacked2 = await waitFor(() => pullOf(test.dataDir, 2), { timeoutMs: 30_000, what: '#2\'s pull request' });
      await waitFor(async () => existsSync(join(gates, 'pr-3.waiting')) || undefined, { timeoutMs: 60_000, what: '#3 in its pr stage' });
      // Before #1 merged: #2's pull request is stacked on #1's branch, and #3's pr stage was told to stack its own.
      expect(snapshotOf(test, 1)!.context.merged).toBeUndefined();
      expect(stacked2).toMatchObject({ base: 'miyabi/issue-1', state: 'open' });
      expect((await taskFile(test.dataDir, 'issue-3.g1.pr.r0.a1')).git).toMatchObject({ pullRequestBase: 'miyabi/issue-1' });

      await writeFile(join(gates, 'ci-1'), '');
      await waitForLog(test.dataDir, (line) => line.msg === 'merge recorded' && line.issue === 1, '#1 merged');
      const retargeted2 = await waitFor(async () => ((await pullOf(test.dataDir, 2))?.base === 'main' ? pullOf(test.dataDir, 2) : undefined), {
        timeoutMs: 30_000,
        what: '#2\'s pull request pointed at main',
      });
      expect(retargeted2).toMatchObject({ state: 'open', merged: false });
      const view = await readFile(join(test.dataDir, 'tracker', `pull-${retargeted2!.number}.md`), 'utf8');
      expect(view).toContain('- Branch: miyabi/issue-2 → main');

      // #3 opens its pull request on #1's branch, merged by now: it goes to main at once.
      await writeFile(join(gates, 'pr-3'), '');
      await waitForState(test, [1, 2, 3], 'done');
      // The log line follows the tracker's write: waited for, the log holds both retargets.
      const retarget = (number: number) => (line: LogLine) => line.msg === 'pull request retargeted to the base branch' && line.issue === number;
      await waitForLog(test.dataDir, retarget(3), '#3\'s pull request pointed at main', 30_000);
      expect(await pullOf(test.dataDir, 3)).toMatchObject({ base: 'main', state: 'open' });

      const log = await orchestraLog(test.dataDir);
      for (const number of [2, 3]) {
        // Neither has a merge stage: the retarget was the dependency's merge's doing, once.
        expect(snapshotOf(test, number)!.context.history.map((run) => run.stage)).toEqual(['codegen', 'pr']);
        const retargets = log.filter(retarget(number));
        expect(retargets, `#${number} retargeted once`).toHaveLength(1);
        expect(retargets[0]).toMatchObject({ base: 'main', merged: 1 });
      }
      expect(indexOf(log, 'pull request retargeted to the base branch', 2)).toBeGreaterThan(indexOf(log, 'merge recorded', 1));
      expect(indexOf(log, 'pull request retargeted to the base branch', 3)).toBeGreaterThan(indexOf(log, 'pull request opened', 3));
    } finally {
      await test.stop();
    }
  });

  it('a dependency without a merge stage, merged on the tracker: its dependent\'s pull request goes to main, its dependent\'s merge goes on', async () => {
    const gates = await gateDir('merged-outside');
    const test = await startTestOrchestra({
      backend: 'process',
      agents: exampleAgents('codegen', 'pr'),
      config: stacked(gates, { routes: [{ label: 'no-merge', stages: ['codegen', 'pr'] }] }),
      issues: issueFiles([
        { number: 1, labels: ['no-merge'] },
        { number: 2, dependsOn: [1], labels: ['no-merge'] },
        { number: 3, dependsOn: [1] },
      ]),
    });
    try {
      await waitForState(test, [1, 2], 'done');
      const pull1 = await waitFor(() => pullOf(test.dataDir, 1), { timeoutMs: 30_000, what: '#1\'s pull request' });
      const pull2 = await waitFor(() => pullOf(test.dataDir, 2), { timeoutMs: 30_000, what: '#2\'s pull request' });
      expect(pull2.base).toBe('miyabi/issue-1');
      // #3's merge stage waits for #1, whose route has none: only a merge on the tracker frees it.
      await waitFor(() => (snapshotOf(test, 3)?.context.reason?.includes('waiting for #1 to merge first') ? true : undefined), { timeoutMs: 60_000, what: '#3 waiting for #1' });

      // A person merges #1's pull request on the tracker.
      const headSha = await git(test.repo, 'rev-parse', 'miyabi/issue-1');
      const merged = await test.orchestra.resources.issueSource!.mergePullRequest({ number: pull1.number, headSha, method: 'merge', title: 'by hand', message: 'Closes #1' });
      expect(merged).toMatchObject({ kind: 'merged' });
      await waitForLog(test.dataDir, (line) => line.msg === 'pull request retargeted to the base branch' && line.issue === 2, '#2\'s pull request pointed at main', 60_000);
      expect(await pullOf(test.dataDir, 2)).toMatchObject({ base: 'main', state: 'open' });
      await waitForState(test, [3], 'done');
      expect(await pullOf(test.dataDir, 3)).toMatchObject({ base: 'main', merged: true });
      const log = await orchestraLog(test.dataDir);
      expect(indexOf(log, 'pull request retargeted to the base branch', 2)).toBeGreaterThan(indexOf(log, 'pull request merged on the tracker', 1));
    } finally {
      await test.stop();
    }
  });

  it('restack after a CI fix: the dependency\'s CI is red once after its dependent started; the dependent is rebased onto the fix', async () => {
    const gates = await gateDir('ci-restack');
    // #9's first run waits for #8's fix; #8's fix waits until the test holds #8's second CI run.
    await writeFile(join(gates, 'codegen-9-r0.hold'), '');
    await writeFile(join(gates, 'codegen-8-r1.hold'), '');
    const test = await startTestOrchestra({
      backend: 'process',
      agents: { ...exampleAgents('pr'), codegen: gatedCodegen(gates) },
      config: stacked(gates),
      issues: issueFiles([{ number: 8, labels: ['demo:ci-fail-once'] }, { number: 9, dependsOn: [8] }]),
    });
    try {
      // The CI round began: #8's first CI run is over (red).
      await waitForLog(test.dataDir, (line) => line.msg === 'stage dispatched' && line.taskId === 'issue-8.g1.codegen.r1.a1', '#8 back after its red CI');
      await writeFile(join(gates, 'ci-8.hold'), '');
      await writeFile(join(gates, 'codegen-8-r1'), '');
      // #8's second CI run is held: its branch has every commit of the fix.
      await waitFor(async () => existsSync(join(gates, 'ci-8.waiting')) || undefined, { timeoutMs: 60_000, what: '#8\'s second CI run' });
      await writeFile(join(gates, 'codegen-9-r0'), '');
      await waitForLog(test.dataDir, (line) => line.msg === 'stage dispatched' && line.taskId === 'issue-9.g1.pr.r0.a1', '#9 at its pr stage');
      await writeFile(join(gates, 'ci-8'), '');
      await waitForState(test, [8, 9], 'done');

      const log = await orchestraLog(test.dataDir);
      // #9 started before #8's CI sent it back.
      const started9 = indexOf(log, 'stage dispatched', 9);
      const ciRed8 = indexOf(log, 'CI failed; back to the first stage', 8);
      expect(started9).toBeGreaterThan(-1);
      expect(started9).toBeLessThan(ciRed8);
      expect(snapshotOf(test, 8)!.context.ciRounds).toBe(1);

      // #9's first run started on #8's branch as it was (the bug in it); its next stage on #8's fixed head.
      const first = await taskFile(test.dataDir, 'issue-9.g1.codegen.r0.a1');
      const next = await taskFile(test.dataDir, 'issue-9.g1.pr.r0.a1');
      const head8 = await git(test.repo, 'rev-parse', 'miyabi/issue-8');
      expect(first.git.startedFrom.ref).toBe('miyabi/issue-8');
      expect(await git(test.repo, 'show', `${first.git.startedFrom.sha}:miyabi/issue-8.md`)).toContain('ci: red');
      expect(next.git.startedFrom).toEqual({ ref: 'miyabi/issue-8', sha: head8 });
      expect(await git(test.repo, 'show', `${head8}:miyabi/issue-8.md`)).toContain('## Fixed after CI');
      const fix = (await git(test.repo, 'log', '--format=%H', `${first.git.startedFrom.sha}..${head8}`)).split('\n').filter(Boolean);
      expect(fix.length, '#8 got new commits after #9 started').toBeGreaterThan(0);
      const restacked = log.findIndex((line) => line.msg === 'branch restacked' && line.branch === 'miyabi/issue-9');
      expect(restacked, '#9 restacked after the CI round').toBeGreaterThan(ciRed8);
      expect(restacked).toBeLessThan(log.findIndex((line) => line.msg === 'stage dispatched' && line.taskId === 'issue-9.g1.pr.r0.a1'));
      // The branch holds #8's fix, and both merged.
      for (const sha of fix) expect(await isAncestor(test.repo, sha, 'miyabi/issue-9'), `#9 contains ${sha.slice(0, 7)}`).toBe(true);
      expect(await git(test.repo, 'show', 'main:miyabi/issue-8.md')).not.toContain('ci: red');
      expect(await git(test.repo, 'show', 'main:miyabi/issue-9.md')).toContain('Issue #9');
      for (const pull of await pulls(test.dataDir)) expect(pull).toMatchObject({ base: 'main', merged: true });
    } finally {
      await test.stop();
    }
  });
});
