/**
 * The bus: every message of the orchestra goes through here, in an envelope, over JetStream.
 *
 *   const bus = new Bus(nc, { sender: 'scheduler', logger, observer });
 *   await bus.ensureTopology();                       // streams + KV, idempotent
 *   await bus.publish('miyabi.tasks.codegen', 'task.assigned', { ... });
 *   const sub = await bus.consume({ stream: 'MIYABI_TASKS', durable: 'codegen',
 *     filterSubject: 'miyabi.tasks.codegen', handler: async (envelope, delivery) => { ... } });
 *   await sub.stop(); await bus.close();
 *
 * Contract of publish: the payload is wrapped in an envelope with this bus's sender, incarnation
 * and the next sequence number for the subject, and published with a Nats-Msg-Id (default: the
 * envelope id). A msgId names one message: publishing a msgId again (a retry after a timeout, a
 * deliberate republish) re-sends the first envelope, so within the stream's duplicate window it
 * is stored once and receivers never see a sequence gap for it (the last 1024 msgIds are kept).
 *
 * Consumers: see consumer.ts (contract) and delivery-policy.ts (ack / nak / dead letter).
 * The bus knows subjects and streams, never what the payloads mean. It does not own the
 * connection: close() stops its consumers and tails, the caller closes the connection.
 */
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager, type PubAck } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { pino, type Logger } from 'pino';
import { describeError, ErrorCodes, MiyabiError } from '../../errors.ts';
import { BusConsumer, consumeSettings, type BusSubscription, type ConsumeOptions } from './consumer.ts';
import { storeUsage, summarizeStreams, tailSubjects, type StoreUsage, type StreamSummary, type TailHandle, type TailMessage } from './inspect.ts';
import { guardObserver, noopBusObserver, type BusObserver } from './observer.ts';
import {
  consumerConfig,
  deadLetterSubject,
  ensureConsumer,
  ensureStream,
  resolveTopology,
  streamConfigs,
  type BusTopology,
  type BusTopologyOptions,
} from './topology.ts';
import { ensureAnswersKv, ensureKv, ensureLeaseKv, ensureNodesKv, ensureOnceKv } from './buckets.ts';
import { DEAD_LETTER_TYPE, type DeadLetter } from './dead-letter.ts';
import { createEnvelope, encodeEnvelope, type Envelope } from './envelope.ts';
import { SequenceTracker } from './sequence-tracker.ts';

export interface BusOptions {
  /** Who publishes: goes into every envelope (an actor id). */
  sender: string;
  logger?: Logger;
  observer?: BusObserver;
  topology?: BusTopologyOptions;
  /** How long to wait for JetStream's PubAck; default 5 s. */
  publishTimeoutMs?: number;
  now?: () => Date;
}

export interface PublishOptions {
  msgId?: string;
  timeoutMs?: number;
}

export interface PublishResult {
  stream: string;
  /** The stream sequence (of the first copy, for a duplicate). */
  seq: number;
  /** True when the stream already had this msgId and dropped this copy. */
  duplicate: boolean;
  /** The envelope id. */
  id: string;
}

interface Prepared {
  subject: string;
  type: string;
  envelope: Envelope<unknown>;
  data: Uint8Array;
}

const REMEMBERED_MSG_IDS = 1024;

export class Bus {
  readonly topology: BusTopology;
  readonly sender: string;
  /** New for every Bus: a restarted sender is a new incarnation with its own sequences. */
  readonly incarnation: string = crypto.randomUUID();
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #log: Logger;
  readonly #observer: BusObserver;
  readonly #publishTimeoutMs: number;
  readonly #now: () => Date;
  /** Last sequence per subject. Never evicted (a forgotten subject would restart at 1 and look
   * like duplicates): one small entry per subject this bus has published on. */
  readonly #seqs = new Map<string, number>();
  readonly #byMsgId = new Map<string, Prepared>();
  readonly #trackers = new Map<string, SequenceTracker>();
  readonly #subscriptions = new Set<BusSubscription>();
  readonly #tails = new Set<TailHandle>();
  readonly #manager: () => Promise<JetStreamManager>;
  readonly #kv: () => Promise<KV>;
  readonly #once: () => Promise<KV>;
  readonly #lease: () => Promise<KV>;
  readonly #nodes: () => Promise<KV>;
  readonly #answers: () => Promise<KV>;
  #closed = false;

  constructor(nc: NatsConnection, options: BusOptions) {
    this.#nc = nc;
    this.#js = jetstream(nc);
    this.sender = options.sender;
    this.topology = resolveTopology(options.topology);
    this.#log = (options.logger ?? pino({ level: 'silent' })).child({ component: 'bus', sender: options.sender });
    this.#observer = guardObserver(options.observer ?? noopBusObserver, (method, error) =>
      this.#log.error({ method, err: describeError(error) }, 'bus observer threw; ignored'),
    );
    this.#publishTimeoutMs = options.publishTimeoutMs ?? 5_000;
    this.#now = options.now ?? (() => new Date());
    this.#manager = keptUntilFailed(() =>
      jetstreamManager(nc).catch((error: unknown) => {
        throw new MiyabiError(ErrorCodes.NatsUnreachable, `JetStream unavailable: ${describeError(error)}`, { cause: error });
      }),
    );
    this.#kv = keptUntilFailed(async () => ensureKv(nc, await this.#manager(), this.topology, this.#log));
    this.#once = keptUntilFailed(async () => ensureOnceKv(nc, await this.#manager(), this.topology, this.#log));
    this.#lease = keptUntilFailed(async () => ensureLeaseKv(nc, await this.#manager(), this.topology, this.#log));
    this.#nodes = keptUntilFailed(async () => ensureNodesKv(nc, await this.#manager(), this.topology, this.#log));
    this.#answers = keptUntilFailed(async () => ensureAnswersKv(nc, await this.#manager(), this.topology, this.#log));
  }

  /** Creates the streams and the KV bucket, or checks and updates them; safe to run at every start. */
  async ensureTopology(): Promise<void> {
    const jsm = await this.#manager();
    for (const wanted of streamConfigs(this.topology)) await this.#untilAnswered(() => ensureStream(jsm, wanted, this.#log));
    await this.#untilAnswered(() => this.kv());
    await this.#untilAnswered(() => this.once());
    // The runners read and write it but may not create it (src/orchestra/nats-auth.ts).
    await this.#untilAnswered(() => this.#answers());
  }

  /**
   * Ensuring is idempotent, so a request that timed out is asked again, up to four times: a fresh
   * NATS cluster whose nodes all start at once (`cluster up`) may take longer than one request's
   * timeout to make a replicated stream while it makes the others' (seen: a node of three failed
   * its start on `cannot ensure stream MIYABI_DLQ: timeout`). Anything else fails at once.
   */
  async #untilAnswered<T>(ensure: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await ensure();
      } catch (error) {
        const timedOut = error instanceof MiyabiError && error.code === ErrorCodes.NatsUnreachable && /timeout/i.test(error.message);
        if (!timedOut || attempt >= 4 || this.#closed) throw error;
        this.#log.warn({ attempt, err: describeError(error) }, 'bus topology not answered in time; asking again');
      }
    }
  }

  /** `miyabi.dlq.<subject>`: where dead messages from `subject` go. */
  deadLetterSubject(subject: string): string {
    return deadLetterSubject(this.topology, subject);
  }

  async publish<P>(subject: string, type: string, payload: P, options: PublishOptions = {}): Promise<PublishResult> {
    if (this.#closed) throw new MiyabiError(ErrorCodes.BusClosed, `bus closed; cannot publish ${type} on ${subject}`);
    const prepared = this.#prepare(subject, type, payload, options.msgId);
    let ack: PubAck;
    try {
      ack = await this.#js.publish(subject, prepared.data, {
        msgID: options.msgId ?? prepared.envelope.id,
        timeout: options.timeoutMs ?? this.#publishTimeoutMs,
      });
    } catch (error) {
      throw new MiyabiError(
        ErrorCodes.BusPublishFailed,
        `publish ${type} on ${subject} failed: ${describeError(error)} (no stream for the subject, JetStream down, or no PubAck in time; retry with the same msgId)`,
        { cause: error },
      );
    }
    if (!ack.duplicate) this.#observer.published(subject);
    return { stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate, id: prepared.envelope.id };
  }

  #prepare(subject: string, type: string, payload: unknown, msgId: string | undefined): Prepared {
    const known = msgId === undefined ? undefined : this.#byMsgId.get(msgId);
    if (known && known.subject === subject && known.type === type) return known;
    const seq = (this.#seqs.get(subject) ?? 0) + 1;
    this.#seqs.set(subject, seq);
    const envelope = createEnvelope({ sender: this.sender, incarnation: this.incarnation, seq, type, payload, now: this.#now() });
    const prepared = { subject, type, envelope, data: encodeEnvelope(envelope) };
    if (msgId !== undefined) {
      this.#byMsgId.set(msgId, prepared);
      if (this.#byMsgId.size > REMEMBERED_MSG_IDS) {
        const oldest = this.#byMsgId.keys().next().value;
        if (oldest !== undefined) this.#byMsgId.delete(oldest);
      }
    }
    return prepared;
  }

  /**
   * Creates (or checks) a durable consumer as `consume` would, without consuming, and returns
   * its backlog: messages not yet delivered, and delivered but not yet acknowledged. For whoever
   * sizes the pool of consumers (the same options as `consume`, so the configs never drift).
   */
  async backlog(options: Omit<ConsumeOptions<unknown>, 'handler'>): Promise<{ pending: number; ackPending: number }> {
    const settings = consumeSettings({ ...options, handler: () => undefined });
    const info = await ensureConsumer(await this.#manager(), settings.stream, consumerConfig(settings), this.#log);
    return { pending: info.num_pending, ackPending: info.num_ack_pending };
  }

  /**
   * Creates (or checks) the durable consumer and starts consuming. Instances with the same
   * durable share its messages (each message to one of them) and, within this Bus, one sequence
   * tracker.
   */
  async consume<P = unknown>(options: ConsumeOptions<P>): Promise<BusSubscription> {
    if (this.#closed) throw new MiyabiError(ErrorCodes.BusClosed, `bus closed; cannot consume ${options.stream}/${options.durable}`);
    const settings = consumeSettings(options);
    const jsm = await this.#manager();
    await ensureConsumer(jsm, settings.stream, consumerConfig(settings), this.#log);
    if (settings.filterSubject !== undefined) this.#observer.consuming(settings.filterSubject);
    const key = `${settings.stream}/${settings.durable}`;
    let tracker = this.#trackers.get(key);
    if (!tracker) this.#trackers.set(key, (tracker = new SequenceTracker()));
    const consumer = new BusConsumer(
      {
        nc: this.#nc,
        js: this.#js,
        tracker,
        observer: this.#observer,
        logger: this.#log,
        deadLetter: (subject, letter, msgId) => this.#deadLetter(subject, letter, msgId),
      },
      settings,
    );
    this.#subscriptions.add(consumer);
    void consumer.done.then(() => this.#subscriptions.delete(consumer));
    return consumer;
  }

  async #deadLetter(subject: string, letter: DeadLetter, msgId: string): Promise<void> {
    await this.publish(this.deadLetterSubject(subject), DEAD_LETTER_TYPE, letter, { msgId });
  }

  /** The KV bucket for durable state (created if missing). */
  kv(): Promise<KV> {
    return this.#kv();
  }

  /** The ledger of what must happen once for good (webhook deliveries, comment commands): entries expire. */
  once(): Promise<KV> {
    return this.#once();
  }

  /** The bucket of a cluster's leader lease (created if missing; never by ensureTopology: a single node has none). */
  lease(): Promise<KV> {
    return this.#lease();
  }

  /** The bucket of a cluster's members: its identity, each node's heartbeat (created if missing; cluster mode only). */
  nodes(): Promise<KV> {
    return this.#nodes();
  }

  /** Streams with their counts and consumers, for `bus streams`. */
  async streams(): Promise<StreamSummary[]> {
    return summarizeStreams(await this.#manager());
  }

  /** How much of the JetStream store the account uses, and its limits. */
  async storeUsage(): Promise<StoreUsage> {
    return storeUsage(await this.#manager());
  }

  /** Live messages on `subjectFilter` (default: everything under the prefix), for `bus tail`. */
  tail(subjectFilter: string | undefined, onMessage: (message: TailMessage) => void): TailHandle {
    if (this.#closed) throw new MiyabiError(ErrorCodes.BusClosed, 'bus closed; cannot tail');
    const handle = tailSubjects(this.#nc, subjectFilter ?? `${this.topology.prefix}.>`, onMessage, this.#log);
    const tracked: TailHandle = {
      stop: async () => {
        this.#tails.delete(tracked);
        await handle.stop();
      },
    };
    this.#tails.add(tracked);
    return tracked;
  }

  /** Stops every consumer (letting running handlers finish) and tail. The connection stays open. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#subscriptions].map((s) => s.stop()));
    await Promise.all([...this.#tails].map((t) => t.stop()));
  }
}

/**
 * `make()` once, its promise kept for every later call; a failed one is forgotten, so the next
 * call tries again (JetStream may not be there yet while the server starts).
 */
function keptUntilFailed<T>(make: () => Promise<T>): () => Promise<T> {
  let kept: Promise<T> | undefined;
  return () =>
    (kept ??= make().catch((error: unknown) => {
      kept = undefined;
      throw error;
    }));
}
