/**
 * Dependencies carried through a real `origin` on GitHub — the fake GitHub REST server over real
 * HTTP with a real bare repository behind it (its merges are real git merges there, its pull
 * requests' heads its branches), the workspace's `origin` remote pointing at that repository, the
 * real octokit client, real git and NATS:
 *
 * - `merged` mode: #2 (depends on #1) starts after #1's pull request merged on GitHub, from the
 *   base branch fetched from origin: its branch there holds #1's merge commit, and main on origin
 *   ends with both.
 * - `stacked` mode: #2 and #3 stacked on #1, their pull requests targeting miyabi/issue-1 until #1
 *   merges (squash), then main; their branches restacked onto main. #2's is pushed with a lease
 *   and merged. #3's holds someone else's commit on origin by then: not forced over (the commit
 *   stays), the issue says why — even after a plain `git fetch` in the workspace moved the
 *   remote-tracking ref a bare `--force-with-lease` would have trusted.
 */
import { execa } from 'execa';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, type TempDir } from '../support/cli.ts';
import { startFakeGitHub, type FakeGitHub } from '../support/fake-github.ts';
import {
  branchHead,
  commentsOf,
  contextOf,
  githubAgents,
  githubConfig,
  githubEnv,
  orchestraLog,
  pullOf,
  rowOf,
  stateOf,
  taskFiles,
  token,
  trustedIssue,
  waitingForBuild,
  waitState,
} from '../support/github-orchestra.ts';
import { startTestOrchestra, type TestOrchestra } from '../support/orchestra.ts';
import { waitFor } from '../support/wait.ts';
import { git, isAncestor } from '../support/workflow-run.ts';

beforeAll(githubEnv);

let dir: TempDir | undefined;
let fake: FakeGitHub | undefined;
let test: TestOrchestra | undefined;
afterEach(async () => {
  await test?.stop();
  await fake?.close();
  await dir?.[Symbol.asyncDispose]();
  test = undefined;
  fake = undefined;
  dir = undefined;
});


/** A bare repository as origin, the fake GitHub serving it; answers its path. */
async function githubWithOrigin(): Promise<string> {
  dir = await tempDir('miyabi-gh-origin-');
  const origin = join(dir.path, 'origin.git');
  await execa('git', ['init', '-q', '--bare', '-b', 'main', origin]);
  fake = await startFakeGitHub({ owner: 'acme', repo: 'widgets', token, origin });
  return origin;
}

/** The workspace is a clone of origin: its `origin` remote, main pushed there. */
const cloneOf = (origin: string) => async (repo: string) => {
  await git(repo, 'remote', 'add', 'origin', origin);
  await git(repo, 'push', '-q', 'origin', 'main');
};

const files = async (origin: string, ref: string) => (await git(origin, 'ls-tree', '-r', '--name-only', ref)).split('\n');
const parents = async (origin: string, sha: string) => (await git(origin, 'rev-list', '--parents', '-n', '1', sha)).split(' ').length - 1;

/** #2 waits in `merging` for #1 to merge first (stacked). */
const waitingForFirst = (issue: number, first: number) =>
  waitFor(() => stateOf(test!, issue) === 'merging' && contextOf(test!, issue).reason === `waiting for #${first} to merge first`, {
    timeoutMs: 30_000,
    what: `#${issue} waiting for #${first} to merge`,
  });

describe('merged mode with a real origin', { timeout: 120_000 }, () => {
  it('#2 depends on #1: #1 merged on GitHub (a real merge commit), #2 starts from main fetched from origin and holds it; main on origin ends with both', async () => {
    const origin = await githubWithOrigin();
    const first = trustedIssue(fake!, 'Add the report table');
    const second = trustedIssue(fake!, 'Export the report', `Depends on #${first.number}.`);
    test = await startTestOrchestra({ backend: 'process', agents: githubAgents(), config: githubConfig(fake!, { ci: { checks: [] } }), prepareRepo: cloneOf(origin) });

    await waitState(test, first.number, 'done');
    await waitState(test, second.number, 'done');
    const firstMerge = pullOf(fake!, first.number).pull!.merged!.sha;
    const secondMerge = pullOf(fake!, second.number).pull!.merged!.sha;
    // Real merge commits of origin, main ending at the second.
    expect(await git(origin, 'rev-parse', 'refs/heads/main')).toBe(secondMerge);
    expect(await parents(origin, firstMerge)).toBe(2);
    expect(await parents(origin, secondMerge)).toBe(2);
    expect(await isAncestor(origin, firstMerge, secondMerge)).toBe(true);
    // #2's branch on origin holds #1's merge: it was made from main after that merge.
    expect(await isAncestor(origin, firstMerge, 'refs/heads/miyabi/issue-2')).toBe(true);
    const [task] = await taskFiles(test.dataDir, second.number, 'codegen');
    expect((task!.git as unknown as { startedFrom: { ref: string; sha: string } }).startedFrom).toEqual({ ref: 'origin/main', sha: firstMerge });
    expect(await files(origin, 'refs/heads/main')).toEqual(expect.arrayContaining(['miyabi/issue-1.md', 'miyabi/issue-2.md']));
    expect(rowOf(test, second.number)).toMatchObject({ state: 'done', merged: secondMerge });
  });
});

describe('stacked mode with a real origin', { timeout: 120_000 }, () => {
  it('#2 and #3 stacked on #1: their pull requests target miyabi/issue-1; #1 squash-merged → retargeted to main and restacked; #2 pushed with a lease and merged; #3, with someone else\'s commit on its branch on origin (fetched into the workspace), not forced over: the commit stays, the issue says why', async () => {
    const origin = await githubWithOrigin();
    const first = trustedIssue(fake!, 'Add the report table');
    const second = trustedIssue(fake!, 'Export the report', `Depends on #${first.number}.`);
    const third = trustedIssue(fake!, 'Chart the report', `Depends on #${first.number}.`);
    const config = githubConfig(fake!, { merge: { method: 'squash' }, workflow: { dependencies: { mode: 'stacked' } } });
    test = await startTestOrchestra({ backend: 'process', agents: githubAgents(), config, prepareRepo: cloneOf(origin) });

    const firstHead = await waitingForBuild(test, first.number);
    const stackedHeads = new Map<number, string>();
    for (const { number } of [second, third]) {
      await waitingForFirst(number, first.number);
      expect(pullOf(fake!, number).pull!.base).toBe('miyabi/issue-1');
      const head = await git(origin, 'rev-parse', `refs/heads/miyabi/issue-${number}`);
      expect(await isAncestor(origin, firstHead, head)).toBe(true);
      stackedHeads.set(number, head);
    }

    // A person's commit on #3's branch, pushed from a clone of their own; then a plain `git fetch`
    // in the workspace: the remote-tracking ref says origin has it, so a lease on that ref would pass.
    const theirs = join(dir!.path, 'theirs');
    await execa('git', ['clone', '-q', '--branch', 'miyabi/issue-3', origin, theirs]);
    await execa('sh', ['-c', 'echo "a reviewer\'s fix" > fix.md && git add fix.md && git -c user.name=Ren -c user.email=ren@example.invalid commit -q -m "fix: by hand"'], { cwd: theirs });
    await git(theirs, 'push', '-q', 'origin', 'miyabi/issue-3');
    const foreign = await git(theirs, 'rev-parse', 'HEAD');
    await git(test.repo, 'fetch', '-q', 'origin');

    fake!.setCheckRun(firstHead, { name: 'build', conclusion: 'success' });
    await waitState(test, first.number, 'done');
    const squash = pullOf(fake!, first.number).pull!.merged!.sha;
    expect(await parents(origin, squash)).toBe(1);

    // #2: restacked onto main (the squash), pushed over the orchestra's own earlier push, merged.
    const pull = pullOf(fake!, second.number);
    const restacked = await waitingForBuild(test, second.number, stackedHeads.get(second.number));
    expect(pull.pull!.base).toBe('main');
    expect(fake!.requestsTo('PATCH', `/repos/acme/widgets/pulls/${pull.number}`).map((request) => request.status)).toEqual([200]);
    expect(await git(origin, 'rev-parse', 'refs/heads/miyabi/issue-2')).toBe(restacked);
    expect(await isAncestor(origin, squash, restacked)).toBe(true);
    expect(await isAncestor(origin, firstHead, restacked)).toBe(false);
    // Looked at twice more while its build runs: restacked once, not again at every look.
    const looks = () => fake!.requestsTo('GET', `/repos/acme/widgets/pulls/${pull.number}`).filter((request) => !request.path.endsWith('/merge')).length;
    const seen = looks();
    await waitFor(() => looks() >= seen + 2, { what: `two more looks at #${second.number}'s pull request` });
    expect(await branchHead(test.repo, second.number)).toBe(restacked);
    const restacks = (await orchestraLog(test.dataDir)).filter((line) => line.msg === 'branch restacked onto the base branch' && line.issue === second.number);
    expect(restacks).toHaveLength(1);
    fake!.setCheckRun(restacked, { name: 'build', conclusion: 'success' });
    await waitState(test, second.number, 'done');
    const main = await git(origin, 'rev-parse', 'refs/heads/main');
    expect(pullOf(fake!, second.number).pull!.merged!.sha).toBe(main);
    expect(await git(origin, 'rev-parse', `${main}^`)).toBe(squash);
    expect(await files(origin, main)).toEqual(expect.arrayContaining(['miyabi/issue-1.md', 'miyabi/issue-2.md']));

    // #3: retargeted and restacked too, but its push is refused: their commit stays where they left it.
    const originHead = () => git(origin, 'rev-parse', 'refs/heads/miyabi/issue-3');
    await waitFor(async () => stateOf(test!, third.number) === 'merge_blocked' || (await originHead()) !== foreign, { timeoutMs: 30_000, what: '#3 blocked or pushed' });
    expect(await originHead()).toBe(foreign);
    await waitState(test, third.number, 'merge_blocked');
    expect(pullOf(fake!, third.number).pull!.base).toBe('main');
    const { reason } = contextOf(test, third.number);
    expect(reason).toContain('miyabi/issue-3 on origin is not what the orchestra pushed there');
    expect(reason).toContain('not forced over it');
    expect(rowOf(test, third.number)).toMatchObject({ state: 'merge_blocked', reason });
    const comment = await waitFor(() => commentsOf(fake!, third.number).find((body) => body.includes('is refused')), { what: 'the merge_blocked comment' });
    expect(comment).toContain('not forced over it');
    expect(pullOf(fake!, third.number).pull!.merged).toBeUndefined();
    // The local branch was restacked all the same (it does not hold their commit).
    expect(await isAncestor(test.repo, foreign, await branchHead(test.repo, third.number))).toBe(false);
    expect(await isAncestor(test.repo, squash, await branchHead(test.repo, third.number))).toBe(true);
  });
});
