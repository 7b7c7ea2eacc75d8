/**
 * The tracker writers: each issue's writes to the tracker, run in the background so a slow or
 * unreachable tracker never holds up the work, in two lanes per issue:
 *
 * - the **state label**, a register: only the latest state matters, so of the labels waiting the
 *   last one is sent and the ones before it are not;
 * - the **comments and the pull request**, a log: one at a time, oldest first, so one issue's
 *   comments keep their order — except a start comment whose work has finished (the issue's done
 *   or failed comment waits behind it): it would arrive after the work was over, so it is not
 *   posted. Done, failed and every other comment, and the pull request, are always sent.
 *
 * A label or comment write waits for a turn (./tracker-turns.ts: one label and one comment at a
 * time for the whole orchestra, as GitHub spaces them, the issues in turn, a final state label
 * first) and what to write is decided when the turn comes, from the outbox as it is then. What
 * is not sent leaves the outbox as if done (the outbox is persisted, so a restart does not send
 * it either). A write that fails waits (backing off up to a minute) and is tried again on a later
 * tick. A write that keeps failing is reported as stuck (`stuckWrite`), so batch mode can name it
 * rather than wait for ever.
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
import { TrackerTurns } from './tracker-turns.ts';

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
  readonly #writers = new Map<string, Writer>();
  /** GitHub spaces writes by a second, and writes that notify (comments) by three: a turn each. */
  readonly #turns: Record<Lane, TrackerTurns> = { label: new TrackerTurns(), log: new TrackerTurns() };

  constructor(options: TrackerWriterOptions) {
    this.#options = options;
  }

  /** Starts the issue's writers that have tracker writes waiting and are neither running nor backing off. */
  start(record: IssueRecord): void {
    for (const lane of LANES) this.#start(record, lane);
  }

  #start(record: IssueRecord, lane: Lane): void {
    const { now, closed, background } = this.#options;
    const key = `${record.number}.${lane}`;
    const writer = this.#writers.get(key) ?? { running: false, retryAt: 0, failures: 0, staleSince: undefined };
    this.#writers.set(key, writer);
    if (writer.running || now() < writer.retryAt || closed()) return;
    if (!record.outbox.some((effect) => inLane(effect, lane))) return;
    writer.running = true;
    background.track(
      this.#write(record, writer, lane).finally(() => {
        writer.running = false;
      }),
    );
  }

  async #write(record: IssueRecord, writer: Writer, lane: Lane): Promise<void> {
    const { logger, closed } = this.#options;
    try {
      while (!closed()) {
        let effect = await this.#nextToSend(record, writer, lane);
        if (effect === undefined) break;
        // A pull request is never skipped and its branch push takes seconds: it waits for no turn.
        const endTurn = opensPullRequest(effect) ? undefined : await this.#turns[lane].take(lane === 'label' ? () => finalLabel(record) : undefined);
        try {
          // Decided again now that the turn came: the issue may have moved on while it waited.
          if (endTurn) effect = closed() ? undefined : await this.#nextToSend(record, writer, lane);
          if (effect === undefined || !(await this.#send(record, writer, effect))) return;
        } finally {
          endTurn?.();
        }
      }
      if (!record.outbox.some(writesTracker)) this.#options.drained(record);
    } catch (error) {
      logger.warn({ issue: record.number, err: describeError(error) }, 'could not record a tracker write; it is replayed');
    }
  }

  /**
   * The lane's next write worth sending. Those that are not are taken out of the outbox
   * (persisted, so a restart does not send them either; if it comes before that, it decides the
   * same from the same outbox): a state label a later one replaces, and a start comment of work
   * that has finished (its done or failed comment is waiting behind it).
   */
  async #nextToSend(record: IssueRecord, writer: Writer, lane: Lane): Promise<WorkflowEffect | undefined> {
    const mine = record.outbox.filter((effect) => inLane(effect, lane));
    const skipped = lane === 'label' ? mine.slice(0, -1) : mine.filter((effect) => finishedStart(record.outbox, effect));
    for (const effect of skipped) {
      if (effect.type === 'setStateLabel' && effect.at !== undefined) writer.staleSince = Math.min(writer.staleSince ?? effect.at, effect.at);
      if (effect.type === 'comment') this.#options.logger.info({ issue: record.number, key: effect.params.key }, 'start comment not posted: the work finished before its turn');
      record.outbox.splice(record.outbox.indexOf(effect), 1);
    }
    if (skipped.length > 0) await this.#options.persist(record);
    return mine.find((effect) => !skipped.includes(effect));
  }

  /** Sends one write and takes it out of the outbox; false when it failed (retried later, with backoff). */
  async #send(record: IssueRecord, writer: Writer, effect: WorkflowEffect): Promise<boolean> {
    const { run, persist, logger, now } = this.#options;
    try {
      await run(record, effect);
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
      return false;
    }
    if (effect.type === 'setStateLabel' && effect.at !== undefined) {
      const since = Math.min(writer.staleSince ?? effect.at, effect.at);
      this.#options.onLabelLanded?.(Math.max(0, now() - since) / 1000);
      writer.staleSince = undefined;
    }
    writer.failures = 0;
    record.outbox.splice(record.outbox.indexOf(effect), 1);
    await persist(record);
    return true;
  }
}

interface Writer {
  running: boolean;
  retryAt: number;
  failures: number;
  /** The earliest decision among the state labels skipped since the last one landed. */
  staleSince: number | undefined;
}

/** A pending tracker write of the issue that has failed too often: each lane goes in order, so it holds back the rest of its lane. */
export function stuckWrite(record: IssueRecord): WorkflowEffect | undefined {
  return record.outbox.find((effect) => writesTracker(effect) && (effect.failures ?? 0) >= WRITE_FAILURES_REPORTED);
}

/** A pull request to open (the `pr` stage succeeded). */
function opensPullRequest(effect: WorkflowEffect): boolean {
  return effect.type === 'stageSucceeded';
}

/** A start comment with the issue's done or failed comment waiting behind it: the work it announces is over. */
function finishedStart(outbox: readonly WorkflowEffect[], effect: WorkflowEffect): boolean {
  if (effect.type !== 'comment' || effect.params.kind !== 'started') return false;
  return outbox.slice(outbox.indexOf(effect) + 1).some((later) => later.type === 'comment' && (later.params.kind === 'done' || later.params.kind === 'failed'));
}

/** The state label, a register; the comments and the pull request, a log (see the top). */
type Lane = 'label' | 'log';
const LANES: readonly Lane[] = ['label', 'log'];

/** The issue's latest state label waiting is a final one (done, failed): its turn comes before the others'. */
function finalLabel(record: IssueRecord): boolean {
  const latest = record.outbox.findLast((effect) => inLane(effect, 'label'));
  return latest !== undefined && FINAL_LABELS.has(String(latest.params.label));
}

const FINAL_LABELS = new Set(['done', 'failed']);

function inLane(effect: WorkflowEffect, lane: Lane): boolean {
  return writesTracker(effect) && (effect.type === 'setStateLabel') === (lane === 'label');
}
