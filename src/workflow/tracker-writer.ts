/**
 * The tracker writers: each issue's writes to the tracker (state labels, comments, the pull
 * request), run in the background one at a time, oldest first, so a slow or unreachable tracker
 * never holds up the work and one issue's comments keep their order. A write that fails waits
 * (backing off up to a minute) and is tried again on a later tick; only the last state label of
 * a backlog counts, the ones in between are skipped. A write that keeps failing is reported as
 * stuck (`stuckWrite`), so batch mode can name it rather than wait for ever.
 *
 * The tracker's lag: when a state label lands, how long after the lifecycle decided on it — or on
 * the first of the labels it replaced, skipped on the way — is `onLabelLanded(seconds)`
 * (`miyabi_tracker_lag_seconds`): how far the label on the tracker was behind the real state.
 */
import type { Logger } from 'pino';
import { backoffDelayMs } from '../backoff.ts';
import { describeError } from '../errors.ts';
import type { Background } from './background.ts';
import { writesTracker } from './effects.ts';
import type { IssueRecord, WorkflowEffect } from './record.ts';

/** After this many failures in a row a tracker write counts as stuck for batch mode (it is still retried). */
const WRITE_FAILURES_REPORTED = 3;
/** After a failed write (the client has retried already): 1 s, 2 s, 4 s … at most a minute before the next round. */
const TRACKER_WRITE_BACKOFF = { baseMs: 1_000, maxMs: 60_000 };

export interface TrackerWriterOptions {
  run(record: IssueRecord, effect: WorkflowEffect): Promise<void>;
  persist(record: IssueRecord): Promise<unknown>;
  background: Background;
  logger: Logger;
  now(): number;
  closed(): boolean;
  /** The issue's tracker writes are all done (the merge stage waits for its pull request). */
  drained(record: IssueRecord): void;
  /** A state label reached the tracker this long after the state it shows began (seconds). */
  onLabelLanded?(lagSeconds: number): void;
}

export class TrackerWriters {
  readonly #options: TrackerWriterOptions;
  readonly #writers = new Map<number, Writer>();

  constructor(options: TrackerWriterOptions) {
    this.#options = options;
  }

  /** Starts the issue's writer when it has tracker writes waiting and is neither running nor backing off. */
  start(record: IssueRecord): void {
    const { now, closed, background } = this.#options;
    const writer = this.#writers.get(record.number) ?? { running: false, retryAt: 0, failures: 0, staleSince: undefined };
    this.#writers.set(record.number, writer);
    if (writer.running || now() < writer.retryAt || closed()) return;
    if (!record.outbox.some(writesTracker)) return;
    writer.running = true;
    background.track(
      this.#write(record, writer).finally(() => {
        writer.running = false;
      }),
    );
  }

  async #write(record: IssueRecord, writer: Writer): Promise<void> {
    const { run, persist, logger, now, closed } = this.#options;
    try {
      for (let effect = record.outbox.find(writesTracker); effect && !closed(); effect = record.outbox.find(writesTracker)) {
        const label = effect.type === 'setStateLabel';
        // Only the last state label counts: after an outage, catch up without the ones in between.
        const superseded = label && supersededLabel(record.outbox, effect);
        try {
          if (!superseded) await run(record, effect);
        } catch (error) {
          effect.failures = (effect.failures ?? 0) + 1;
          writer.failures += 1;
          // The client has already retried what it could: wait before the next round.
          const waitMs = backoffDelayMs(writer.failures - 1, TRACKER_WRITE_BACKOFF);
          writer.retryAt = now() + waitMs;
          logger.warn(
            { issue: record.number, effect: effect.type, failures: effect.failures, retryInMs: waitMs, err: describeError(error) },
            `tracker write failed; will retry in ${waitMs / 1000} s (the work goes on)`,
          );
          return;
        }
        if (label && effect.at !== undefined) {
          writer.staleSince = Math.min(writer.staleSince ?? effect.at, effect.at);
          if (!superseded) {
            this.#options.onLabelLanded?.(Math.max(0, now() - writer.staleSince) / 1000);
            writer.staleSince = undefined;
          }
        }
        writer.failures = 0;
        record.outbox.splice(record.outbox.indexOf(effect), 1);
        await persist(record);
      }
      if (!record.outbox.some(writesTracker)) this.#options.drained(record);
    } catch (error) {
      logger.warn({ issue: record.number, err: describeError(error) }, 'could not record a tracker write; it is replayed');
    }
  }
}

interface Writer {
  running: boolean;
  retryAt: number;
  failures: number;
  /** The earliest decision among the state labels skipped since the last one landed. */
  staleSince: number | undefined;
}

/** The issue's first pending tracker write, when it has failed too often: the writes go in order, so it holds back the rest. */
export function stuckWrite(record: IssueRecord): WorkflowEffect | undefined {
  const first = record.outbox.find(writesTracker);
  return first && (first.failures ?? 0) >= WRITE_FAILURES_REPORTED ? first : undefined;
}

/** A state label that a later one in the outbox replaces. */
function supersededLabel(outbox: readonly WorkflowEffect[], effect: WorkflowEffect): boolean {
  return effect.type === 'setStateLabel' && outbox.slice(outbox.indexOf(effect) + 1).some((later) => later.type === 'setStateLabel');
}
