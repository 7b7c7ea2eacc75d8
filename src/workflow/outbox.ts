/**
 * Running an issue's outbox, the effects its lifecycle decided and the KV record keeps until they
 * are done. The orchestra's own effects (tasks, cancels, events) run at once, in order; writes to
 * the tracker go to the issue's tracker writer (tracker-writer.ts), in the background. An effect
 * that fails stays in the outbox, counted, and is tried again at the next drain (the engine's
 * tick). Each effect is idempotent by key (effects.ts), so a drain after a crash finds what was
 * done before it.
 *
 * Also kept here: the last lines each agent printed, by task, which a failure comment quotes (not
 * persisted: best effort).
 */
import { describeError } from '../errors.ts';
import { forEachConcurrently, type Book } from './book.ts';
import { effectContextOf } from './dispatcher.ts';
import { EffectRunner, writesTracker, type EffectRunnerOptions } from './effects.ts';
import type { IssueRecord, WorkflowEffect } from './record.ts';
import { TrackerWriters } from './tracker-writer.ts';

/** Log tails kept for failure comments. */
const LOG_TAILS_KEPT = 256;

export interface OutboxOptions extends EffectRunnerOptions {
  /** All of an issue's tracker writes are done (the merge stage waits for its pull request). */
  drained(): void;
  /** A state label reached the tracker this long after the state it shows began (seconds). */
  onLabelLanded?(lagSeconds: number): void;
}

export class Outbox {
  readonly #book: Book;
  readonly #options: OutboxOptions;
  readonly #effects: EffectRunner;
  readonly #writers: TrackerWriters;
  readonly #logTails = new Map<string, string[]>();

  constructor(book: Book, options: OutboxOptions) {
    this.#book = book;
    this.#options = options;
    this.#effects = new EffectRunner(options);
    this.#writers = new TrackerWriters({
      run: (record, effect) => this.#run(record, effect),
      persist: (record) => options.store.putRecord(record),
      background: book.background,
      logger: book.log,
      now: () => book.now(),
      closed: () => book.closed(),
      drained: () => options.drained(),
      onLabelLanded: (seconds) => options.onLabelLanded?.(seconds),
    });
  }

  /** The last lines a task's agent printed: a failure comment soon after quotes them. */
  keepLogTail(taskId: string, lines: string[]): void {
    this.#logTails.set(taskId, lines);
    // Only a failure comment soon after reads them: keep the latest few, not every task ever.
    if (this.#logTails.size > LOG_TAILS_KEPT) this.#logTails.delete(this.#logTails.keys().next().value!);
  }

  /** The outboxes of an earlier run: what is in them may have been done before the crash, so the ledger decides. */
  replay(records: readonly IssueRecord[], concurrency: number): Promise<void> {
    for (const record of records) for (const effect of record.outbox) effect.replay = true;
    return forEachConcurrently(records, concurrency, (record) => this.drain(record));
  }

  /** Runs the record's outbox: the orchestra's own effects here, in order; its tracker writes handed to its writer. */
  async drain(record: IssueRecord): Promise<void> {
    if (record.outbox.length === 0) return;
    let changed = false;
    for (const effect of [...record.outbox]) {
      if (writesTracker(effect)) continue;
      try {
        await this.#run(record, effect);
        record.outbox.splice(record.outbox.indexOf(effect), 1);
        changed = true;
      } catch (error) {
        effect.failures = (effect.failures ?? 0) + 1;
        this.#book.log.warn({ issue: record.number, effect: effect.type, failures: effect.failures, err: describeError(error) }, 'side effect failed; retried next tick');
      }
    }
    if (changed) await this.#options.store.putRecord(record);
    this.#writers.start(record);
  }

  #run(record: IssueRecord, effect: WorkflowEffect): Promise<void> {
    return this.#effects.run(record, effect, effectContextOf(this.#book, record, (taskId) => this.#logTails.get(taskId)));
  }
}
