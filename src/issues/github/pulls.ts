/**
 * The pull requests resource of the github source: one open pull request per head branch. An
 * open one from the same head means "already opened"; a create that failed without a clear
 * answer is looked for before it is tried again, and a 422 "already exists" means another
 * process opened it in between. The body always says `Closes #N`.
 */
import { gitHubStatus } from '../errors.ts';
import type { PullRequestRef, PullRequestRequest } from '../source.ts';
import type { GitHubAccess } from './access.ts';
import type { GitHubRepo } from './repo.ts';

/** `body` with `Closes #issue` appended unless it already says so. */
export function withClosingKeyword(body: string, issue: number): string {
  if (new RegExp(`\\bcloses #${issue}\\b`, 'i').test(body)) return body;
  return `${body.trimEnd()}${body.trim() === '' ? '' : '\n\n'}Closes #${issue}`;
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
