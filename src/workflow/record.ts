/**
 * What the workflow keeps of an issue (`issue.<n>` in the KV bucket, ./store.ts) and the side
 * effects waiting in its outbox (run by ./effects.ts): plain data, shared by the store, the
 * effect runner, the comments and the engine, so none of them imports another for its types.
 */

/** A side effect a lifecycle asked for (one of its machine's actions), kept in the outbox until done. */
export interface WorkflowEffect {
  type: 'setStateLabel' | 'comment' | 'dispatchTask' | 'cancelTask' | 'stageSucceeded' | 'finished' | 'retargetStacked';
  params: Record<string, unknown>;
  /** Attempts that failed so far (a tracker outage): retried on the next tick. */
  failures?: number;
  /** Loaded from an earlier run's outbox: it may have been done before the crash. */
  replay?: boolean;
  /** When the lifecycle decided it (ms since the epoch): a state label's lag is counted from here. */
  at?: number;
}

/** What the workflow knows of the issue itself, as the tracker gave it. */
export interface IssueData {
  number: number;
  title: string;
  /** Truncated for prompts (src/issues/text.ts). */
  body: string;
  labels: string[];
  author: string;
  url?: string;
}

/** `issue.<n>`: the issue, its lifecycle snapshot and its outbox, written before any effect runs. */
export interface IssueRecord {
  number: number;
  issue: IssueData;
  /** Of title, full body and dependencies: an edit changes it. */
  contentHash: string;
  dependsOn: number[];
  /** The lifecycle machine's persisted snapshot. */
  snapshot: unknown;
  outbox: WorkflowEffect[];
  discoveredAt: number;
  /** The issue was closed or unlabelled after it finished: shown, not acted on. */
  closed?: boolean;
  pullRequest?: { number: number; url: string };
  /** Its pull request was merged outside the merge stage (a route without one, a person): the merge commit. */
  mergedOutside?: string;
  /** Comment commands taken, by message id, newest last (./obeyed-commands.ts): one published again is not obeyed twice. */
  commands?: string[];
  /** The pull request as it was when the tracker refused the merge (and when, our clock): a change to it is the cue to try again. */
  mergeRefusedAt?: { updatedAt: string; headSha: string; at?: number };
}

/** An issue as the watcher saw it, trusted and open. */
export interface ObservedIssue {
  issue: IssueData;
  contentHash: string;
  /** From the body and the tracker (front matter, GitHub's "blocked by"); the dependency file is added here. */
  dependsOn: number[];
}
