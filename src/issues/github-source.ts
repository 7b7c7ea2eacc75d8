/**
 * The github issue source: `IssueSource` over GitHub's REST API (src/issues/github-client.ts
 * waits out rate limits and retries outages).
 *
 * Polling. `listOpen()` reads the whole open list (`state=open`, `per_page` 100, following the
 * `Link` header), each page with `If-None-Match` set to the ETag that page had at the last
 * committed listing. When every page answers 304 (free on GitHub's rate limit) the answer is
 * `issues: undefined`. ETags are kept per page (github/pages.ts), and only once the caller
 * commits the listing, after it judged every issue: a failure in between leaves the old ETags, so
 * the next poll sees the same changes again. The full list is what lets the orchestra notice
 * issues that were closed or lost their label: they are simply absent from it.
 * `listUpdatedSince(iso)` is the cheaper complement for callers that track changes themselves:
 * issues of any state (closed ones included) updated at or after `iso`, conditional in the same
 * way, so a quiet backlog costs nothing between full polls either. Who labeled an issue (its
 * events) and what blocks it are read conditionally too: asked again after the issue changed,
 * they cost nothing when the answer is the same.
 *
 * Writes are idempotent by key, as the interface asks:
 *   comment              a hidden marker `<!-- miyabi-orchestra:key=<key> sig=<hmac> -->` starts
 *                        the body; an own comment of the issue carrying it (by the token's login,
 *                        signed with the installation's secret) means "already posted"
 *   openPullRequest      an open pull request from the same head branch means "already opened"
 *   setExclusiveLabel    one `PUT` of the issue's labels: the family's other labels go, the new one
 *                        comes, the labels that are not the family's stay — one someone added
 *                        while the PUT was on its way is put back after it (github/labels.ts)
 *   syncLabels           creates only the labels missing (a 422 "already exists" is fine)
 *   mergePullRequest     a merged pull request answers `merged` with `already`, without a PUT;
 *                        the PUT carries the head sha checked, and an unclear answer is settled
 *                        by reading the pull request again (github/merge.ts)
 *   retargetPullRequest  a PATCH only when the base differs
 * A create that fails with a 5xx or a network error may still have happened on GitHub, so it is
 * not retried blindly: the source looks for the marker (or the pull request) first, and only
 * creates again when it is not there. Calls for the same key in one process run one at a time.
 *
 * Pull requests are never issues here: the list skips items with `pull_request`, `get` answers
 * undefined for them. Text is passed through as GitHub sends it (huge bodies, replacement
 * characters where the bytes were not UTF-8); nothing here throws on content.
 *
 * Reads for the merge stage: `listComments` (every page, the orchestra's own with their key),
 * `pullRequest`, `checks` (check runs and commit statuses of a commit) and `blockedBy` (GitHub's
 * issue dependencies; a server without them answers 404 or 410 once, then is not asked again).
 *
 * The code, one module per resource under github/: issues.ts (listing, one issue, the JSON),
 * comments.ts, labels.ts, pulls.ts, merge.ts, checks.ts, dependencies.ts, access.ts (the
 * preflight, write access, the default branch), and repo.ts (the client and the habits they
 * share). This file puts them behind IssueSource.
 */
import { createHash } from 'node:crypto';
import type {
  CheckState,
  IssueSource,
  LabelSpec,
  Labeler,
  ListResult,
  MergeOutcome,
  MergeRequest,
  PullRequestRef,
  PullRequestRequest,
  PullRequestState,
  TrackedComment,
  TrackedIssue,
  HealthIssueTracker,
} from './source.ts';
import { GitHubHealthIssues } from './github/health-issues.ts';
import { GitHubAccess } from './github/access.ts';
import { GitHubChecks } from './github/checks.ts';
import { GitHubComments, MarkerSigner } from './github/comments.ts';
import { GitHubDependencies, type BlockedBy } from './github/dependencies.ts';
import { GitHubIssues } from './github/issues.ts';
import { GitHubLabels } from './github/labels.ts';
import { GitHubMerges } from './github/merge.ts';
import { GitHubPulls } from './github/pulls.ts';
import { GitHubRepo, type GitHubRepoOptions } from './github/repo.ts';

export { checkRunState, statusStates } from './github/checks.ts';
export { commentMarker, MarkerSigner, parseCommentMarker } from './github/comments.ts';
export { isBotUser, nextLink, toTrackedIssue, type GitHubIssueJson } from './github/issues.ts';
export { withClosingKeyword } from './github/pulls.ts';

export interface GitHubIssueSourceOptions extends GitHubRepoOptions {
  /**
   * The installation's secret that signs the comment markers (`<dataDir>/secrets/marker.key`).
   * Default: derived from the token (markers then change with the token).
   */
  markerKey?: string;
  /** The login the token posts as; default: asked of GitHub (`GET /user`). */
  login?: string;
  /** How long a collaborator's permission is remembered; default 5 minutes. */
  permissionCacheMs?: number;
  now?: () => number;
}

export class GitHubIssueSource implements IssueSource {
  readonly kind = 'github' as const;
  readonly owner: string;
  readonly repo: string;
  private readonly github: GitHubRepo;
  private readonly issues: GitHubIssues;
  private readonly comments: GitHubComments;
  private readonly labels: GitHubLabels;
  private readonly pulls: GitHubPulls;
  private readonly access: GitHubAccess;
  private readonly merges: GitHubMerges;
  private readonly checkRuns: GitHubChecks;
  private readonly dependencies: GitHubDependencies;

  constructor(options: GitHubIssueSourceOptions) {
    this.owner = options.owner;
    this.repo = options.repo;
    this.github = new GitHubRepo(options);
    this.access = new GitHubAccess(this.github, {
      permissionCacheMs: options.permissionCacheMs ?? 5 * 60_000,
      now: options.now ?? Date.now,
    });
    this.issues = new GitHubIssues(this.github);
    const login = () => (options.login === undefined ? this.access.viewer() : Promise.resolve(options.login));
    this.comments = new GitHubComments(this.github, {
      signer: new MarkerSigner(options.markerKey ?? createHash('sha256').update(`miyabi-marker:${options.token}`).digest('hex'), this.github.repository),
      login,
    });
    this.labels = new GitHubLabels(this.github, this.issues, this.access, login);
    this.pulls = new GitHubPulls(this.github, this.access);
    this.merges = new GitHubMerges(this.github, this.pulls);
    this.checkRuns = new GitHubChecks(this.github);
    this.dependencies = new GitHubDependencies(this.github, this.issues);
  }

  /** `owner/repo` */
  get repository(): string {
    return this.github.repository;
  }

  listOpen(): Promise<ListResult> {
    return this.issues.listOpen();
  }

  /** Issues of any state (closed included, pull requests excluded) updated at or after `since` (ISO); undefined when unchanged. */
  listUpdatedSince(since: string): Promise<ListResult> {
    return this.issues.listUpdatedSince(since);
  }

  get(number: number): Promise<TrackedIssue | undefined> {
    return this.issues.get(number);
  }

  labeler(number: number, label: string): Promise<Labeler | undefined> {
    return this.labels.labeler(number, label);
  }

  labelingEvent(number: number, label: string): Promise<string | undefined> {
    return this.labels.labelingEvent(number, label);
  }

  comment(number: number, key: string, body: string): Promise<{ posted: boolean }> {
    return this.comments.comment(number, key, body);
  }

  setExclusiveLabel(number: number, family: readonly string[], label: string | undefined): Promise<void> {
    return this.labels.setExclusiveLabel(number, family, label);
  }

  openPullRequest(request: PullRequestRequest): Promise<PullRequestRef & { created: boolean }> {
    return this.pulls.openPullRequest(request);
  }

  /** Whether a comment (as a webhook delivered it) by `author`, marked with `key` and `signature`, is the orchestra's own. */
  ownsComment(number: number, author: string, key: string, signature: string | undefined): Promise<boolean> {
    return this.comments.isOwn(number, author, key, signature);
  }

  /** Every comment of the issue, oldest first; the orchestra's own carry their key, the marker left out of the body. */
  listComments(number: number): Promise<TrackedComment[]> {
    return this.comments.listComments(number);
  }

  pullRequest(number: number): Promise<PullRequestState | undefined> {
    return this.pulls.pullRequest(number);
  }

  mergePullRequest(request: MergeRequest): Promise<MergeOutcome> {
    return this.merges.mergePullRequest(request);
  }

  retargetPullRequest(number: number, base: string): Promise<void> {
    return this.pulls.retargetPullRequest(number, base);
  }

  checks(sha: string): Promise<CheckState[]> {
    return this.checkRuns.checks(sha);
  }

  blockedBy(number: number): Promise<BlockedBy | undefined> {
    return this.dependencies.blockedBy(number);
  }

  syncLabels(labels: readonly LabelSpec[]): Promise<{ created: string[] }> {
    return this.labels.syncLabels(labels);
  }

  healthIssues(label: string): HealthIssueTracker {
    return new GitHubHealthIssues(this.github, this.comments, label, () => this.access.viewer());
  }

  /**
   * Preflight for `doctor` and `up`: the token can see the repository and read its issues and
   * pull requests. Throws an IssueSourceError naming the repository (404), the token (401) or
   * the permission missing (403, from GitHub's `x-accepted-github-permissions`).
   */
  checkAccess(): Promise<{ fullName: string; defaultBranch: string; private: boolean }> {
    return this.access.checkAccess();
  }

  async close(): Promise<void> {
    this.github.close();
    this.issues.forget();
    this.access.forget();
  }
}
