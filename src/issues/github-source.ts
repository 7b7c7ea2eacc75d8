/**
 * The github issue source: `IssueSource` over GitHub's REST API (src/issues/github-client.ts
 * waits out rate limits and retries outages).
 *
 * Polling. `listOpen()` reads the whole open list (`state=open`, `per_page` 100, following the
 * `Link` header), each page with `If-None-Match` set to the ETag that page had last time. When
 * every page answers 304 (free on GitHub's rate limit) the answer is `issues: undefined`. ETags are
 * kept per page, not only for the first, because a change on a later page (an old issue closed or
 * unlabeled) leaves the first page as it was. The full list is what lets the orchestra notice
 * issues that were closed or lost their label: they are simply absent from it.
 * `listUpdatedSince(iso)` is the cheaper complement for callers that track changes themselves:
 * issues of any state (closed ones included) updated at or after `iso`.
 *
 * Writes are idempotent by key, as the interface asks:
 *   comment              a hidden marker `<!-- miyabi-orchestra:key=<key> -->` starts the body; a
 *                        comment of the issue carrying it means "already posted"
 *   openPullRequest      an open pull request from the same head branch means "already opened"
 *   setExclusiveLabel    adds, then removes the family's other labels (a 404 on removal is fine)
 *   syncLabels           creates only the labels missing (a 422 "already exists" is fine)
 * A create that fails with a 5xx or a network error may still have happened on GitHub, so it is
 * not retried blindly: the source looks for the marker (or the pull request) first, and only
 * creates again when it is not there. Calls for the same key in one process run one at a time.
 *
 * Pull requests are never issues here: the list skips items with `pull_request`, `get` answers
 * undefined for them. Text is passed through as GitHub sends it (huge bodies, replacement
 * characters where the bytes were not UTF-8); nothing here throws on content.
 */
import type { Logger } from 'pino';
import { createGitHubClient, type GitHubClientOptions, type GitHubOctokit, type GitHubOutage } from './github-client.ts';
import { IssueErrorCodes, IssueSourceError, fromGitHubError, gitHubStatus } from './errors.ts';
import type {
  AuthorAssociation,
  IssueSource,
  LabelSpec,
  Labeler,
  ListResult,
  PullRequestRef,
  PullRequestRequest,
  TrackedIssue,
} from './source.ts';

export interface GitHubIssueSourceOptions {
  owner: string;
  repo: string;
  /** Default https://api.github.com. */
  baseUrl?: string;
  token: string;
  logger: Logger;
  /** Page size of every list; default (and GitHub's maximum) 100. */
  perPage?: number;
  onOutage?: (outage: GitHubOutage) => void;
  /** How long a collaborator's permission is remembered; default 5 minutes. */
  permissionCacheMs?: number;
  /** Tuning of the client (retries, waits, write spacing); tests shrink the waits. */
  client?: Omit<GitHubClientOptions, 'token' | 'logger' | 'baseUrl' | 'onOutage'>;
  now?: () => number;
}

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

const associations: ReadonlySet<string> = new Set<AuthorAssociation>([
  'OWNER',
  'MEMBER',
  'COLLABORATOR',
  'CONTRIBUTOR',
  'FIRST_TIME_CONTRIBUTOR',
  'FIRST_TIMER',
  'MANNEQUIN',
  'NONE',
]);

/** GitHub's `user.type === 'Bot'`, or a login ending in `[bot]`. */
export function isBotUser(user: { login?: string | null; type?: string | null } | null | undefined): boolean {
  return user?.type === 'Bot' || (user?.login ?? '').endsWith('[bot]');
}

/** GitHub's issue JSON as a TrackedIssue. Never throws on odd content: missing text becomes ''. */
export function toTrackedIssue(json: GitHubIssueJson): TrackedIssue {
  const association = json.author_association ?? 'NONE';
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
    authorAssociation: associations.has(association) ? (association as AuthorAssociation) : 'NONE',
    authorIsBot: isBotUser(json.user),
    ...(typeof json.html_url === 'string' ? { url: json.html_url } : {}),
    updatedAt: json.updated_at ?? new Date(0).toISOString(),
  };
}

/** The hidden marker that makes a comment's key visible to the next `comment` call. */
export function commentMarker(key: string): string {
  // encodeURIComponent keeps `-->` and whitespace out of the HTML comment.
  return `<!-- miyabi-orchestra:key=${encodeURIComponent(key)} -->`;
}

/** `body` with `Closes #issue` appended unless it already says so. */
export function withClosingKeyword(body: string, issue: number): string {
  if (new RegExp(`\\bcloses #${issue}\\b`, 'i').test(body)) return body;
  return `${body.trimEnd()}${body.trim() === '' ? '' : '\n\n'}Closes #${issue}`;
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

const writeRoles = new Set(['admin', 'maintain', 'write']);
const attempts = 3;

export class GitHubIssueSource implements IssueSource {
  readonly kind = 'github' as const;
  readonly owner: string;
  readonly repo: string;
  private readonly octokit: GitHubOctokit;
  private readonly logger: Logger;
  private readonly perPage: number;
  private readonly permissionCacheMs: number;
  private readonly now: () => number;
  private pages = new Map<string, CachedPage>();
  private readonly permissions = new Map<string, { hasWriteAccess: boolean; at: number }>();
  private readonly commented = new Set<string>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private defaultBranch: string | undefined;
  private closed = false;

  constructor(options: GitHubIssueSourceOptions) {
    this.owner = options.owner;
    this.repo = options.repo;
    this.logger = options.logger;
    this.perPage = Math.min(100, Math.max(1, options.perPage ?? 100));
    this.permissionCacheMs = options.permissionCacheMs ?? 5 * 60_000;
    this.now = options.now ?? Date.now;
    this.octokit = createGitHubClient({
      ...options.client,
      token: options.token,
      logger: options.logger,
      ...(options.baseUrl !== undefined ? { baseUrl: options.baseUrl } : {}),
      ...(options.onOutage !== undefined ? { onOutage: options.onOutage } : {}),
    });
  }

  /** `owner/repo` */
  get repository(): string {
    return `${this.owner}/${this.repo}`;
  }

  private get base() {
    return { owner: this.owner, repo: this.repo };
  }

  async listOpen(): Promise<ListResult> {
    return this.call('listing the open issues', async () => {
      const first = `/repos/${encodeURIComponent(this.owner)}/${encodeURIComponent(this.repo)}/issues?state=open&per_page=${this.perPage}`;
      const fresh = new Map<string, CachedPage>();
      let changed = false;
      for (let url: string | undefined = first; url !== undefined && !fresh.has(url); ) {
        const cached = this.pages.get(url);
        let page: CachedPage;
        try {
          const response = await this.octokit.request({
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
    return this.call(`listing the issues updated since ${since}`, async () => {
      const items = await this.octokit.paginate('GET /repos/{owner}/{repo}/issues', {
        ...this.base,
        state: 'all',
        since,
        sort: 'updated',
        direction: 'asc',
        per_page: this.perPage,
      });
      return (items as GitHubIssueJson[]).filter((item) => item.pull_request === undefined).map(toTrackedIssue);
    });
  }

  async get(number: number): Promise<TrackedIssue | undefined> {
    return this.call(`reading issue #${number}`, async () => {
      const json = await this.issueJson(number);
      return json === undefined || json.pull_request !== undefined ? undefined : toTrackedIssue(json);
    });
  }

  async labeler(number: number, label: string): Promise<Labeler | undefined> {
    return this.call(`reading who labeled #${number} ${label}`, async () => {
      let events: Array<{ event?: string; label?: { name?: string }; actor?: { login?: string; type?: string } | null }>;
      try {
        events = await this.octokit.paginate('GET /repos/{owner}/{repo}/issues/{issue_number}/events', {
          ...this.base,
          issue_number: number,
          per_page: this.perPage,
        });
      } catch (error) {
        if (gitHubStatus(error) === 404 || gitHubStatus(error) === 410) return undefined;
        throw error;
      }
      const wanted = label.toLowerCase();
      const event = events.findLast((e) => e.event === 'labeled' && e.label?.name?.toLowerCase() === wanted);
      if (event === undefined) return undefined;
      const login = event.actor?.login;
      if (login === undefined) return { login: 'ghost', isBot: false, hasWriteAccess: false };
      return { login, isBot: isBotUser(event.actor), hasWriteAccess: await this.hasWriteAccess(login) };
    });
  }

  async comment(number: number, key: string, body: string): Promise<{ posted: boolean }> {
    const marker = commentMarker(key);
    const remembered = `${number}\n${key}`;
    return this.call(`posting comment ${key} on #${number}`, () =>
      this.serialized(`comment:${remembered}`, async () => {
        if (this.commented.has(remembered)) return { posted: false };
        if (await this.hasMarker(number, marker)) {
          this.commented.add(remembered);
          return { posted: false };
        }
        await this.createOnce(
          () =>
            this.octokit.request('POST /repos/{owner}/{repo}/issues/{issue_number}/comments', {
              ...this.base,
              issue_number: number,
              body: `${marker}\n${body}`,
              request: { retries: 0 },
            }),
          () => this.hasMarker(number, marker),
        );
        this.commented.add(remembered);
        return { posted: true };
      }),
    );
  }

  async setExclusiveLabel(number: number, family: readonly string[], label: string | undefined): Promise<void> {
    return this.call(`setting ${label ?? 'no label'} of [${family.join(', ')}] on #${number}`, () =>
      this.serialized(`labels:${number}`, async () => {
        const issue = await this.issueJson(number);
        if (issue === undefined) {
          throw new IssueSourceError(IssueErrorCodes.GitHubNotFound, `issue ${this.repository}#${number} not found`, { status: 404 });
        }
        const current = toTrackedIssue(issue).labels;
        const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
        if (label !== undefined && !current.some((name) => same(name, label))) {
          await this.octokit.request('POST /repos/{owner}/{repo}/issues/{issue_number}/labels', {
            ...this.base,
            issue_number: number,
            labels: [label],
          });
        }
        const stale = current.filter((name) => family.some((f) => same(f, name)) && (label === undefined || !same(name, label)));
        for (const name of stale) {
          try {
            await this.octokit.request('DELETE /repos/{owner}/{repo}/issues/{issue_number}/labels/{name}', {
              ...this.base,
              issue_number: number,
              name,
            });
          } catch (error) {
            if (gitHubStatus(error) !== 404) throw error;
          }
        }
      }),
    );
  }

  async openPullRequest(request: PullRequestRequest): Promise<PullRequestRef & { created: boolean }> {
    return this.call(`opening the pull request of ${request.head} for #${request.issue}`, () =>
      this.serialized(`pull:${request.head}`, async () => {
        const existing = await this.openPullFor(request.head);
        if (existing !== undefined) return { ...existing, created: false };
        const base = request.base ?? (await this.repositoryDefaultBranch());
        let created: PullRequestRef | undefined;
        try {
          await this.createOnce(
            async () => {
              const response = await this.octokit.request('POST /repos/{owner}/{repo}/pulls', {
                ...this.base,
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

  async syncLabels(labels: readonly LabelSpec[]): Promise<{ created: string[] }> {
    return this.call('creating the missing labels', async () => {
      const existing = await this.octokit.paginate('GET /repos/{owner}/{repo}/labels', { ...this.base, per_page: this.perPage });
      const names = new Set(existing.map((label) => label.name.toLowerCase()));
      const created: string[] = [];
      for (const spec of labels) {
        if (names.has(spec.name.toLowerCase())) continue;
        try {
          await this.octokit.request('POST /repos/{owner}/{repo}/labels', {
            ...this.base,
            name: spec.name,
            color: spec.color.replace(/^#/, ''),
            description: spec.description,
          });
          created.push(spec.name);
        } catch (error) {
          if (gitHubStatus(error) !== 422) throw error;
        }
        names.add(spec.name.toLowerCase());
      }
      if (created.length > 0) this.logger.info({ repository: this.repository, labels: created }, 'created labels');
      return { created };
    });
  }

  /**
   * Preflight for `doctor` and `up`: the token can see the repository and read its issues and
   * pull requests. Throws an IssueSourceError naming the repository (404), the token (401) or
   * the permission missing (403, from GitHub's `x-accepted-github-permissions`).
   */
  async checkAccess(): Promise<{ fullName: string; defaultBranch: string; private: boolean }> {
    this.assertOpen();
    let repository: { full_name: string; default_branch: string; private: boolean };
    try {
      repository = (await this.octokit.request('GET /repos/{owner}/{repo}', this.base)).data;
    } catch (error) {
      if (gitHubStatus(error) === 404) {
        throw new IssueSourceError(
          IssueErrorCodes.GitHubRepoNotFound,
          `repository ${this.repository} not found, or the token cannot see it (a fine-grained token must list the repository and have Metadata: read)`,
          { cause: error, status: 404 },
        );
      }
      throw fromGitHubError(error, { repository: this.repository, what: `reading repository ${this.repository}` });
    }
    this.defaultBranch = repository.default_branch;
    await this.call('reading the issues', () =>
      this.octokit.request('GET /repos/{owner}/{repo}/issues', { ...this.base, per_page: 1 }),
    );
    await this.call('reading the pull requests', () =>
      this.octokit.request('GET /repos/{owner}/{repo}/pulls', { ...this.base, per_page: 1 }),
    );
    return { fullName: repository.full_name, defaultBranch: repository.default_branch, private: repository.private };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.pages.clear();
    this.permissions.clear();
  }

  // ---- helpers ------------------------------------------------------------------------------

  private assertOpen(): void {
    if (this.closed) {
      throw new IssueSourceError(IssueErrorCodes.IssueSourceClosed, `the github issue source of ${this.repository} is closed`);
    }
  }

  /** Runs a call, turning octokit failures into IssueSourceErrors that say what was being done. */
  private async call<T>(what: string, run: () => Promise<T>): Promise<T> {
    this.assertOpen();
    try {
      return await run();
    } catch (error) {
      throw fromGitHubError(error, { repository: this.repository, what });
    }
  }

  /** One call at a time per key in this process (two `comment`s with one key never both post). */
  private async serialized<T>(key: string, run: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(key) ?? Promise.resolve();
    const current = previous.catch(() => undefined).then(run);
    const settled = current.catch(() => undefined);
    this.locks.set(key, settled);
    try {
      return await current;
    } finally {
      if (this.locks.get(key) === settled) this.locks.delete(key);
    }
  }

  /**
   * A create that must happen once: when it fails without a clear answer (5xx, network), `exists`
   * says whether it happened anyway; if not, it is tried again, `attempts` times in all.
   */
  private async createOnce(create: () => Promise<unknown>, exists: () => Promise<boolean>): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await create();
        return;
      } catch (error) {
        const status = gitHubStatus(error);
        const unclear = status === undefined || status >= 500;
        if (!unclear) throw error;
        if (await exists()) return;
        if (attempt >= attempts) throw error;
        this.logger.warn({ repository: this.repository, attempt, status }, 'GitHub create failed without an answer; not there, trying again');
      }
    }
  }

  private async issueJson(number: number): Promise<GitHubIssueJson | undefined> {
    try {
      return (await this.octokit.request('GET /repos/{owner}/{repo}/issues/{issue_number}', { ...this.base, issue_number: number }))
        .data as GitHubIssueJson;
    } catch (error) {
      const status = gitHubStatus(error);
      if (status === 404 || status === 410) return undefined;
      throw error;
    }
  }

  private async hasMarker(number: number, marker: string): Promise<boolean> {
    for await (const { data } of this.octokit.paginate.iterator('GET /repos/{owner}/{repo}/issues/{issue_number}/comments', {
      ...this.base,
      issue_number: number,
      per_page: this.perPage,
    })) {
      if (data.some((comment) => (comment.body ?? '').includes(marker))) return true;
    }
    return false;
  }

  private async hasWriteAccess(login: string): Promise<boolean> {
    const cached = this.permissions.get(login);
    if (cached !== undefined && this.now() - cached.at < this.permissionCacheMs) return cached.hasWriteAccess;
    let hasWriteAccess: boolean;
    try {
      const { data } = await this.octokit.request('GET /repos/{owner}/{repo}/collaborators/{username}/permission', {
        ...this.base,
        username: login,
      });
      hasWriteAccess = writeRoles.has(data.permission) || writeRoles.has(data.role_name);
    } catch (error) {
      if (gitHubStatus(error) !== 404) throw error;
      hasWriteAccess = false;
    }
    this.permissions.set(login, { hasWriteAccess, at: this.now() });
    return hasWriteAccess;
  }

  private async openPullFor(head: string): Promise<PullRequestRef | undefined> {
    const { data } = await this.octokit.request('GET /repos/{owner}/{repo}/pulls', {
      ...this.base,
      state: 'open',
      head: `${this.owner}:${head}`,
      per_page: 1,
    });
    const pull = data[0];
    return pull === undefined ? undefined : { number: pull.number, url: pull.html_url };
  }

  private async repositoryDefaultBranch(): Promise<string> {
    this.defaultBranch ??= (await this.octokit.request('GET /repos/{owner}/{repo}', this.base)).data.default_branch;
    return this.defaultBranch;
  }
}
