/**
 * When the merge stage looks at each issue: at once when it enters `merging`, again after
 * `workflow.ci.pollIntervalMs` while it waits (CI running, a dependency to merge first, a person
 * to merge), and for an issue in `merge_blocked`, at the same pace, for a change of its pull
 * request (a new head, a new review, a lifted protection) or for someone merging it by hand.
 * One look per issue at a time, in the background; what it found is stepped serially with
 * everything else, and only if the issue is still where it was.
 */
import { describeError } from '../errors.ts';
import type { IssueSource } from '../issues/source.ts';
import type { LifecycleEvent } from '../machines/issue-lifecycle.ts';
import { issueFacts, type Book } from './book.ts';
import type { MergeDependency, MergeStage } from './merge-stage.ts';
import type { IssueRecord } from './record.ts';
import type { WorkflowMetrics } from './metrics.ts';

const LOOKED_AT = new Set(['merging', 'merge_blocked']);
const RETRY_AFTER_ERROR_MS = 5_000;
/** A refused merge is tried again this often even when its pull request did not change. */
const BLOCKED_RETRY_MS = 300_000;

export class MergeRunner {
  readonly #due = new Map<number, number>();
  readonly #inFlight = new Set<number>();

  constructor(
    private readonly stage: MergeStage,
    private readonly source: IssueSource,
    private readonly metrics: Pick<WorkflowMetrics, 'mergeStage'> | undefined,
  ) {}

  /** The orchestra stops: what the merge stage runs (a CI command) stops with it. */
  stop(): void {
    this.stage.stop();
  }

  /** Look at the issue at `at` (now: 0). */
  schedule(issue: number, at = 0): void {
    this.#due.set(issue, at);
  }

  /** Starts a look at every merging issue that is due. */
  kick(book: Book): void {
    if (book.closed()) return;
    const now = book.now();
    for (const record of book.records.values()) {
      const state = String(book.snapshot(record.number).value);
      if (!LOOKED_AT.has(state)) {
        this.#due.delete(record.number);
        continue;
      }
      if (this.#inFlight.has(record.number) || (this.#due.get(record.number) ?? 0) > now) continue;
      // The pull request first: the merge needs the one the pr stage opens (a tracker write, in order).
      if (record.outbox.some((effect) => effect.type === 'stageSucceeded' && effect.params.stage === 'pr')) continue;
      this.#inFlight.add(record.number);
      book.background.track(this.#look(book, record).finally(() => this.#inFlight.delete(record.number)));
    }
  }

  async #look(book: Book, record: IssueRecord): Promise<void> {
    const before = book.snapshot(record.number);
    const { generation } = before.context;
    let event: LifecycleEvent | undefined;
    try {
      event =
        before.value === 'merge_blocked'
          ? await this.#blocked(book, record)
          : await this.stage.check(record, before.context, dependenciesOf(book, record));
    } catch (error) {
      book.log.warn({ issue: record.number, err: describeError(error) }, 'merge stage could not look at the pull request; tried again later');
      this.#due.set(record.number, book.now() + RETRY_AFTER_ERROR_MS);
      return;
    }
    await book.serially(async () => {
      const now = book.snapshot(record.number);
      if (now.context.generation !== generation || now.value !== before.value) return;
      const poll = book.now() + book.config.workflow.ci.pollIntervalMs;
      if (!event || (event.type === 'merge.waiting' && event.reason === now.context.reason)) {
        this.#due.set(record.number, poll);
        return;
      }
      if (event.type === 'merge.waiting' || event.type === 'merge.blocked') this.#due.set(record.number, poll);
      else this.#due.delete(record.number);
      await this.#apply(book, record, event);
    });
  }

  /**
   * The issue was closed on the tracker while in the merge stage. Closed by the merge of its own
   * pull request (`Closes #N`: a person merged it, or our merge whose answer a crash lost) it is
   * merged, not released: recorded as such, and true. Run serially, as a step.
   */
  async closedByMerge(book: Book, record: IssueRecord): Promise<boolean> {
    if (!LOOKED_AT.has(String(book.snapshot(record.number).value)) || !record.pullRequest) return false;
    let pull;
    try {
      pull = await this.source.pullRequest(record.pullRequest.number);
    } catch (error) {
      book.log.warn({ issue: record.number, err: describeError(error) }, 'merge stage could not read the pull request of a closed issue; released');
      return false;
    }
    if (!pull?.merged) return false;
    this.#due.delete(record.number);
    await this.#apply(book, record, { type: 'merge.done', sha: pull.mergeCommitSha ?? pull.headSha, method: book.config.workflow.merge.method, now: book.now() });
    return true;
  }

  async #apply(book: Book, record: IssueRecord, event: LifecycleEvent): Promise<void> {
    const stepped = book.step(record, event);
    if (event.type === 'merge.done') {
      record.mergeRefusedAt = undefined;
      // Said before the commit below, whose effects (the done comment, `issue done`) follow it.
      book.log.info({ issue: record.number, sha: event.sha, method: event.method }, 'merge recorded');
    }
    if (stepped || event.type === 'merge.blocked') await book.commit([record]);
    this.#count(event);
    if (event.type === 'merge.done') {
      // Whoever waited for this one to merge first may go on now.
      for (const other of book.records.values()) if (LOOKED_AT.has(String(book.snapshot(other.number).value))) this.#due.set(other.number, 0);
    }
    if (event.type === 'merge.blocked') book.log.warn({ issue: record.number, reason: event.reason }, 'merge refused by the tracker; tried again when the pull request changes');
    if (event.type === 'merge.ci_failed') book.log.info({ issue: record.number, check: event.check }, 'CI failed; back to the first stage');
    if (event.type === 'merge.conflict') book.log.info({ issue: record.number, files: event.conflict.files }, 'merge conflict; back to the first stage');
    await book.settle();
  }

  /** An issue in merge_blocked: merged by hand, or its pull request changed (try again), or nothing yet. */
  async #blocked(book: Book, record: IssueRecord): Promise<LifecycleEvent | undefined> {
    const pull = record.pullRequest ? await this.source.pullRequest(record.pullRequest.number) : undefined;
    const now = book.now();
    if (!pull) return { type: 'merge.retry', now };
    if (pull.merged) return { type: 'merge.done', sha: pull.mergeCommitSha ?? pull.headSha, method: book.config.workflow.merge.method, now };
    const refused = record.mergeRefusedAt;
    if (!refused || refused.updatedAt !== pull.updatedAt || refused.headSha !== pull.headSha) return { type: 'merge.retry', now };
    // What refused may change without touching the pull request (a branch protection lifted, a
    // checkout cleaned): try again now and then anyway.
    if (now - (refused.at ?? 0) >= BLOCKED_RETRY_MS) return { type: 'merge.retry', now };
    return undefined;
  }

  #count(event: LifecycleEvent): void {
    const outcomes: Partial<Record<LifecycleEvent['type'], 'merged' | 'blocked' | 'conflict' | 'ci_failed' | 'failed'>> = {
      'merge.done': 'merged',
      'merge.blocked': 'blocked',
      'merge.conflict': 'conflict',
      'merge.ci_failed': 'ci_failed',
      'merge.failed': 'failed',
    };
    const outcome = outcomes[event.type];
    if (outcome) this.metrics?.mergeStage(outcome);
  }
}

/** For the stacked merge: each dependency of ours, merged or not, or stuck for good. */
function dependenciesOf(book: Book, record: IssueRecord): MergeDependency[] {
  return book.dag.graph.dependencies(record.number).flatMap((dependency) => {
    const facts = issueFacts(book, dependency);
    if (!facts) return [];
    const { state, reason } = facts;
    const stuck = state === 'failed' || state === 'released' || state === 'blocked' ? `${state}${reason ? `: ${reason}` : ''}` : undefined;
    return [{ number: dependency, merged: facts.merged !== undefined, stuck }];
  });
}
