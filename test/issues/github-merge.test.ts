// The github source's pull requests for the merge stage (pullRequest, mergePullRequest,
// retargetPullRequest) against the fake GitHub over real HTTP, and the writes whose answer is
// lost after GitHub applied them (merge, comment, pull request): done once, never twice.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { IssueErrorCodes } from '../../src/issues/errors.ts';
import type { MergeRequest } from '../../src/issues/source.ts';
import type { FakeGitHub } from '../support/fake-github.ts';
import { failure, githubSourceHarness, owner, repo } from '../support/github-source.ts';

const { fake, source, logLines } = githubSourceHarness();

const pullsPath = `/repos/${owner}/${repo}/pulls`;
const head = 'a'.repeat(40);

/** An issue and its open pull request from `miyabi/issue-<n>`, whose head is `head`. */
function issueWithPull(github: FakeGitHub, options: { body?: string } = {}) {
  const issue = github.addIssue({ title: 'Add a flag' });
  const pull = github.addPull({ head: `miyabi/issue-${issue.number}`, body: options.body ?? `The flag.\n\nCloses #${issue.number}` });
  github.setPullHead(pull.number, head);
  return { issue, pull };
}

const request = (number: number, extra: Partial<MergeRequest> = {}): MergeRequest => ({
  number,
  headSha: head,
  method: 'squash',
  title: 'Add a flag (#1)',
  message: 'The flag.',
  ...extra,
});

const mergePuts = (github: FakeGitHub, number: number) => github.requestsTo('PUT', `${pullsPath}/${number}/merge`);

describe('pullRequest', () => {
  it('answers an open pull request as GitHub describes it', async () => {
    const github = await fake();
    const { pull } = issueWithPull(github);
    expect(await source(github).pullRequest(pull.number)).toEqual({
      number: pull.number,
      url: `https://github.com/${owner}/${repo}/pull/${pull.number}`,
      state: 'open',
      merged: false,
      headRef: pull.pull!.head,
      headSha: head,
      baseRef: 'main',
      mergeable: true,
      mergeableState: 'clean',
      updatedAt: github.state.issues.get(pull.number)!.updatedAt,
    });
  });

  it('says mergeable null while GitHub computes it, and undefined for a missing number or an issue', async () => {
    const github = await fake();
    const { issue, pull } = issueWithPull(github);
    github.setPullMergeable(pull.number, { mergeable: null, mergeableState: 'unknown' });
    const issues = source(github);
    expect(await issues.pullRequest(pull.number)).toMatchObject({ mergeable: null, mergeableState: 'unknown' });
    expect(await issues.pullRequest(999)).toBeUndefined();
    expect(await issues.pullRequest(issue.number)).toBeUndefined();
  });
});

describe('mergePullRequest', () => {
  it('merges with the head checked, the method, title and message; the pull request and its issue close', async () => {
    const github = await fake();
    const { issue, pull } = issueWithPull(github);
    const issues = source(github);

    const outcome = await issues.mergePullRequest(request(pull.number));
    const merged = github.state.issues.get(pull.number)!.pull!.merged!;
    expect(outcome).toEqual({ kind: 'merged', sha: merged.sha, already: false });
    expect(merged.sha).toMatch(/^[0-9a-f]{40}$/);
    expect(merged).toMatchObject({ method: 'squash', title: 'Add a flag (#1)', message: 'The flag.' });
    expect(github.state.issues.get(issue.number)!.state).toBe('closed');
    expect(await issues.pullRequest(pull.number)).toMatchObject({ state: 'closed', merged: true, mergeCommitSha: merged.sha });
    expect(mergePuts(github, pull.number).map((r) => r.status)).toEqual([200]);
  });

  it('answers an already merged pull request without a second PUT, also from a fresh source and concurrently', async () => {
    const github = await fake();
    const { pull } = issueWithPull(github);
    const first = source(github);
    const together = await Promise.all([first.mergePullRequest(request(pull.number)), first.mergePullRequest(request(pull.number))]);
    const sha = github.state.issues.get(pull.number)!.pull!.merged!.sha;
    expect(together.map((o) => o.kind === 'merged' && o.already).sort()).toEqual([false, true]);
    expect(await source(github).mergePullRequest(request(pull.number))).toEqual({ kind: 'merged', sha, already: true });
    expect(mergePuts(github, pull.number)).toHaveLength(1);
  });

  it('answers refused with GitHub message on a 405 (a protected branch), and the pull request stays open', async () => {
    const github = await fake();
    const { pull } = issueWithPull(github);
    const reason = 'At least 1 approving review is required by reviewers with write access.';
    github.setPullMergeable(pull.number, { mergeableState: 'blocked', refuse: reason });
    expect(await source(github).mergePullRequest(request(pull.number))).toEqual({ kind: 'refused', reason });
    expect(github.state.issues.get(pull.number)!.state).toBe('open');
    expect(mergePuts(github, pull.number).map((r) => r.status)).toEqual([405]);

    github.setPullMergeable(pull.number, { mergeable: false, mergeableState: 'blocked', refuse: null });
    expect(await source(github).mergePullRequest(request(pull.number))).toEqual({ kind: 'refused', reason: 'Pull Request is not mergeable' });
  });

  it('answers head_changed on a 409 when the branch moved since it was checked', async () => {
    const github = await fake();
    const { pull } = issueWithPull(github);
    github.setPullHead(pull.number, 'b'.repeat(40));
    expect(await source(github).mergePullRequest(request(pull.number))).toEqual({
      kind: 'head_changed',
      reason: 'Head branch was modified. Review and try the merge again.',
    });
    expect(github.state.issues.get(pull.number)!.pull!.merged).toBeUndefined();
    expect(mergePuts(github, pull.number).map((r) => r.status)).toEqual([409]);
  });

  it('answers conflict without a PUT when GitHub says the pull request is dirty', async () => {
    const github = await fake();
    const { pull } = issueWithPull(github);
    github.setPullMergeable(pull.number, { mergeable: false, mergeableState: 'dirty' });
    // The fake's branch shas are the sha1 of the branch name.
    const mainSha = createHash('sha1').update('main').digest('hex');
    expect(await source(github).mergePullRequest(request(pull.number))).toEqual({
      kind: 'conflict',
      files: [],
      ours: { ref: pull.pull!.head, sha: head },
      theirs: { ref: 'main', sha: mainSha },
    });
    expect(mergePuts(github, pull.number)).toHaveLength(0);
  });

  it('refuses a closed pull request, and a missing one, without a PUT', async () => {
    const github = await fake();
    const { pull } = issueWithPull(github);
    github.closeIssue(pull.number);
    const issues = source(github);
    expect(await issues.mergePullRequest(request(pull.number))).toMatchObject({ kind: 'refused', reason: expect.stringContaining('closed') });
    expect(await issues.mergePullRequest(request(999))).toMatchObject({ kind: 'refused', reason: expect.stringContaining('does not exist') });
    expect(github.requestsTo('PUT', pullsPath)).toHaveLength(0);
  });

  it('throws when the PUT failed and the pull request is not merged: no retry of the PUT by the client', async () => {
    const github = await fake();
    const { pull } = issueWithPull(github);
    github.fail({ kind: 'server_error', status: 502, method: 'PUT' });
    const issues = source(github);
    expect((await failure(issues.mergePullRequest(request(pull.number)))).code).toBe(IssueErrorCodes.GitHubUnavailable);
    expect(github.state.issues.get(pull.number)!.pull!.merged).toBeUndefined();
    expect(mergePuts(github, pull.number).map((r) => r.status)).toEqual([502]);
    // The caller's retry merges it.
    expect(await issues.mergePullRequest(request(pull.number))).toMatchObject({ kind: 'merged', already: false });
  });
});

describe('a write GitHub applied whose answer was lost', () => {
  for (const lost of [{ how: 'the connection dropped', status: undefined }, { how: 'a 502', status: 502 }]) {
    it(`merges once when ${lost.how} after the merge: merged, and a replay is already merged`, async () => {
      const github = await fake();
      const { pull } = issueWithPull(github);
      github.fail({ kind: 'answer_lost', method: 'PUT', ...(lost.status ? { status: lost.status } : {}) });
      const issues = source(github);

      const outcome = await issues.mergePullRequest(request(pull.number));
      const sha = github.state.issues.get(pull.number)!.pull!.merged!.sha;
      expect(outcome).toEqual({ kind: 'merged', sha, already: false });
      expect(mergePuts(github, pull.number)).toEqual([expect.objectContaining({ status: lost.status ?? 0, appliedStatus: 200 })]);
      expect(await source(github).mergePullRequest(request(pull.number))).toEqual({ kind: 'merged', sha, already: true });
      expect(mergePuts(github, pull.number)).toHaveLength(1);
      expect(logLines.some((line) => line.includes('the merge answer was lost'))).toBe(true);
    });
  }

  it('posts one comment when the answer to the POST was lost (502, then a dropped connection)', async () => {
    const github = await fake();
    const issue = github.addIssue({});
    const commentsPath = `/repos/${owner}/${repo}/issues/${issue.number}/comments`;
    github.fail({ kind: 'answer_lost', status: 502, method: 'POST', path: commentsPath });
    github.fail({ kind: 'answer_lost', method: 'POST', path: commentsPath });
    const issues = source(github);
    expect(await issues.comment(issue.number, 'start', 'Started.')).toEqual({ posted: true });
    expect(await issues.comment(issue.number, 'done', 'Done.')).toEqual({ posted: true });
    expect(github.commentCount(issue.number)).toBe(2);
    expect(github.requestsTo('POST', commentsPath).map((r) => [r.status, r.appliedStatus])).toEqual([
      [502, 201],
      [0, 201],
    ]);
    expect(await source(github).comment(issue.number, 'start', 'Started.')).toEqual({ posted: false });
  });

  for (const lost of [{ how: 'the connection dropped', status: undefined }, { how: 'a 502', status: 502 }]) {
    it(`opens one pull request when the answer to the POST was lost (${lost.how})`, async () => {
      const github = await fake();
      const issue = github.addIssue({});
      github.fail({ kind: 'answer_lost', method: 'POST', path: pullsPath, ...(lost.status ? { status: lost.status } : {}) });
      const opened = await source(github).openPullRequest({ issue: issue.number, head: 'miyabi/issue-1', title: 't', body: '', draft: false });
      expect(opened).toMatchObject({ created: true });
      expect(github.pullsForHead('miyabi/issue-1').map((p) => p.number)).toEqual([opened.number]);
      expect(github.requestsTo('POST', pullsPath).map((r) => [r.status, r.appliedStatus])).toEqual([[lost.status ?? 0, 201]]);
    });
  }
});

describe('retargetPullRequest', () => {
  it('points the pull request at another base once: no PATCH when it is already there', async () => {
    const github = await fake();
    const issue = github.addIssue({});
    const pull = github.addPull({ head: `miyabi/issue-${issue.number}`, base: 'miyabi/issue-0' });
    const issues = source(github);
    await issues.retargetPullRequest(pull.number, 'main');
    await issues.retargetPullRequest(pull.number, 'main');
    expect(github.state.issues.get(pull.number)!.pull!.base).toBe('main');
    expect((await issues.pullRequest(pull.number))?.baseRef).toBe('main');
    expect(github.requestsTo('PATCH', `${pullsPath}/${pull.number}`)).toHaveLength(1);
  });

  it('fails with github_not_found for a missing pull request', async () => {
    const github = await fake();
    expect((await failure(source(github).retargetPullRequest(7, 'main'))).code).toBe(IssueErrorCodes.GitHubNotFound);
  });
});
