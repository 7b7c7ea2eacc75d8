/**
 * The issue source: where the orchestra finds its work and where it reports back. Two
 * implementations sit behind this interface: `local` (a directory of Markdown issues, the
 * embedded default, no network) and `github` (the REST API through octokit).
 *
 * Every write is idempotent by `key`: the source itself remembers which keys it has written (a
 * hidden marker in a GitHub comment, the pull request's head branch, a field of the local
 * tracker's file), so a retry, a redelivered message or a restart after `kill -9` never writes
 * twice. The orchestra keeps its own ledger too (src/workflow), but the source's answer wins.
 */

/** GitHub's author associations; the local source says OWNER unless the file says otherwise. */
export type AuthorAssociation =
  | 'OWNER'
  | 'MEMBER'
  | 'COLLABORATOR'
  | 'CONTRIBUTOR'
  | 'FIRST_TIME_CONTRIBUTOR'
  | 'FIRST_TIMER'
  | 'MANNEQUIN'
  | 'NONE';

export interface TrackedIssue {
  number: number;
  title: string;
  /** Markdown, untrusted. May be large; the prompt truncates it (src/issues/text.ts). */
  body: string;
  labels: string[];
  state: 'open' | 'closed';
  author: string;
  authorAssociation: AuthorAssociation;
  /** GitHub `user.type === 'Bot'` (or a login ending in `[bot]`). */
  authorIsBot: boolean;
  url?: string;
  /** ISO time of the last change on the tracker. */
  updatedAt: string;
  /** Dependencies the tracker states outside the body (the local source's `dependsOn` front matter). */
  dependsOn?: number[];
}

/** Who applied a label, and whether the tracker considers that person trusted. */
export interface Labeler {
  login: string;
  isBot: boolean;
  /** Has write access (admin, maintain or write) to the repository, per the tracker. */
  hasWriteAccess: boolean;
}

export interface ListResult {
  /** The open issues (pull requests excluded), or undefined when nothing changed (a 304). */
  issues: TrackedIssue[] | undefined;
}

export interface PullRequestRequest {
  issue: number;
  /** The issue's branch, e.g. `miyabi/issue-12`. */
  head: string;
  /** Default branch of the repository when undefined. */
  base?: string;
  title: string;
  body: string;
  draft: boolean;
}

export interface PullRequestRef {
  number: number;
  url: string;
}

export interface LabelSpec {
  name: string;
  color: string;
  description: string;
}

export interface IssueSource {
  readonly kind: 'local' | 'github';
  /** Open issues. A source that supports conditional requests answers `issues: undefined` when unchanged. */
  listOpen(): Promise<ListResult>;
  /**
   * Issues of any state updated at or after `since` (an `updatedAt` the tracker gave): one cheap
   * request between full polls. Optional: a source without it is always read in full.
   */
  listUpdatedSince?(since: string): Promise<TrackedIssue[]>;
  /** One issue, open or closed; undefined when it does not exist. */
  get(number: number): Promise<TrackedIssue | undefined>;
  /** Who applied `label` most recently; undefined when unknown. */
  labeler(number: number, label: string): Promise<Labeler | undefined>;
  /** Posts `body` once per `key` (a hidden marker remembers it). Resolves whether or not it was new. */
  comment(number: number, key: string, body: string): Promise<{ posted: boolean }>;
  /**
   * Makes `label` the issue's only label among `family` (the state labels): adds it and removes
   * the others. `label` undefined removes them all.
   */
  setExclusiveLabel(number: number, family: readonly string[], label: string | undefined): Promise<void>;
  /** Opens the pull request once per head branch: an open one for the same head is returned instead. */
  openPullRequest(request: PullRequestRequest): Promise<PullRequestRef & { created: boolean }>;
  /** Creates the labels that are missing; answers the names created. */
  syncLabels(labels: readonly LabelSpec[]): Promise<{ created: string[] }>;
  /** Checks that the tracker is reachable and the token may do what the orchestra needs (GitHub); throws naming what is missing. */
  checkAccess?(): Promise<unknown>;
  /** Releases timers and connections. */
  close(): Promise<void>;
}
