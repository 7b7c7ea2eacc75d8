/**
 * The KV bucket's retention: what a finished issue leaves in `miyabi-state` (./store.ts) is
 * pruned once it finished `retention.days` ago, so the bucket grows with the work in progress,
 * not with every issue ever done.
 *
 * Pruned, for an issue whose lifecycle is finished (done, failed, released), whose outbox is
 * empty (every effect it decided is known done) and whose record was last written before
 * `olderThan`:
 *
 *   effect.comment.issue-<n>.*   effect.dispatch.issue-<n>.*   the ledger of its effects (dispatches:
 *                                                                 written by earlier versions)
 *   effect.pr.<n>.*              effect.ci.<n>.*
 *   cache.<n>.*                  its stages' cached results
 *
 * each subject purged from the bucket's stream with all its revisions (no delete markers left),
 * and the record `issue.<n>` itself compacted to its last revision. The record stays: it is what
 * tells the workflow the issue is finished.
 *
 * The trade-off (docs/OPERATIONS.md): the ledger is what makes a replayed effect a no-op. A
 * finished issue with an empty outbox has nothing left to replay, so its ledger is only needed if
 * the issue comes back (a `retry`, a reopened issue): that starts a new generation, whose keys
 * are new anyway; what is lost is only the cache, so its stages run again instead of being
 * reused. A ledger of an issue still in progress, or finished with effects pending, is never
 * touched.
 */
import type { JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { IssueRecord } from './record.ts';

/** Lifecycle states after which an issue asks for nothing more. */
export const FINISHED_STATES: ReadonlySet<string> = new Set(['done', 'failed', 'released']);

/** The subjects (within the bucket) an issue's ledger and cache live under. */
export function issueLedgerSubjects(issue: number): string[] {
  return [`effect.comment.issue-${issue}.>`, `effect.dispatch.issue-${issue}.>`, `effect.pr.${issue}.>`, `effect.ci.${issue}.>`, `cache.${issue}.>`];
}

export interface PruneOptions {
  kv: KV;
  jsm: JetStreamManager;
  /** The bucket's name (its stream is `KV_<bucket>`). */
  bucket: string;
  /** Each issue's lifecycle state, as the workflow has it. */
  states: ReadonlyMap<number, string>;
  /** Epoch ms: issues whose record was last written after this are kept. */
  olderThan: number;
  /** Issues pruned already by this process: skipped. */
  pruned?: Set<number>;
}

export interface PruneOutcome {
  /** Issues whose ledger and cache were pruned this time. */
  issues: number[];
  /** Messages removed from the bucket's stream. */
  purged: number;
}

export async function pruneFinishedIssues(options: PruneOptions): Promise<PruneOutcome> {
  const { kv, jsm, bucket, states, olderThan } = options;
  const stream = `KV_${bucket}`;
  const outcome: PruneOutcome = { issues: [], purged: 0 };
  for (const [issue, state] of states) {
    if (!FINISHED_STATES.has(state) || options.pruned?.has(issue)) continue;
    const entry = await kv.get(`issue.${issue}`);
    if (entry === null || entry.operation !== 'PUT' || entry.created.getTime() > olderThan) continue;
    const record = JSON.parse(entry.string()) as Pick<IssueRecord, 'outbox'>;
    if ((record.outbox ?? []).length > 0) continue;
    for (const subject of issueLedgerSubjects(issue)) {
      outcome.purged += (await jsm.streams.purge(stream, { filter: `$KV.${bucket}.${subject}` })).purged;
    }
    outcome.purged += (await jsm.streams.purge(stream, { filter: `$KV.${bucket}.issue.${issue}`, keep: 1 })).purged;
    outcome.issues.push(issue);
    options.pruned?.add(issue);
  }
  return outcome;
}
