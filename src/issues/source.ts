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
export const AUTHOR_ASSOCIATIONS = [
  'OWNER',
  'MEMBER',
  'COLLABORATOR',
  'CONTRIBUTOR',
  'FIRST_TIME_CONTRIBUTOR',
  'FIRST_TIMER',
  'MANNEQUIN',
  'NONE',
] as const;

export type AuthorAssociation = (typeof AUTHOR_ASSOCIATIONS)[number];

export interface TrackedIssue {
  number: number;
  title: string;
  /** Markdown, untrusted. May be large; the prompt truncates it (src/issues/text.ts). */
  body: string;
  labels: string[];
  state: 'open' | 'closed';
  /**
   * Why a closed issue was closed, where the tracker says (GitHub's `state_reason`): `not_planned`
   * (a duplicate too) means nothing of it will be merged. Unset: completed, or not said.
   */
  closedAs?: 'completed' | 'not_planned';
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
  /**
   * Has write access (admin, maintain or write) to the repository, per the tracker; undefined when
   * the tracker would not say (the token may not read collaborators' permissions: `accessProblem`).
   */
  hasWriteAccess: boolean | undefined;
  /** Why `hasWriteAccess` is unknown, naming what the token lacks. */
  accessProblem?: string;
  /** Which labelling this was (`labelingEvent`): another one, even by the same login, is another labeler. */
  event?: string;
}

export interface ListResult {
  /** The issues (pull requests excluded), or undefined when nothing changed (a 304). */
  issues: TrackedIssue[] | undefined;
  /**
   * Keeps what this listing learned (GitHub: its ETags) for the next one. The caller commits once
   * it has handled every issue of the listing: uncommitted, the next listing answers the same
   * changes again rather than "nothing changed". Absent: nothing to keep.
   */
  commit?: () => void;
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

/** A comment on an issue, the orchestra's own included. Its body is untrusted text. */
export interface TrackedComment {
  /** The tracker's id: GitHub's comment id; locally `t<n>` (the tracker's) or `f<n>` (the issue file's). */
  id: string;
  author: string;
  authorAssociation: AuthorAssociation;
  authorIsBot: boolean;
  body: string;
  /** Set on the orchestra's own comments: the key it posted them with. */
  key?: string;
}

/** A pull request as the merge stage sees it. */
export interface PullRequestState {
  number: number;
  url: string;
  state: 'open' | 'closed';
  merged: boolean;
  /** The commit the merge made on the base branch, once merged. */
  mergeCommitSha?: string;
  headRef: string;
  headSha: string;
  baseRef: string;
  /** GitHub's `mergeable`: null while GitHub computes it. The local tracker says true. */
  mergeable: boolean | null;
  /** GitHub's `mergeable_state`: clean, dirty (conflicts), blocked, behind, unstable, unknown … */
  mergeableState?: string;
  updatedAt: string;
}

/** One CI verdict on a commit: a check run or a commit status (GitHub). */
export interface CheckState {
  name: string;
  kind: 'check_run' | 'status';
  /** pending: queued or running; failure: any conclusion but success, neutral or skipped. */
  state: 'pending' | 'success' | 'failure';
  detailsUrl?: string;
  /** What the check says of itself (a check run's output summary and text, a status's description), bounded. */
  summary?: string;
}

export interface MergeRequest {
  number: number;
  /** The head the orchestra checked: the tracker refuses the merge when the branch has moved since. */
  headSha: string;
  method: 'merge' | 'squash' | 'rebase';
  /** Commit title and message for the merge or squash commit. */
  title: string;
  message: string;
}

export type MergeOutcome =
  /** `already`: it had been merged before (a replay after a crash, or a person merged it). */
  | { kind: 'merged'; sha: string; already: boolean }
  /** The tracker will not merge it as it is (a protected branch, reviews required …): GitHub's 405. */
  | { kind: 'refused'; reason: string }
  /** The head moved since it was checked: GitHub's 409. */
  | { kind: 'head_changed'; reason: string }
  /** The change conflicts with the base branch. */
  | { kind: 'conflict'; files: string[]; theirs: { ref: string; sha: string }; ours: { ref: string; sha: string } };

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
   * request between full polls (GitHub: conditional, so `issues: undefined` when the answer is the
   * one committed last time). Optional: a source without it is always read in full.
   */
  listUpdatedSince?(since: string): Promise<ListResult>;
  /** One issue, open or closed; undefined when it does not exist. */
  get(number: number): Promise<TrackedIssue | undefined>;
  /** Who applied `label` most recently; undefined when unknown. */
  labeler(number: number, label: string): Promise<Labeler | undefined>;
  /**
   * Which labelling applied `label` most recently (its event and who), without asking whether that
   * person may write: cheap enough to ask at every poll (GitHub: the issue's events, conditionally,
   * a 304 free of rate limit when no label moved). The same as `labeler(…).event`; undefined when
   * unknown. Optional: a source without it is asked `labeler` when the issue changed.
   */
  labelingEvent?(number: number, label: string): Promise<string | undefined>;
  /** Posts `body` once per `key` (a hidden marker remembers it). Resolves whether or not it was new. */
  comment(number: number, key: string, body: string): Promise<{ posted: boolean }>;
  /**
   * Makes `label` the issue's only label among `family` (the state labels): adds it and removes
   * the others. `label` undefined removes them all.
   */
  setExclusiveLabel(number: number, family: readonly string[], label: string | undefined): Promise<void>;
  /** Opens the pull request once per head branch: an open one for the same head is returned instead. */
  openPullRequest(request: PullRequestRequest): Promise<PullRequestRef & { created: boolean }>;
  /** The issue's comments, oldest first. */
  listComments(number: number): Promise<TrackedComment[]>;
  /** A pull request by number; undefined when there is none. */
  pullRequest(number: number): Promise<PullRequestState | undefined>;
  /** Merges a pull request, exactly once: a pull request already merged answers `merged` with `already`. */
  mergePullRequest(request: MergeRequest): Promise<MergeOutcome>;
  /** Points an open pull request at another base branch (a stacked one, when the branch it targeted merged). */
  retargetPullRequest(number: number, base: string): Promise<void>;
  /** CI verdicts on a commit (GitHub: check runs and commit statuses). Absent: the source has no CI of its own. */
  checks?(sha: string): Promise<CheckState[]>;
  /**
   * The tracker's own "blocked by" relationships (GitHub's issue dependencies): the numbers of
   * this repository's blockers, and the others named as `owner/repo#n`. Undefined when the
   * tracker does not have the feature (asked once: a 404 or 410 is remembered).
   */
  blockedBy?(number: number): Promise<{ numbers: number[]; elsewhere: string[] } | undefined>;
  /** Creates the labels that are missing; answers the names created. */
  syncLabels(labels: readonly LabelSpec[]): Promise<{ created: string[] }>;
  /** Checks that the tracker is reachable and the token may do what the orchestra needs (GitHub); throws naming what is missing. */
  checkAccess?(): Promise<unknown>;
  /** Releases timers and connections. */
  close(): Promise<void>;
  /** Issues about the orchestra's own health, carrying `label` (GitHub). Absent: the tracker has none. */
  healthIssues?(label: string): HealthIssueTracker;
}

/**
 * The tracker's issues about the orchestra's own health: at most one open issue per problem key,
 * found again by a hidden marker in its body (so a restarted orchestra does not open a second).
 */
export interface HealthIssueTracker {
  /** The open health issues the orchestra opened, by problem key. */
  listOpen(): Promise<Array<{ key: string; number: number }>>;
  /** The open issue of `key`, opened with `title` and `body` when there is none; answers its number. */
  open(key: string, title: string, body: string): Promise<number>;
  /** A comment on it, posted once per `commentKey`. */
  comment(number: number, commentKey: string, body: string): Promise<void>;
  /** A last comment, then the issue closed. */
  close(number: number, commentKey: string, body: string): Promise<void>;
}
