/**
 * The pull requests resource of the github source: one open pull request per head branch. An
 * open one from the same head means "already opened"; a create that failed without a clear
 * answer is looked for before it is tried again, and a 422 "already exists" means another
 * process opened it in between. The body always says `Closes #N`.
 * A pull request's state as the merge stage reads it (`GET /pulls/{n}`), and its base changed
 * (`PATCH /pulls/{n}`, only when it is not already that base). Merging is merge.ts.
 */
import { IssueErrorCodes, IssueSourceError, gitHubStatus } from '../errors.ts';
import type { PullRequestRef, PullRequestRequest, PullRequestState } from '../source.ts';
import type { GitHubAccess } from './access.ts';
import type { GitHubRepo } from './repo.ts';

/** `body` with `Closes #issue` appended unless it already says so. */
export function withClosingKeyword(body: string, issue: number): string {
  if (new RegExp(`\\bcloses #${issue}\\b`, 'i').test(body)) return body;
  return `${body.trimEnd()}${body.trim() === '' ? '' : '\n\n'}Closes #${issue}`;
}

/** The subset of GitHub's pull request JSON the source reads. */
export interface GitHubPullJson {
  number: number;
  html_url: string;
  state: string;
  merged?: boolean | null;
  merged_at?: string | null;
  merge_commit_sha?: string | null;
  head: { ref: string; sha: string };
  base: { ref: string; sha: string };
  mergeable?: boolean | null;
  mergeable_state?: string | null;
  updated_at: string;
}

export function toPullRequestState(json: GitHubPullJson): PullRequestState {
  // `merged` is absent from the pull requests GitHub lists; `merged_at` is in every shape.
  const merged = json.merged === true || (json.merged_at ?? null) !== null;
  return {
    number: json.number,
    url: json.html_url,
    state: json.state === 'closed' ? 'closed' : 'open',
    merged,
    ...(merged && typeof json.merge_commit_sha === 'string' ? { mergeCommitSha: json.merge_commit_sha } : {}),
    headRef: json.head.ref,
    headSha: json.head.sha,
    baseRef: json.base.ref,
    mergeable: json.mergeable ?? null,
    ...(typeof json.mergeable_state === 'string' ? { mergeableState: json.mergeable_state } : {}),
    updatedAt: json.updated_at,
  };
}

export class GitHubPulls {
  constructor(
    private readonly github: GitHubRepo,
    private readonly access: GitHubAccess,
  ) {}

  async openPullRequest(request: PullRequestRequest): Promise<PullRequestRef & { created: boolean }> {
    const { github } = this;
    return github.call(`opening the pull request of ${request.head} for #${request.issue}`, () =>
      github.serialized(`pull:${request.head}`, async () => {
        const existing = await this.openPullFor(request.head);
        if (existing !== undefined) return { ...existing, created: false };
        const base = request.base ?? (await this.access.repositoryDefaultBranch());
        let created: PullRequestRef | undefined;
        try {
          await github.createOnce(
            async () => {
              const response = await github.octokit.request('POST /repos/{owner}/{repo}/pulls', {
                ...github.base,
                head: request.head,
                base,
                title: request.title,
                body: withClosingKeyword(request.body, request.issue),
                draft: request.draft,
                request: { retries: 0 },
              });
              created = { number: response.data.number, url: response.data.html_url };
            },
            async () => (created = await this.openPullFor(request.head)) !== undefined,
          );
        } catch (error) {
          // 422 "A pull request already exists": another process opened it in between.
          if (gitHubStatus(error) !== 422) throw error;
          const raced = await this.openPullFor(request.head);
          if (raced === undefined) throw error;
          return { ...raced, created: false };
        }
        return { ...created!, created: true };
      }),
    );
  }

  async pullRequest(number: number): Promise<PullRequestState | undefined> {
    return this.github.call(`reading pull request #${number}`, async () => {
      const json = await this.pullJson(number);
      return json === undefined ? undefined : toPullRequestState(json);
    });
  }

  async retargetPullRequest(number: number, base: string): Promise<void> {
    const { github } = this;
    return github.call(`pointing pull request #${number} at ${base}`, () =>
      github.serialized(`pull-number:${number}`, async () => {
        const json = await this.pullJson(number);
        if (json === undefined) {
          throw new IssueSourceError(IssueErrorCodes.GitHubNotFound, `pull request ${github.repository}#${number} not found`, { status: 404 });
        }
        if (json.base.ref === base) return;
        await github.octokit.request('PATCH /repos/{owner}/{repo}/pulls/{pull_number}', { ...github.base, pull_number: number, base });
        github.logger.info({ repository: github.repository, pull: number, from: json.base.ref, base }, 'pull request retargeted');
      }),
    );
  }

  /** `GET /pulls/{n}` as GitHub sends it; undefined when there is no such pull request (404). */
  async pullJson(number: number): Promise<GitHubPullJson | undefined> {
    try {
      return (await this.github.octokit.request('GET /repos/{owner}/{repo}/pulls/{pull_number}', { ...this.github.base, pull_number: number }))
        .data as GitHubPullJson;
    } catch (error) {
      if (gitHubStatus(error) === 404) return undefined;
      throw error;
    }
  }

  private async openPullFor(head: string): Promise<PullRequestRef | undefined> {
    const { data } = await this.github.octokit.request('GET /repos/{owner}/{repo}/pulls', {
      ...this.github.base,
      state: 'open',
      head: `${this.github.owner}:${head}`,
      per_page: 1,
    });
    const pull = data[0];
    return pull === undefined ? undefined : { number: pull.number, url: pull.html_url };
  }
}
