/**
 * Merging a pull request on GitHub, exactly once (`PUT /repos/{o}/{r}/pulls/{n}/merge`).
 *
 *   already merged        the pull request is read first: merged answers `merged` with
 *                         `already: true` and its merge commit, without a PUT (a replay after a
 *                         crash, or a person merged it)
 *   closed, not merged    `refused`, without a PUT
 *   conflicts             open with `mergeable === false` and `mergeable_state === 'dirty'`:
 *                         `conflict` without a PUT (GitHub does not list the files: `files: []`;
 *                         theirs is the base branch and its sha, ours the head)
 *   the PUT               `sha` is the head the caller checked, so a branch that moved since is
 *                         not merged; never retried by the client (`retries: 0`)
 *     200                 `merged` with the sha GitHub answers
 *     405                 `refused` with GitHub's message (a protected branch, reviews required,
 *                         not mergeable) — unless the pull request turns out merged meanwhile
 *     409                 `head_changed` with GitHub's message
 *     5xx, no answer      the outcome is unclear: the pull request is read again; merged answers
 *                         `merged`, else the failure is thrown (the caller's outbox retries)
 * Merges of one pull request run one at a time in this process.
 */
import { gitHubStatus } from '../errors.ts';
import type { MergeOutcome, MergeRequest } from '../source.ts';
import { toPullRequestState, type GitHubPullJson, type GitHubPulls } from './pulls.ts';
import type { GitHubRepo } from './repo.ts';

function gitHubMessage(error: unknown): string {
  const data = (error as { response?: { data?: unknown } }).response?.data;
  const message = typeof data === 'object' && data !== null ? (data as { message?: unknown }).message : undefined;
  return typeof message === 'string' && message !== '' ? message : String((error as Error).message ?? error);
}

const isMerged = (pull: GitHubPullJson): boolean => toPullRequestState(pull).merged;

export class GitHubMerges {
  constructor(
    private readonly github: GitHubRepo,
    private readonly pulls: GitHubPulls,
  ) {}

  async mergePullRequest(request: MergeRequest): Promise<MergeOutcome> {
    const { github } = this;
    const { number } = request;
    return github.call(`merging pull request #${number}`, () =>
      github.serialized(`pull-number:${number}`, async () => {
        const pull = await this.pulls.pullJson(number);
        if (pull === undefined) {
          return { kind: 'refused', reason: `pull request #${number} does not exist` };
        }
        if (isMerged(pull)) return { kind: 'merged', sha: pull.merge_commit_sha ?? '', already: true };
        if (pull.state === 'closed') return { kind: 'refused', reason: `pull request #${number} is closed without being merged` };
        if (pull.mergeable === false && pull.mergeable_state === 'dirty') {
          return {
            kind: 'conflict',
            files: [],
            theirs: { ref: pull.base.ref, sha: pull.base.sha },
            ours: { ref: pull.head.ref, sha: pull.head.sha },
          };
        }
        let outcome: MergeOutcome;
        try {
          const { data } = await github.octokit.request('PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge', {
            ...github.base,
            pull_number: number,
            sha: request.headSha,
            merge_method: request.method,
            commit_title: request.title,
            commit_message: request.message,
            request: { retries: 0 },
          });
          outcome = { kind: 'merged', sha: data.sha, already: false };
        } catch (error) {
          const status = gitHubStatus(error);
          if (status === 409) {
            outcome = { kind: 'head_changed', reason: gitHubMessage(error) };
          } else if (status === 405) {
            const now = await this.pulls.pullJson(number);
            outcome =
              now !== undefined && isMerged(now)
                ? { kind: 'merged', sha: now.merge_commit_sha ?? '', already: true }
                : { kind: 'refused', reason: gitHubMessage(error) };
          } else if (status === undefined || status >= 500) {
            // The PUT may have merged: GitHub's answer is what was lost.
            const now = await this.pulls.pullJson(number);
            if (now === undefined || !isMerged(now)) throw error;
            github.logger.warn({ repository: github.repository, pull: number, status }, 'the merge answer was lost; the pull request is merged');
            outcome = { kind: 'merged', sha: now.merge_commit_sha ?? '', already: false };
          } else {
            throw error;
          }
        }
        github.logger.info({ repository: github.repository, pull: number, outcome: outcome.kind, method: request.method }, 'merge of a pull request');
        return outcome;
      }),
    );
  }
}
