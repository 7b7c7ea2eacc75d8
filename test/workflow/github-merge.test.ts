/**
 * The merge stage on GitHub — the fake GitHub REST server over real HTTP, the real octokit
 * client, real git and NATS: a merge GitHub refuses (405, a protected branch; 409, the head
 * moved) leaves the issue in `merge_blocked` with GitHub's reason, looked at again when the pull
 * request changes; with `workflow.merge.auto` off (GitHub's default) the issue waits in `merging`
 * for a person, sees their merge, and `up --once` stops there instead of waiting for ever. A pull
 * request GitHub reports conflicting goes back to its first stage with the conflict, as on the
 * local source, at most `workflow.maxConflictRounds` times.
 */
import { execa } from 'execa';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startFakeGitHub, type FakeGitHub } from '../support/fake-github.ts';
import { cliPath, repoRoot, tempDir, type TempDir } from '../support/cli.ts';
import {
  commentsOf,
  contextOf,
  githubAgents,
  githubConfig,
  githubEnv,
  mergeByHand,
  mergePuts,
  pullOf,
  rowOf,
  stateLabels,
  stateOf,
  taskFiles,
  token,
  TOKEN_ENV,
  trustedIssue,
  waitingForBuild,
  waitState,
} from '../support/github-orchestra.ts';
import { gitRepo, startTestOrchestra, type TestOrchestra } from '../support/orchestra.ts';
import { waitFor } from '../support/wait.ts';

beforeAll(githubEnv);

let fake: FakeGitHub | undefined;
let test: TestOrchestra | undefined;
afterEach(async () => {
  await test?.stop();
  await fake?.close();
  test = undefined;
  fake = undefined;
});

const PROTECTED = 'Protected branch: required review missing';

describe('a merge GitHub refuses', { timeout: 120_000 }, () => {
  it('405 (a protected branch) → merge_blocked with GitHub\'s reason, not merged; the pull request changes → tried again → merged (squash, as configured), done', async () => {
    fake = await startFakeGitHub({ owner: 'acme', repo: 'widgets', token });
    const issue = trustedIssue(fake, 'Export the report');
    test = await startTestOrchestra({ backend: 'process', agents: githubAgents(), config: githubConfig(fake, { merge: { method: 'squash' } }) });
    const head = await waitingForBuild(test, issue.number);
    const pull = pullOf(fake, issue.number);
    fake.setPullMergeable(pull.number, { refuse: PROTECTED });
    fake.setCheckRun(head, { name: 'build', conclusion: 'success' });

    await waitState(test, issue.number, 'merge_blocked');
    expect(contextOf(test, issue.number).reason).toBe(PROTECTED);
    expect(rowOf(test, issue.number)).toMatchObject({ state: 'merge_blocked', reason: PROTECTED, merged: undefined });
    expect(mergePuts(fake).map((request) => request.status)).toEqual([405]);
    expect(pull.pull!.merged).toBeUndefined();
    expect(fake.state.issues.get(issue.number)!.state).toBe('open');
    const blocked = await waitFor(() => commentsOf(fake!, issue.number).find((body) => body.includes('is refused')), { what: 'the merge_blocked comment' });
    expect(blocked).toContain(`> ${PROTECTED}`);
    await waitFor(() => stateLabels(fake!, issue.number).join() === 'miyabi:merge-blocked', { what: 'the merge-blocked label' });

    // Looked at again at the poll interval, but not merged again while the pull request is as it was.
    const reads = () => fake!.requestsTo('GET', `/repos/acme/widgets/pulls/${pull.number}`).filter((request) => !request.path.endsWith('/merge')).length;
    const before = reads();
    await waitFor(() => reads() >= before + 3, { what: 'three more looks at the blocked pull request' });
    expect(mergePuts(fake)).toHaveLength(1);
    expect(stateOf(test, issue.number)).toBe('merge_blocked');

    // A reviewer approved, the protection is satisfied, and the pull request shows it (a new head sha from GitHub's side, a new updated_at).
    fake.setPullMergeable(pull.number, { refuse: null });
    fake.setPullHead(pull.number, head);
    await waitState(test, issue.number, 'done');
    expect(mergePuts(fake).map((request) => request.status)).toEqual([405, 200]);
    expect(pull.pull!.merged).toMatchObject({ method: 'squash', message: `Closes #${issue.number}` });
    expect(contextOf(test, issue.number).merged).toMatchObject({ method: 'squash', sha: pull.pull!.merged!.sha });
    expect(rowOf(test, issue.number)).toMatchObject({ state: 'done', merged: pull.pull!.merged!.sha });
    await test.orchestra.resources.workflow!.flush();
    expect(stateLabels(fake, issue.number)).toEqual(['miyabi:done']);
    expect(commentsOf(fake, issue.number).filter((body) => body.includes('is refused'))).toHaveLength(1);
    expect(commentsOf(fake, issue.number).filter((body) => body.includes('is done'))).toHaveLength(1);
  });

  it('409 (the head moved on GitHub since the orchestra checked it) → merge_blocked with the reason, not merged', async () => {
    fake = await startFakeGitHub({ owner: 'acme', repo: 'widgets', token });
    const issue = trustedIssue(fake, 'Export the report');
    test = await startTestOrchestra({ backend: 'process', agents: githubAgents(), config: githubConfig(fake) });
    const head = await waitingForBuild(test, issue.number);
    const pull = pullOf(fake, issue.number);
    // Someone pushed to the branch on GitHub.
    fake.setPullHead(pull.number, 'f'.repeat(40));
    fake.setCheckRun(head, { name: 'build', conclusion: 'success' });

    await waitState(test, issue.number, 'merge_blocked');
    const reason = 'Head branch was modified. Review and try the merge again.';
    expect(contextOf(test, issue.number).reason).toBe(reason);
    expect(rowOf(test, issue.number)).toMatchObject({ state: 'merge_blocked', reason, merged: undefined });
    expect(mergePuts(fake).map((request) => request.status)).toEqual([409]);
    expect(pull.pull!.merged).toBeUndefined();
    expect(await waitFor(() => commentsOf(fake!, issue.number).find((body) => body.includes('is refused')), { what: 'the comment' })).toContain(reason);
  });
});

describe('a pull request GitHub reports conflicting (mergeable false, `dirty`)', { timeout: 120_000 }, () => {
  it('→ no merge tried; back to codegen with the conflict in its task (files from a trial merge here); resolved → merged; still conflicting after workflow.maxConflictRounds → failed with the reason', async () => {
    fake = await startFakeGitHub({ owner: 'acme', repo: 'widgets', token });
    const resolved = trustedIssue(fake, 'Export the report');
    const stuck = trustedIssue(fake, 'Import the report');
    test = await startTestOrchestra({ backend: 'process', agents: githubAgents(), config: githubConfig(fake, { workflow: { maxConflictRounds: 1 } }) });
    const repo = test.repo;
    const heads = [await waitingForBuild(test, resolved.number), await waitingForBuild(test, stuck.number)];
    // main moved on with each issue's file: GitHub says the pull requests conflict, and so does git here.
    for (const { number } of [resolved, stuck]) {
      await execa('sh', ['-c', `mkdir -p miyabi && echo "main's own #${number}" > miyabi/issue-${number}.md && git add miyabi && git commit -q -m "main: #${number}"`], { cwd: repo });
      fake.setPullMergeable(pullOf(fake, number).number, { mergeable: false, mergeableState: 'dirty' });
    }
    const mainSha = (await execa('git', ['rev-parse', 'main'], { cwd: repo })).stdout.trim();
    for (const head of heads) fake.setCheckRun(head, { name: 'build', conclusion: 'success' });

    for (const [index, { number }] of [resolved, stuck].entries()) {
      const task = await waitFor(async () => (await taskFiles(test!.dataDir, number, 'codegen')).find((candidate) => candidate.round === 1), {
        timeoutMs: 60_000,
        what: `#${number} back to codegen`,
      });
      expect(contextOf(test, number).conflictRounds).toBe(1);
      expect((task as unknown as { conflict: unknown }).conflict).toMatchObject({
        during: 'merge',
        files: [`miyabi/issue-${number}.md`],
        theirs: { ref: 'main', sha: mainSha },
        ours: { ref: `miyabi/issue-${number}`, sha: heads[index] },
        commits: { theirs: expect.arrayContaining([expect.objectContaining({ subject: `main: #${number}` })]) },
      });
      const comment = await waitFor(() => commentsOf(fake!, number).find((body) => body.includes('merge conflict; back to codegen')), { what: 'the conflict comment' });
      expect(comment).toContain(`- \`miyabi/issue-${number}.md\``);
    }
    expect(mergePuts(fake)).toEqual([]);

    // #1 resolved on GitHub's side; #2 still conflicts at its next merge.
    fake.setPullMergeable(pullOf(fake, resolved.number).number, { mergeable: true, mergeableState: 'clean' });
    for (const { number } of [resolved, stuck]) fake.setCheckRun(await waitingForBuild(test, number, heads[number - resolved.number]), { name: 'build', conclusion: 'success' });
    await waitState(test, resolved.number, 'done');
    await waitState(test, stuck.number, 'failed');
    expect(pullOf(fake, resolved.number).pull!.merged).toBeDefined();
    expect(pullOf(fake, stuck.number).pull!.merged).toBeUndefined();
    expect(mergePuts(fake).map((request) => request.status)).toEqual([200]);
    expect(contextOf(test, stuck.number).reason).toBe(`merge conflict with main in miyabi/issue-${stuck.number}.md still there after 1 round(s) (workflow.maxConflictRounds 1)`);
  });
});

describe('auto-merge off (GitHub\'s default)', { timeout: 180_000 }, () => {
  let dir: TempDir | undefined;
  afterEach(async () => {
    await dir?.[Symbol.asyncDispose]();
    dir = undefined;
  });

  it('waits in `merging` for someone to merge; a merge by hand on GitHub → seen merged → done', async () => {
    fake = await startFakeGitHub({ owner: 'acme', repo: 'widgets', token });
    const issue = trustedIssue(fake, 'Export the report');
    // The merge stage looks every 5 s, the watcher polls every second: GitHub's close of the issue
    // (the pull request says Closes #1) reaches the orchestra before the merge stage's next look.
    const config = githubConfig(fake, { merge: { auto: undefined }, ci: { checks: [], pollIntervalMs: 5_000 } });
    test = await startTestOrchestra({ backend: 'process', agents: githubAgents(), config });
    await waitFor(() => stateOf(test!, issue.number) === 'merging' && contextOf(test!, issue.number).reason?.includes('waiting for someone to merge'), {
      timeoutMs: 60_000,
      what: 'waiting for a person',
    });
    const pull = pullOf(fake, issue.number);
    expect(rowOf(test, issue.number)).toMatchObject({
      state: 'merging',
      reason: `waiting for someone to merge pull request #${pull.number} (workflow.merge.auto is off)`,
    });
    // Settled: nothing the orchestra does will merge it (batch mode would stop here).
    await waitFor(() => test!.orchestra.resources.workflow!.settled(), { what: 'settled' });
    expect(mergePuts(fake)).toEqual([]);

    expect(await mergeByHand(fake, pull.number)).toBe(200);
    // Merged, not released as "closed on the tracker".
    await waitState(test, issue.number, 'done');
    expect(mergePuts(fake)).toHaveLength(1);
    expect(rowOf(test, issue.number)).toMatchObject({ state: 'done', merged: pull.pull!.merged!.sha });
    await test.orchestra.resources.workflow!.flush();
    expect(stateLabels(fake, issue.number)).toEqual(['miyabi:done']);
    expect(commentsOf(fake, issue.number).filter((body) => body.includes('is done'))).toHaveLength(1);
  });

  it('`up --once` stops (settled) with the issue waiting for a person, exit 1 and the reason in the summary', async () => {
    fake = await startFakeGitHub({ owner: 'acme', repo: 'widgets', token });
    const issue = trustedIssue(fake, 'Export the report');
    dir = await tempDir('miyabi-gh-manual-');
    const repo = join(dir.path, 'repo');
    await execa('mkdir', ['-p', repo]);
    await gitRepo(repo);
    const { workflow, issues } = githubConfig(fake, { merge: { auto: undefined }, ci: { checks: [] } });
    const config = await dir.file(
      'c.yaml',
      stringify({ dataDir: join(dir.path, 'data'), http: { enabled: false }, panes: { backend: 'process' }, workspace: { repo }, agents: githubAgents(), issues, workflow }),
    );
    const startedAt = Date.now();
    const run = await execa(cliPath, ['up', '--once', '--config', config], { cwd: repoRoot, reject: false, env: { [TOKEN_ENV]: token }, timeout: 120_000 });
    console.log(`up --once settled with the issue waiting for a person in ${Date.now() - startedAt} ms`);
    expect(run.exitCode, run.stderr.slice(-2000)).toBe(1);
    const output = run.stdout + run.stderr;
    expect(output).toMatch(/merging/);
    expect(output).toContain('waiting for someone to merge pull request');
    expect(mergePuts(fake)).toEqual([]);
    expect(pullOf(fake, issue.number).pull!.merged).toBeUndefined();
  });
});
