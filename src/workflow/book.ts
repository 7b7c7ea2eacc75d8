/**
 * What the engine's helpers (dependencies.ts, dispatcher.ts, merges.ts) may do with the issues it
 * keeps: read the records and their lifecycles, step a lifecycle in memory and commit it (record
 * first, then its effects), and run a step serially with every other. The engine (engine.ts) is
 * the one implementation; the helpers never hold issues of their own.
 */
import type { Logger } from 'pino';
import type { SnapshotFrom } from 'xstate';
import type { OrchestraConfig } from '../config/schema.ts';
import type { issueLifecycleMachine, LifecycleEvent } from '../machines/issue-lifecycle.ts';
import type { Background } from './background.ts';
import { resultsDigest, type FinishedIssue } from './finished.ts';
import type { GraphPort, QueuePort } from './ports.ts';
import type { IssueRecord } from './record.ts';

export type LifecycleSnapshot = SnapshotFrom<typeof issueLifecycleMachine>;

export interface Book {
  readonly config: OrchestraConfig;
  readonly log: Logger;
  readonly dag: GraphPort;
  readonly queue: QueuePort;
  readonly background: Background;
  /** The issues loaded whole: the open ones, and finished ones acted on in this run. */
  readonly records: ReadonlyMap<number, IssueRecord>;
  /** The other finished issues, summed up (./finished.ts). */
  readonly finished: ReadonlyMap<number, FinishedIssue>;
  /** A finished issue's whole record, read back to act on it again (then in `records`); in a step only. */
  load(number: number): Promise<IssueRecord | undefined>;
  now(): number;
  snapshot(number: number): LifecycleSnapshot;
  /** Steps the lifecycle in memory; true when something changed (then commit it). */
  step(record: IssueRecord, event: LifecycleEvent): boolean;
  /** Writes the records (snapshot and outbox) and runs their effects. */
  commit(records: readonly IssueRecord[]): Promise<void>;
  /** Runs `work` after every step queued before it, alone. */
  serially<T>(work: () => Promise<T>): Promise<T>;
  /** Dependencies and the queue, until nothing changes. */
  settle(): Promise<void>;
  closed(): boolean;
}

/** What another issue's dependents and dependencies read of it, whole or summed up. */
export interface IssueFacts {
  state: string;
  reason: string | undefined;
  /** Its merge commit, by the merge stage or outside it. */
  merged: string | undefined;
  pullRequest: number | undefined;
  /** sha256 of its stage results (./finished.ts): a dependent's stage key. */
  resultsDigest(): string;
}

/** Undefined: not one of the orchestra's issues (outside its scope). */
export function issueFacts(book: Book, number: number): IssueFacts | undefined {
  const record = book.records.get(number);
  if (record) {
    const { value, context } = book.snapshot(number);
    const merged = context.merged?.sha ?? record.mergedOutside;
    return { state: String(value), reason: context.reason, merged, pullRequest: record.pullRequest?.number, resultsDigest: () => resultsDigest(context.results) };
  }
  const finished = book.finished.get(number);
  if (!finished) return undefined;
  return { state: finished.state, reason: finished.reason, merged: finished.merged, pullRequest: finished.pullRequest?.number, resultsDigest: () => finished.resultsDigest };
}

/** Runs `work` over `items`, at most `limit` at a time. */
export async function forEachConcurrently<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
