/**
 * A finished issue (done, failed or released, its outbox empty) as the workflow keeps it: a
 * summary of what the others read of it, not its whole record (issue #18: history must not slow a
 * restart). The dependency graph needs its node state and edges; a dependent's branch and merge
 * need whether, and where, it merged, and its pull request; a dependent's stage key the digest of
 * its stage results; `status`, the console and `up --once` its summary row. Its record stays in
 * the KV bucket (`issue.<n>`), read again only when something acts on the issue once more (an
 * edit, a retry, a close, its pull request merged on the tracker).
 *
 * The summary is kept at `finished.<n>`, written by the store (./store.ts) after the record it
 * sums up, and deleted before any later write of that record: a summary in the bucket is always
 * the record's latest word, and a crash between the two writes leaves a record without a summary,
 * read whole at the next start (and summed up then).
 */
import { sha256 } from '../issues/text.ts';
import type { NodeState } from '../machines/dag.ts';
import type { LifecycleContext } from '../machines/issue-lifecycle.ts';
import { nodeStateOf, type DependencyMode } from './node-state.ts';
import type { IssueData, IssueRecord } from './record.ts';
import { summaryRow, type SummaryRow } from './summary.ts';

const FINISHED = new Set(['done', 'failed', 'released']);

export interface FinishedIssue {
  number: number;
  state: 'done' | 'failed' | 'released';
  generation: number;
  /** The record's own dependencies (the dependency file's are the engine's to add). */
  dependsOn: number[];
  /** Its node in the dependency graph, per `workflow.dependencies.mode`. */
  node: Record<DependencyMode, NodeState>;
  /** The record's, and a digest of the issue as the tracker gave it: the watcher showing it again unchanged (each restart) reads nothing. */
  contentHash: string;
  issueDigest: string;
  /** Closed or unlabelled on the tracker since it finished. */
  closed: boolean;
  reason?: string;
  pullRequest?: { number: number; url: string };
  /** The merge commit on the base branch: the merge stage's, or one made outside it. */
  merged?: string;
  /** True when it merged outside the merge stage (the record's `mergedOutside`). */
  mergedOutside?: boolean;
  /** sha256 of its stage results as JSON: what a dependent's stage key is made of (./dispatcher.ts). */
  resultsDigest: string;
  row: SummaryRow;
}

/** A record's lifecycle as persisted: plain data, read without resolving the machine's state. */
interface PersistedLifecycle {
  value: unknown;
  context: LifecycleContext;
}

/** The summary of a finished record; undefined while it is not finished or effects wait in its outbox. */
export function finishedIssueOf(record: IssueRecord): FinishedIssue | undefined {
  const snapshot = record.snapshot as PersistedLifecycle;
  const state = String(snapshot.value);
  if (!FINISHED.has(state) || record.outbox.length > 0) return undefined;
  const { context } = snapshot;
  const merged = context.merged?.sha ?? record.mergedOutside;
  return {
    number: record.number,
    state: state as FinishedIssue['state'],
    generation: context.generation,
    dependsOn: record.dependsOn,
    node: { merged: nodeStateOf(record, snapshot, 'merged'), stacked: nodeStateOf(record, snapshot, 'stacked') },
    contentHash: record.contentHash,
    issueDigest: issueDigest(record.issue),
    closed: record.closed === true,
    ...(context.reason === undefined ? {} : { reason: context.reason }),
    ...(record.pullRequest ? { pullRequest: record.pullRequest } : {}),
    ...(merged === undefined ? {} : { merged }),
    ...(record.mergedOutside === undefined ? {} : { mergedOutside: true }),
    resultsDigest: resultsDigest(context.results),
    row: summaryRow(record, snapshot),
  };
}

export function issueDigest(issue: IssueData): string {
  return sha256(JSON.stringify(issue));
}

export function resultsDigest(results: LifecycleContext['results']): string {
  return sha256(JSON.stringify(results));
}

/** Shown again by the watcher as it was when it finished (each restart does): nothing to do, nothing to read. */
export function seenUnchanged(finished: FinishedIssue, observed: Pick<IssueRecord, 'issue' | 'contentHash'>): boolean {
  return finished.state !== 'released' && !finished.closed && finished.contentHash === observed.contentHash && finished.issueDigest === issueDigest(observed.issue);
}

/** Done with a pull request nobody merged yet: its merge outside the merge stage is looked up while dependents wait (./readiness.ts). */
export function awaitsOutsideMerge(finished: FinishedIssue): boolean {
  return finished.state === 'done' && finished.pullRequest !== undefined && finished.merged === undefined;
}
