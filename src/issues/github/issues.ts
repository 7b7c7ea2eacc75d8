/**
 * The issues resource of the github source: GitHub's issue JSON and its conversion to a
 * TrackedIssue, the full open list polled with per-page ETags (a 304 costs nothing on the rate
 * limit), the list of issues updated since a time, and one issue. Pull requests, which GitHub
 * lists as issues, are left out everywhere.
 */
import { gitHubStatus } from '../errors.ts';
import { AUTHOR_ASSOCIATIONS, type AuthorAssociation, type ListResult, type TrackedIssue } from '../source.ts';
import type { GitHubRepo } from './repo.ts';

/** The subset of GitHub's issue JSON (REST and webhook payloads) the source reads. */
export interface GitHubIssueJson {
  number: number;
  title?: string | null;
  body?: string | null;
  labels?: Array<string | { name?: string | null }>;
  state?: string | null;
  user?: { login?: string | null; type?: string | null } | null;
  author_association?: string | null;
  html_url?: string | null;
  updated_at?: string | null;
  pull_request?: unknown;
}

const associations: ReadonlySet<string> = new Set<string>(AUTHOR_ASSOCIATIONS);

/** GitHub's `author_association`; anything it does not know is NONE. */
export function toAssociation(value: string | null | undefined): AuthorAssociation {
  const association = value ?? 'NONE';
  return associations.has(association) ? (association as AuthorAssociation) : 'NONE';
}

/** GitHub's `user.type === 'Bot'`, or a login ending in `[bot]`. */
export function isBotUser(user: { login?: string | null; type?: string | null } | null | undefined): boolean {
  return user?.type === 'Bot' || (user?.login ?? '').endsWith('[bot]');
}

/** GitHub's issue JSON as a TrackedIssue. Never throws on odd content: missing text becomes ''. */
export function toTrackedIssue(json: GitHubIssueJson): TrackedIssue {
  return {
    number: json.number,
    title: typeof json.title === 'string' ? json.title : '',
    body: typeof json.body === 'string' ? json.body : '',
    labels: (json.labels ?? [])
      .map((label) => (typeof label === 'string' ? label : (label?.name ?? '')))
      .filter((name) => name !== ''),
    state: json.state === 'closed' ? 'closed' : 'open',
    // A deleted account shows as `null` (GitHub's web UI says "ghost").
    author: json.user?.login ?? 'ghost',
    authorAssociation: toAssociation(json.author_association),
    authorIsBot: isBotUser(json.user),
    ...(typeof json.html_url === 'string' ? { url: json.html_url } : {}),
    updatedAt: json.updated_at ?? new Date(0).toISOString(),
  };
}

/** The `rel="next"` URL of a `Link` header. */
export function nextLink(link: string | undefined): string | undefined {
  return link?.split(',').map((part) => /<([^>]+)>\s*;\s*rel="next"/.exec(part)?.[1]).find((url) => url !== undefined);
}

interface CachedPage {
  etag: string | undefined;
  items: GitHubIssueJson[];
  next: string | undefined;
}

export class GitHubIssues {
  private pages = new Map<string, CachedPage>();

  constructor(private readonly github: GitHubRepo) {}

  async listOpen(): Promise<ListResult> {
    const { octokit, owner, repo, perPage } = this.github;
    return this.github.call('listing the open issues', async () => {
      const first = `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}/issues?state=open&per_page=${perPage}`;
      const fresh = new Map<string, CachedPage>();
      let changed = false;
      for (let url: string | undefined = first; url !== undefined && !fresh.has(url); ) {
        const cached = this.pages.get(url);
        let page: CachedPage;
        try {
          const response = await octokit.request({
            method: 'GET',
            url,
            headers: cached?.etag !== undefined ? { 'if-none-match': cached.etag } : {},
          });
          page = {
            etag: response.headers.etag,
            items: Array.isArray(response.data) ? (response.data as GitHubIssueJson[]) : [],
            next: nextLink(response.headers.link),
          };
          changed = true;
        } catch (error) {
          if (gitHubStatus(error) !== 304 || cached === undefined) throw error;
          page = cached;
        }
        fresh.set(url, page);
        url = page.next;
      }
      const unchanged = !changed && fresh.size === this.pages.size;
      this.pages = fresh;
      if (unchanged) return { issues: undefined };
      const issues = [...fresh.values()].flatMap((page) => page.items).filter((item) => item.pull_request === undefined);
      return { issues: issues.map(toTrackedIssue) };
    });
  }

  /** Issues of any state (closed included, pull requests excluded) updated at or after `since` (ISO). */
  async listUpdatedSince(since: string): Promise<TrackedIssue[]> {
    return this.github.call(`listing the issues updated since ${since}`, async () => {
      const items = await this.github.octokit.paginate('GET /repos/{owner}/{repo}/issues', {
        ...this.github.base,
        state: 'all',
        since,
        sort: 'updated',
        direction: 'asc',
        per_page: this.github.perPage,
      });
      return (items as GitHubIssueJson[]).filter((item) => item.pull_request === undefined).map(toTrackedIssue);
    });
  }

  async get(number: number): Promise<TrackedIssue | undefined> {
    return this.github.call(`reading issue #${number}`, async () => {
      const json = await this.issueJson(number);
      return json === undefined || json.pull_request !== undefined ? undefined : toTrackedIssue(json);
    });
  }

  /** The issue (or pull request) as GitHub sends it; undefined when it does not exist (404, 410). */
  async issueJson(number: number): Promise<GitHubIssueJson | undefined> {
    try {
      return (await this.github.octokit.request('GET /repos/{owner}/{repo}/issues/{issue_number}', { ...this.github.base, issue_number: number }))
        .data as GitHubIssueJson;
    } catch (error) {
      const status = gitHubStatus(error);
      if (status === 404 || status === 410) return undefined;
      throw error;
    }
  }

  /** Drops the cached pages (the source is closed). */
  forget(): void {
    this.pages.clear();
  }
}
