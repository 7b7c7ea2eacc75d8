/**
 * The fake GitHub's data and its API: the users, issues, comments, events, labels, pull requests'
 * merge state, check runs, statuses, issue dependencies and faults it holds (`FakeGitHubState`,
 * mutable by tests) and the `FakeGitHub` handle a test drives.
 */
import type { AuthorAssociation } from '../../../src/issues/source.ts';

export type FakeUserType = 'User' | 'Bot' | 'Organization';
export type FakeRole = 'admin' | 'maintain' | 'write' | 'triage' | 'read';

export interface FakeUser {
  id: number;
  login: string;
  type: FakeUserType;
}

export interface FakeIssue {
  number: number;
  title: string;
  body: string | null;
  /** Sent instead of `body` when set, bytes as they are. */
  rawBody?: Buffer;
  /** Label names, in the order they were added. */
  labels: string[];
  state: 'open' | 'closed';
  user: FakeUser;
  authorAssociation: AuthorAssociation;
  createdAt: string;
  updatedAt: string;
  closedAt: string | null;
  /** GitHub's `state_reason` of a closed issue; default `completed`. */
  stateReason?: 'completed' | 'not_planned' | 'duplicate';
  /** Set on pull requests (which GitHub also lists as issues). */
  pull?: FakePull;
  /** The issue's label names after each request (or test step) that changed them, oldest first. */
  labelHistory: string[][];
}

/** A pull request's own fields; those left unset answer GitHub's defaults. */
export interface FakePull {
  head: string;
  base: string;
  draft: boolean;
  /** The head commit; unset: the first merge request's `sha` is adopted (GET shows a hash of the branch name until then). */
  headSha?: string;
  /** Default true (null: GitHub is still computing it). */
  mergeable?: boolean | null;
  /** Default `clean`; `dirty` means conflicts. */
  mergeableState?: string;
  /** Set: a merge answers 405 with this message (a protected branch, reviews required …). */
  refuseMerge?: string;
  /** Set by a merge: what the request asked (method, commit title and message) and the commit it made. */
  merged?: { at: string; sha: string; method: string; title?: string; message?: string; by: FakeUser };
}

export interface FakeCheckRun {
  id: number;
  name: string;
  status: 'queued' | 'in_progress' | 'completed' | 'waiting' | 'requested' | 'pending';
  conclusion: string | null;
  output: { title: string | null; summary: string | null; text: string | null };
  detailsUrl?: string;
  startedAt: string;
  completedAt: string | null;
}

export interface FakeStatus {
  id: number;
  context: string;
  state: 'pending' | 'success' | 'failure' | 'error';
  description: string | null;
  targetUrl: string | null;
  createdAt: string;
}

/** An issue blocking another: of this repository, or of `repo` (`owner/name`). */
export interface FakeBlocker {
  number: number;
  repo?: string;
}

export interface FakeComment {
  id: number;
  issue: number;
  body: string;
  user: FakeUser;
  authorAssociation: AuthorAssociation;
  createdAt: string;
}

export interface FakeEvent {
  id: number;
  issue: number;
  event: 'labeled' | 'unlabeled';
  actor: FakeUser;
  label: string;
  createdAt: string;
}

export interface FakeLabel {
  id: number;
  name: string;
  color: string;
  description: string | null;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: string;
  /** 0 when the connection was dropped. */
  status: number;
  /** An `answer_lost` fault: what the route answered before the answer was lost. */
  appliedStatus?: number;
  /** Whether the answer counted against the rate limit (a 304 does not, nor a refusal while a limit is in force). */
  counted: boolean;
  /** When the request arrived (ms since the epoch). */
  at: number;
}

/**
 * `answer_lost`: the request is applied (the comment posted, the pull request merged …), then its
 * answer is lost: the connection dropped, or `status` (a 5xx) answered instead. `slow`: the
 * request is answered as usual, `delayMs` late.
 */
export type FaultKind = 'server_error' | 'secondary_rate_limit' | 'rate_limit' | 'forbidden' | 'network' | 'answer_lost' | 'slow';

export interface Fault {
  kind: FaultKind;
  /** How many matching requests fail; default 1. */
  times?: number;
  method?: string;
  /** Matches the path (no query): a string is a prefix. */
  path?: string | RegExp;
  /** Matches the query (`?state=open&page=2`): a string is a substring. */
  query?: string | RegExp;
  /** server_error: default 500. answer_lost: answered instead of the route's answer; unset, the connection drops. */
  status?: number;
  /** secondary_rate_limit: `retry-after` seconds (default 1). rate_limit: seconds to the reset (default 0). */
  retryAfter?: number;
  /**
   * secondary_rate_limit: the limit stays in force for `retryAfter` seconds, as GitHub's does:
   * every request in that window is refused too (not counted against `times`).
   */
  window?: boolean;
  /** forbidden: the `x-accepted-github-permissions` header, e.g. `issues=write`. */
  acceptedPermissions?: string;
  /** slow: how late the answer comes (default 1000 ms); the request is applied after the wait. */
  delayMs?: number;
}

export interface FakeGitHubState {
  owner: string;
  repo: string;
  defaultBranch: string;
  private: boolean;
  /** The user the token belongs to: author of what the client writes. */
  viewer: FakeUser;
  issues: Map<number, FakeIssue>;
  comments: FakeComment[];
  events: FakeEvent[];
  /** By lower-cased name. */
  labels: Map<string, FakeLabel>;
  collaborators: Map<string, FakeRole>;
  users: Map<string, FakeUser>;
  requests: RecordedRequest[];
  faults: Array<Fault & { times: number }>;
  /** Check runs by commit sha, one per name (the latest). */
  checkRuns: Map<string, FakeCheckRun[]>;
  /** Commit statuses by sha, oldest first, several per context. */
  statuses: Map<string, FakeStatus[]>;
  /** Issue number → what blocks it. */
  blockedBy: Map<number, FakeBlocker[]>;
  /** false: `…/dependencies/blocked_by` answers 404, as a server without issue dependencies. */
  dependencies: boolean;
  /** `resetAt`: when the primary limit resets (ms since the epoch); a request while `remaining` is 0 before then is refused. */
  rateLimit: { limit: number; remaining: number; resetAt: number };
  /** A secondary rate limit in force until then (ms since the epoch): every request is refused. */
  secondaryUntil: number;
  /** false: `GET …/collaborators/{login}/permission` answers 403, as for a token whose user has no push access. */
  permissionsReadable: boolean;
  /** true: the clock stands still, so every change gets the same `updated_at` second (as on GitHub within one second). */
  clockFrozen: boolean;
}

export interface FakeGitHub {
  /** `http://127.0.0.1:port`: the client's `baseUrl`. */
  readonly url: string;
  readonly state: FakeGitHubState;
  user(login: string, type?: FakeUserType): FakeUser;
  addIssue(input: {
    title?: string;
    body?: string | null;
    rawBody?: Buffer;
    labels?: string[];
    author?: string;
    authorType?: FakeUserType;
    authorAssociation?: AuthorAssociation;
    state?: 'open' | 'closed';
  }): FakeIssue;
  addPull(input: { head: string; base?: string; title?: string; body?: string; draft?: boolean; author?: string }): FakeIssue;
  addComment(issue: number, body: string, author?: string): FakeComment;
  /** Adds the label with a `labeled` event by `actor`. */
  labelIssue(issue: number, label: string, actor: string, actorType?: FakeUserType): void;
  unlabelIssue(issue: number, label: string, actor: string): void;
  closeIssue(issue: number, reason?: 'completed' | 'not_planned' | 'duplicate'): void;
  setCollaborator(login: string, role: FakeRole): void;
  fail(fault: Fault): void;
  /** The primary rate limit from now: `remaining` requests left until it resets in `resetInSeconds`. */
  setRateLimit(limit: { remaining: number; resetInSeconds: number }): void;
  /**
   * Freezes GitHub's clock (every change from now on has the same `updated_at`, to the second, as
   * changes within one second on GitHub do) or lets it run again (each change one second later).
   */
  freezeClock(frozen: boolean): void;
  /** Replaces the issue's labels as a person would in one edit (one `updated_at`, events by `actor`). */
  setLabels(issue: number, labels: string[], actor: string): void;
  /** Recorded requests matching a method and a path (a string is a prefix). */
  requestsTo(method: string, path: string | RegExp): RecordedRequest[];
  commentCount(issue: number): number;
  /** Pull requests (open or not) whose head is `branch`. */
  pullsForHead(branch: string): FakeIssue[];
  /** The pull request's head commit (a push to its branch). */
  setPullHead(number: number, sha: string): void;
  /**
   * What GitHub says of merging it: `mergeable` (null while computing), `mergeableState`
   * (`dirty`: conflicts); `refuse` a message makes a merge answer 405 with it, null allows again.
   */
  setPullMergeable(number: number, state: { mergeable?: boolean | null; mergeableState?: string; refuse?: string | null }): void;
  /** Adds or replaces (by name) a check run on `sha`. */
  setCheckRun(
    sha: string,
    run: {
      name: string;
      status?: FakeCheckRun['status'];
      conclusion?: string | null;
      output?: { title?: string; summary?: string; text?: string };
      detailsUrl?: string;
    },
  ): FakeCheckRun;
  /** Adds a commit status on `sha` (a newer one of the same context wins, as on GitHub). */
  setStatus(sha: string, status: { context: string; state: FakeStatus['state']; description?: string; targetUrl?: string }): FakeStatus;
  /** What blocks issue `number` (GitHub's issue dependencies). */
  setBlockedBy(number: number, blockers: FakeBlocker[]): void;
  close(): Promise<void>;
}
