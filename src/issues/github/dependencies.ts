/**
 * GitHub's own issue dependencies ("blocked by", generally available in 2025):
 * `GET /repos/{o}/{r}/issues/{n}/dependencies/blocked_by`, every page, answers issue objects.
 * Those of this repository (by `repository_url`, else `html_url`) give their numbers; the others
 * are named `owner/repo#n`.
 *
 * Read conditionally (ETags per issue, ./pages.ts): asked again each time the issue changed, it
 * costs nothing on the rate limit when the answer is the same.
 *
 * A server without the feature (an older GitHub Enterprise Server) answers 404 or 410. A 404 is
 * also what GitHub answers for an issue that does not exist, so the issue is read once to tell
 * them apart: when it exists, the feature is missing, which is remembered for the life of the
 * source (undefined, without asking again); when it does not, the answer is empty lists.
 */
import { gitHubStatus } from '../errors.ts';
import type { GitHubIssues } from './issues.ts';
import { ConditionalLists } from './pages.ts';
import type { GitHubRepo } from './repo.ts';

export interface BlockedBy {
  numbers: number[];
  elsewhere: string[];
}

interface BlockerJson {
  number: number;
  repository_url?: string | null;
  html_url?: string | null;
}

/** `owner/repo` of an issue object: the end of `repository_url` (`…/repos/o/r`), else of `html_url`. */
export function repositoryOf(issue: BlockerJson): string | undefined {
  const api = /\/repos\/([^/]+)\/([^/]+)\/?$/.exec(issue.repository_url ?? '');
  if (api) return `${decodeURIComponent(api[1]!)}/${decodeURIComponent(api[2]!)}`;
  const html = /^https?:\/\/[^/]+\/([^/]+)\/([^/]+)\/(?:issues|pull)\/\d+/.exec(issue.html_url ?? '');
  return html ? `${decodeURIComponent(html[1]!)}/${decodeURIComponent(html[2]!)}` : undefined;
}

export class GitHubDependencies {
  /** The server answered 404 or 410 for an issue that exists: it has no issue dependencies. */
  private unavailable = false;
  private readonly lists: ConditionalLists;

  constructor(
    private readonly github: GitHubRepo,
    private readonly issues: GitHubIssues,
  ) {
    this.lists = new ConditionalLists(github);
  }

  async blockedBy(number: number): Promise<BlockedBy | undefined> {
    const { github } = this;
    if (this.unavailable) return undefined;
    return github.call(`reading what blocks #${number}`, async () => {
      let blockers: BlockerJson[];
      try {
        const { owner, repo } = github;
        blockers = await this.lists.read<BlockerJson>(
          `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}/issues/${number}/dependencies/blocked_by?per_page=${github.perPage}`,
        );
      } catch (error) {
        const status = gitHubStatus(error);
        if (status !== 404 && status !== 410) throw error;
        if (status === 404 && (await this.issues.issueJson(number)) === undefined) return { numbers: [], elsewhere: [] };
        this.unavailable = true;
        github.logger.info(
          { repository: github.repository, status },
          'GitHub has no issue dependencies here (an older server?): blocked-by relationships are not read',
        );
        return undefined;
      }
      const here = github.repository.toLowerCase();
      const numbers: number[] = [];
      const elsewhere: string[] = [];
      for (const blocker of blockers) {
        const repository = repositoryOf(blocker) ?? github.repository;
        if (repository.toLowerCase() === here) numbers.push(blocker.number);
        else elsewhere.push(`${repository}#${blocker.number}`);
      }
      return { numbers: [...new Set(numbers)], elsewhere: [...new Set(elsewhere)] };
    });
  }
}
