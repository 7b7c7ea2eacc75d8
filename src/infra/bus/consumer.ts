/**
 * One running durable pull consumer: pulls, decodes, tracks sequences, calls the handler one
 * message at a time, and acks, naks or dead-letters as delivery-policy.ts decides.
 *
 * The loop survives everything but `stop()` and a closed connection: a server restart, a missing
 * stream, a failed pull are logged and retried with backoff (the nats.js consume() itself re-pulls
 * after a reconnect). No error leaves the loop: handler errors become naks, I/O errors log lines.
 *
 * `stop()` stops pulling, lets the running handler finish (its `signal` aborts, so it can hurry),
 * naks what was pulled but not started (redelivered at once to another instance), and resolves
 * when the loop has ended. Don't await `stop()` from inside a handler: it waits for that handler.
 */
import type { ConsumerMessages, ConsumerNotification, JetStreamClient, JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { describeError } from '../../errors.ts';
import { abortableDelay, jitteredRetryDelayMs, type RetryBackoff } from '../backoff.ts';
import type { BusObserver } from './observer.ts';
import { boundedBody, deadLetterMsgId, DeadLetterReasons, MalformedPayload, type DeadLetter } from './dead-letter.ts';
import { afterHandling, beforeHandling, outcomeOf, type DeliveryAction, type HandlerOutcome } from './delivery-policy.ts';
import { decodeEnvelope, type Envelope } from './envelope.ts';
import type { SequenceCounts, SequenceTracker } from './sequence-tracker.ts';


/** A dead letter's error text is a reason, not a dump: cut past this. */
const MAX_ERROR_CHARS = 4_000;
/** The envelope and the letter's fields other than the body, with room to spare. */
const LETTER_OVERHEAD_BYTES = 32 * 1024;

export interface Delivery {
  readonly subject: string;
  readonly streamSeq: number;
  /** 1 on the first delivery. */
  readonly deliveryCount: number;
  readonly redelivered: boolean;
  /** Resets the ack deadline (another `ackWaitMs`): call it periodically in long handlers. */
  working(): void;
  /** Aborts when the consumer is stopping. */
  readonly signal: AbortSignal;
  /**
   * Where JetStream takes this delivery's acks. Another process that knows it may nak the
   * message for the handler (a supervisor whose worker died mid-message), so it is redelivered
   * at once instead of after the ack wait.
   */
  readonly ackSubject: string;
}

/** Resolve with nothing when done (ack); with `{ retryInMs }` to be redelivered later (nak). */
export type HandlerResult = void | undefined | { retryInMs: number };
export type BusHandler<P> = (envelope: Envelope<P>, delivery: Delivery) => HandlerResult | Promise<HandlerResult>;

export interface ConsumeOptions<P = unknown> {
  stream: string;
  durable: string;
  filterSubject?: string;
  /** Deliveries before the dead-letter stream; default 5. */
  maxDeliver?: number;
  /** How long a delivery may go unacknowledged before redelivery; default 30 s. */
  ackWaitMs?: number;
  /** Messages pulled ahead of the handler; default 1 (right for long handlers: a buffered
   * message's ack wait runs while it waits). Raise it for short handlers. */
  batch?: number;
  maxAckPending?: number;
  /** Delay before redelivering after the handler throws; default 1 s doubling to 60 s. */
  retryBackoff?: RetryBackoff;
  /** When given, a payload that fails it is malformed (dead letter) and the handler sees the parsed value. */
  payloadSchema?: z.ZodType<P>;
  handler: BusHandler<P>;
}

export const DEFAULT_RETRY_BACKOFF: RetryBackoff = { initialMs: 1_000, maxMs: 60_000, jitter: 0.2 };
const LOOP_BACKOFF: RetryBackoff = { initialMs: 200, maxMs: 5_000, jitter: 0.2 };

export interface ConsumerStats {
  received: number;
  acked: number;
  naked: number;
  redelivered: number;
  deadLettered: number;
  malformed: number;
  handlerErrors: number;
  sequence: SequenceCounts;
}

export interface BusSubscription {
  readonly stream: string;
  readonly durable: string;
  stats(): ConsumerStats;
  stop(): Promise<void>;
  /** Resolves when the loop has ended (after stop(), or when the connection closed). */
  readonly done: Promise<void>;
}

export interface ConsumerDeps {
  nc: NatsConnection;
  js: JetStreamClient;
  tracker: SequenceTracker;
  observer: BusObserver;
  logger: Logger;
  deadLetter(originalSubject: string, letter: DeadLetter, msgId: string): Promise<void>;
}

type Settings<P> = Required<Omit<ConsumeOptions<P>, 'filterSubject' | 'payloadSchema'>> &
  Pick<ConsumeOptions<P>, 'filterSubject' | 'payloadSchema'>;

export function consumeSettings<P>(options: ConsumeOptions<P>): Settings<P> {
  return {
    maxDeliver: 5,
    ackWaitMs: 30_000,
    batch: 1,
    maxAckPending: 1_000,
    retryBackoff: DEFAULT_RETRY_BACKOFF,
    ...options,
  };
}

export class BusConsumer<P> implements BusSubscription {
  readonly stream: string;
  readonly durable: string;
  readonly done: Promise<void>;
  readonly #deps: ConsumerDeps;
  readonly #settings: Settings<P>;
  readonly #log: Logger;
  readonly #abort = new AbortController();
  #messages: ConsumerMessages | undefined;
  readonly #stats = { received: 0, acked: 0, naked: 0, redelivered: 0, deadLettered: 0, malformed: 0, handlerErrors: 0 };

  constructor(deps: ConsumerDeps, settings: Settings<P>) {
    this.#deps = deps;
    this.#settings = settings;
    this.stream = settings.stream;
    this.durable = settings.durable;
    this.#log = deps.logger.child({ stream: settings.stream, durable: settings.durable });
    this.done = this.#run().catch((error: unknown) => {
      this.#log.error({ err: describeError(error) }, 'bus consumer loop failed');
    });
  }

  stats(): ConsumerStats {
    return { ...this.#stats, sequence: this.#deps.tracker.counts() };
  }

  async stop(): Promise<void> {
    if (!this.#abort.signal.aborted) {
      this.#abort.abort();
      await this.#messages?.close().catch(() => undefined);
    }
    await this.done;
  }

  get #stopping(): boolean {
    return this.#abort.signal.aborted;
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#stopping) {
      if (this.#deps.nc.isClosed()) {
        this.#log.warn('nats connection closed; bus consumer stopped');
        return;
      }
      try {
        const consumer = await this.#deps.js.consumers.get(this.stream, this.durable);
        const messages = await consumer.consume({ max_messages: this.#settings.batch });
        this.#messages = messages;
        this.#watch(messages);
        // Stopped while starting: close (its iterator then ends); awaiting close() here would
        // wait for an iteration that has not begun.
        if (this.#stopping) void messages.close().catch(() => undefined);
        for await (const msg of messages) {
          failures = 0;
          if (this.#stopping) this.#settle(msg, { action: 'nak', delayMs: 0 });
          else await this.#process(msg);
        }
      } catch (error) {
        if (this.#stopping) return;
        failures++;
        this.#log.warn({ err: describeError(error), failures }, 'bus consumer interrupted; resuming');
      }
      if (!this.#stopping) await abortableDelay(jitteredRetryDelayMs(Math.max(1, failures), LOOP_BACKOFF), this.#abort.signal);
    }
  }

  #watch(messages: ConsumerMessages): void {
    void (async () => {
      for await (const note of messages.status()) this.#logNotification(note);
    })().catch(() => undefined);
  }

  #logNotification(note: ConsumerNotification): void {
    switch (note.type) {
      case 'heartbeats_missed':
        this.#log.warn({ count: note.count }, 'bus consumer missed server heartbeats');
        return;
      case 'consumer_not_found':
      case 'stream_not_found':
      case 'consumer_deleted':
        this.#log.error({ notification: note.type }, 'bus consumer lost its consumer or stream on the server');
        return;
      case 'exceeded_limits':
        this.#log.warn({ description: note.description }, 'bus consumer pull exceeded server limits');
        return;
      default:
        return;
    }
  }

  async #process(msg: JsMsg): Promise<void> {
    const deliveryCount = msg.info.deliveryCount;
    const subject = msg.subject;
    this.#stats.received++;
    if (deliveryCount > 1) {
      this.#stats.redelivered++;
      this.#deps.observer.redelivered(subject);
    }
    const decoded = decodeEnvelope(msg.data, this.#settings.payloadSchema);
    if (!decoded.ok) {
      this.#stats.malformed++;
      return this.#apply(msg, { action: 'dead_letter', reason: DeadLetterReasons.Malformed, error: `${decoded.reason}: ${decoded.error}` });
    }
    const early = beforeHandling(deliveryCount, this.#settings);
    if (early) return this.#apply(msg, early);
    const { envelope } = decoded;
    if (deliveryCount === 1) this.#track(envelope, subject);
    let outcome: HandlerOutcome;
    try {
      outcome = outcomeOf(await this.#settings.handler(envelope, this.#delivery(msg)));
    } catch (error) {
      if (error instanceof MalformedPayload) {
        this.#stats.malformed++;
        return this.#apply(msg, { action: 'dead_letter', reason: DeadLetterReasons.Malformed, error: error.message });
      }
      this.#stats.handlerErrors++;
      this.#log.warn({ subject, streamSeq: msg.seq, deliveryCount, type: envelope.type, err: describeError(error) }, 'bus handler failed');
      outcome = { kind: 'threw', error };
    }
    await this.#apply(msg, afterHandling(outcome, deliveryCount, { maxDeliver: this.#settings.maxDeliver, backoff: this.#settings.retryBackoff }));
  }

  #delivery(msg: JsMsg): Delivery {
    const log = this.#log;
    return {
      subject: msg.subject,
      streamSeq: msg.seq,
      deliveryCount: msg.info.deliveryCount,
      redelivered: msg.redelivered,
      signal: this.#abort.signal,
      // The JsMsg interface leaves out the reply subject its implementation carries.
      ackSubject: (msg as unknown as { reply: string }).reply,
      working() {
        try {
          msg.working();
        } catch (error) {
          log.debug({ err: describeError(error) }, 'bus working() not sent');
        }
      },
    };
  }

  #track(envelope: Envelope<unknown>, subject: string): void {
    const verdict = this.#deps.tracker.observe({ sender: envelope.sender, incarnation: envelope.incarnation, subject }, envelope.seq);
    if (verdict.kind === 'gap') {
      this.#log.warn({ sender: envelope.sender, subject, seq: envelope.seq, missing: verdict.missing }, 'bus sequence gap');
      this.#deps.observer.sequenceGap(envelope.sender, verdict.missing);
    } else if (verdict.kind === 'duplicate') {
      this.#log.warn({ sender: envelope.sender, subject, seq: envelope.seq }, 'bus duplicate or late message');
      this.#deps.observer.duplicate(envelope.sender);
    }
  }

  async #apply(msg: JsMsg, action: DeliveryAction): Promise<void> {
    if (action.action !== 'dead_letter') return this.#settle(msg, action);
    // Room for the letter's own fields beside the body, under the server's payload limit.
    const maxPayload = this.#deps.nc.info?.max_payload ?? 1024 * 1024;
    const letter: DeadLetter = {
      reason: action.reason,
      error: action.error.length > MAX_ERROR_CHARS ? `${action.error.slice(0, MAX_ERROR_CHARS)}…` : action.error,
      originalSubject: msg.subject,
      stream: msg.info.stream,
      consumer: msg.info.consumer,
      streamSeq: msg.seq,
      deliveryCount: msg.info.deliveryCount,
      storedAt: msg.time.toISOString(),
      msgId: msg.headers?.get('Nats-Msg-Id') || undefined,
      ...boundedBody(msg.data, maxPayload - LETTER_OVERHEAD_BYTES),
    };
    try {
      await this.#deps.deadLetter(msg.subject, letter, deadLetterMsgId(msg.info.stream, msg.seq));
    } catch (error) {
      // Not lost: redelivered later, and dead-lettered then (its delivery count is past the limit).
      this.#log.error({ subject: msg.subject, streamSeq: msg.seq, err: describeError(error) }, 'bus dead letter failed; will retry');
      return this.#settle(msg, { action: 'nak', delayMs: jitteredRetryDelayMs(msg.info.deliveryCount, this.#settings.retryBackoff) });
    }
    this.#log.warn({ subject: msg.subject, streamSeq: msg.seq, reason: action.reason, err: action.error }, 'bus message dead-lettered');
    this.#settle(msg, { action: 'term' });
    this.#stats.deadLettered++;
    this.#deps.observer.deadLettered(msg.subject, action.reason);
  }

  #settle(msg: JsMsg, action: { action: 'ack' } | { action: 'nak'; delayMs: number } | { action: 'term' }): void {
    try {
      if (action.action === 'ack') {
        msg.ack();
        this.#stats.acked++;
        this.#deps.observer.acked(msg.subject);
      } else if (action.action === 'nak') {
        msg.nak(action.delayMs);
        this.#stats.naked++;
      } else {
        msg.term();
      }
    } catch (error) {
      // The connection is gone: the server redelivers after the ack wait.
      this.#log.warn({ subject: msg.subject, streamSeq: msg.seq, action: action.action, err: describeError(error) }, 'bus ack not sent');
    }
  }
}
