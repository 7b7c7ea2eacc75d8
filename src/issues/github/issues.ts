/**
 * The issues resource of the github source: GitHub's issue JSON and its conversion to a
 * TrackedIssue, the full open list and the list of issues updated since a time, both polled with
 * per-page ETags (./pages.ts: a 304 costs nothing on the rate limit, and the ETags are kept only
 * when the caller commits the listing), and one issue. Pull requests, which GitHub lists as
 * issues, are left out everywhere.
 */
import { gitHubStatus } from '../errors.ts';
import { AUTHOR_ASSOCIATIONS, type AuthorAssociation, type ListResult, type TrackedIssue } from '../source.ts';
import { ConditionalPages } from './pages.ts';
import type { GitHubRepo } from './repo.ts';

/** The subset of GitHub's issue JSON (REST and webhook payloads) the source reads. */
export interface GitHubIssueJson {
  number: number;
  title?: string | null;
  body?: string | null;
  labels?: Array<string | { name?: string | null }>;
  state?: string | null;
  state_reason?: string | null;
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

/** The issues of a list, pull requests left out. */
function issuesOf(items: readonly GitHubIssueJson[]): TrackedIssue[] {
  return items.filter((item) => item.pull_request === undefined).map(toTrackedIssue);
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
    ...(json.state === 'closed' && (json.state_reason === 'not_planned' || json.state_reason === 'duplicate') ? { closedAs: 'not_planned' as const } : {}),
    ...(json.state === 'closed' && json.state_reason === 'completed' ? { closedAs: 'completed' as const } : {}),
    // A deleted account shows as `null` (GitHub's web UI says "ghost").
    author: json.user?.login ?? 'ghost',
    authorAssociation: toAssociation(json.author_association),
    authorIsBot: isBotUser(json.user),
    ...(typeof json.html_url === 'string' ? { url: json.html_url } : {}),
    updatedAt: json.updated_at ?? new Date(0).toISOString(),
  };
}

export { nextLink } from './pages.ts';

/** `per_page` and the rest of a list's query, as GitHub wants it. */
function query(params: Record<string, string | number>): string {
  return new URLSearchParams(Object.entries(params).map(([key, value]): [string, string] => [key, String(value)])).toString();
}

export class GitHubIssues {
  private readonly open: ConditionalPages;
  private readonly updated: ConditionalPages;

  constructor(private readonly github: GitHubRepo) {
    this.open = new ConditionalPages(github);
    this.updated = new ConditionalPages(github);
  }

  private path(): string {
    const { owner, repo } = this.github;
    return `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}/issues`;
  }

  /**
   * The open issues; `issues: undefined` when every page answered 304 since the last committed
   * listing. The caller commits the listing (`commit`) once it has judged every issue of it.
   */
  async listOpen(): Promise<ListResult> {
    return this.github.call('listing the open issues', async () => {
      const read = await this.open.read<GitHubIssueJson>(`${this.path()}?${query({ state: 'open', per_page: this.github.perPage })}`);
      if (!read.changed) return { issues: undefined, commit: read.commit };
      return { issues: issuesOf(read.items), commit: read.commit };
    });
  }

  /**
   * Issues of any state (closed included, pull requests excluded) updated at or after `since`
   * (ISO), conditionally: `issues: undefined` when nothing changed since the last committed
   * answer to the same question (free on the rate limit, as a quiet backlog's polls should be).
   */
  async listUpdatedSince(since: string): Promise<ListResult> {
    return this.github.call(`listing the issues updated since ${since}`, async () => {
      const first = `${this.path()}?${query({ state: 'all', since, sort: 'updated', direction: 'asc', per_page: this.github.perPage })}`;
      const read = await this.updated.read<GitHubIssueJson>(first);
      if (!read.changed) return { issues: undefined, commit: read.commit };
      return { issues: issuesOf(read.items), commit: read.commit };
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
    this.open.forget();
    this.updated.forget();
  }
}
