/**
 * One repository on GitHub as the github source's resources (issues, comments, labels, pull
 * requests, access) share it: the client, the `{ owner, repo }` of every call, and the three
 * habits every write and read follows — a failure becomes an IssueSourceError that says what was
 * being done (`call`), calls for one key run one at a time (`serialized`), and a create that
 * failed without a clear answer is looked for before it is tried again (`createOnce`).
 */
import type { Logger } from 'pino';
import { IssueErrorCodes, IssueSourceError, fromGitHubError, gitHubStatus } from '../errors.ts';
import { createGitHubClient, type GitHubClientOptions, type GitHubOctokit, type GitHubOutage } from '../github-client.ts';

export interface GitHubRepoOptions {
  owner: string;
  repo: string;
  /** Default https://api.github.com. */
  baseUrl?: string;
  token: string;
  logger: Logger;
  /** Page size of every list; default (and GitHub's maximum) 100. */
  perPage?: number;
  onOutage?: (outage: GitHubOutage) => void;
  onRateLimit?: GitHubClientOptions['onRateLimit'];
  /** Tuning of the client (retries, waits, write spacing); tests shrink the waits. */
  client?: Omit<GitHubClientOptions, 'token' | 'logger' | 'baseUrl' | 'onOutage' | 'onRateLimit'>;
}

const attempts = 3;

export class GitHubRepo {
  readonly owner: string;
  readonly repo: string;
  readonly octokit: GitHubOctokit;
  readonly logger: Logger;
  readonly perPage: number;
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly token: string;
  private closed = false;

  constructor(options: GitHubRepoOptions) {
    this.owner = options.owner;
    this.repo = options.repo;
    this.logger = options.logger;
    this.perPage = Math.min(100, Math.max(1, options.perPage ?? 100));
    this.token = options.token;
    this.octokit = createGitHubClient({
      ...options.client,
      token: options.token,
      logger: options.logger,
      ...(options.baseUrl !== undefined ? { baseUrl: options.baseUrl } : {}),
      ...(options.onOutage !== undefined ? { onOutage: options.onOutage } : {}),
      ...(options.onRateLimit !== undefined ? { onRateLimit: options.onRateLimit } : {}),
    });
  }

  /** `owner/repo` */
  get repository(): string {
    return `${this.owner}/${this.repo}`;
  }

  /** The `{ owner, repo }` of every call. */
  get base() {
    return { owner: this.owner, repo: this.repo };
  }

  close(): void {
    this.closed = true;
  }

  assertOpen(): void {
    if (this.closed) {
      throw new IssueSourceError(IssueErrorCodes.IssueSourceClosed, `the github issue source of ${this.repository} is closed`);
    }
  }

  /** Runs a call, turning octokit failures into IssueSourceErrors that say what was being done. */
  async call<T>(what: string, run: () => Promise<T>): Promise<T> {
    this.assertOpen();
    try {
      return await run();
    } catch (error) {
      throw this.errorOf(error, what);
    }
  }

  /** An octokit failure as an IssueSourceError saying what was being done (the token never in it). */
  errorOf(error: unknown, what: string): IssueSourceError {
    return fromGitHubError(error, { repository: this.repository, what, secret: this.token });
  }

  /** One call at a time per key in this process (two `comment`s with one key never both post). */
  async serialized<T>(key: string, run: () => Promise<T>): Promise<T> {
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
  async createOnce(create: () => Promise<unknown>, exists: () => Promise<boolean>): Promise<void> {
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
}
