/**
 * The inspection events' durable history: the stream MIYABI_INSPECT (`<prefix>.inspect.>`), and
 * the two ways in and out of it the console needs (docs/CONSOLE.md).
 *
 * - In: `BoundedPublisher`, fire-and-forget. A record offered is queued (never more than
 *   `capacity`: past it the record is dropped and counted) and published on the next turn of the
 *   event loop with core NATS publishes, in batches, which the stream captures; nobody waits for
 *   an ack, so an actor's transition never waits for the bus. While no connection is attached
 *   records wait in the same bounded queue.
 * - Out: `readSubjectHistory`, every message of one subject in order (one issue's transitions),
 *   through an ordered consumer that takes nothing from anyone.
 *
 * Limits retention, bounded by age and size, discarding the OLDEST at the size limit: a history
 * must never refuse the present (nats-server 2.9 has no per-message TTL, so age is the stream's).
 * Records are plain JSON, not bus envelopes: nothing consumes them as work.
 */
import { DeliverPolicy, JetStreamApiError, jetstream, jetstreamManager, type JetStreamManager, type StreamInfo } from '@nats-io/jetstream';
import { DiscardPolicy, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { ErrorCodes, MiyabiError } from '../../errors.ts';
import { ensureStream, type WantedStream } from './topology.ts';

export const INSPECT_STREAM = 'MIYABI_INSPECT';

export interface InspectionStreamOptions {
  name?: string;
  /** First token of the subjects (`miyabi`). */
  prefix?: string;
  maxAgeMs: number;
  maxBytes: number;
  storage?: 'file' | 'memory';
  /** Default 1: a single server. */
  replicas?: number;
}

/** `miyabi.inspect.>` */
export const inspectWildcard = (prefix = 'miyabi'): string => `${prefix}.inspect.>`;

export function inspectionStreamConfig(options: InspectionStreamOptions): WantedStream {
  return {
    name: options.name ?? INSPECT_STREAM,
    subjects: [inspectWildcard(options.prefix)],
    retention: RetentionPolicy.Limits,
    storage: options.storage === 'memory' ? StorageType.Memory : StorageType.File,
    discard: DiscardPolicy.Old,
    duplicate_window: 0,
    max_age: options.maxAgeMs * 1_000_000,
    max_bytes: options.maxBytes,
    num_replicas: options.replicas ?? 1,
  };
}

export function ensureInspectionStream(jsm: JetStreamManager, options: InspectionStreamOptions, logger?: Logger): Promise<StreamInfo> {
  return ensureStream(jsm, inspectionStreamConfig(options), logger);
}

export type PublishTarget = (subject: string, data: Uint8Array) => void;

export interface BoundedPublisherOptions {
  /** Records waiting at most; past it new ones are dropped. */
  capacity: number;
  /** Records published per turn of the event loop (default 256). */
  batch?: number;
  /** Told of each dropped record (a metric). */
  onDrop?: () => void;
  /** Told when a publish throws (the connection closing): the records of that batch are dropped. */
  onError?: (error: unknown) => void;
}

export class BoundedPublisher {
  readonly #queue: Array<{ subject: string; body: unknown }> = [];
  readonly #options: Required<Pick<BoundedPublisherOptions, 'capacity' | 'batch'>> & BoundedPublisherOptions;
  readonly #encoder = new TextEncoder();
  #target: PublishTarget | undefined;
  #scheduled = false;
  dropped = 0;
  published = 0;

  constructor(options: BoundedPublisherOptions) {
    this.#options = { batch: 256, ...options };
  }

  get waiting(): number {
    return this.#queue.length;
  }

  /** Where records go from now on (a connection's publish); undefined while there is none. */
  attach(target: PublishTarget | undefined): void {
    this.#target = target;
    this.#schedule();
  }

  /** Queues a record; false when it was dropped (the queue is full). Never throws, never waits. */
  offer(subject: string, body: unknown): boolean {
    if (this.#queue.length >= this.#options.capacity) {
      this.#drop(1);
      return false;
    }
    this.#queue.push({ subject, body });
    this.#schedule();
    return true;
  }

  #drop(count: number): void {
    this.dropped += count;
    for (let i = 0; i < count; i += 1) this.#options.onDrop?.();
  }

  #schedule(): void {
    if (this.#scheduled || this.#target === undefined || this.#queue.length === 0) return;
    this.#scheduled = true;
    setImmediate(() => this.#flush());
  }

  #flush(): void {
    this.#scheduled = false;
    const target = this.#target;
    if (target === undefined) return;
    const batch = this.#queue.splice(0, this.#options.batch);
    try {
      for (const record of batch) target(record.subject, this.#encoder.encode(JSON.stringify(record.body)));
      this.published += batch.length;
    } catch (error) {
      this.#drop(batch.length);
      this.#options.onError?.(error);
    }
    this.#schedule();
  }
}

const READ_STALL_MS = 10_000;

export interface SubjectHistory<T> {
  records: T[];
  /** Messages of the subject in the stream (more than `records` when the read stopped at its limit). */
  total: number;
}

/**
 * Every message of `subject` in `stream`, oldest first, parsed as JSON (at most `limit`, the
 * oldest kept). Throws `inspection_history_missing` when the stream is not there.
 */
export async function readSubjectHistory<T>(nc: NatsConnection, stream: string, subject: string, limit = 10_000): Promise<SubjectHistory<T>> {
  const jsm = await jetstreamManager(nc);
  let info: StreamInfo;
  try {
    info = await jsm.streams.info(stream, { subjects_filter: subject });
  } catch (error) {
    if (error instanceof JetStreamApiError && (error.code === 10059 || error.code === 10014)) {
      throw new MiyabiError(ErrorCodes.InspectionHistoryMissing, `the inspection history stream ${stream} does not exist (deleted?); it is made again when the orchestra restarts`, { cause: error });
    }
    throw error;
  }
  const total = info.state.subjects?.[subject] ?? 0;
  const records: T[] = [];
  if (total === 0) return { records, total };
  const consumer = await jetstream(nc).consumers.get(stream, { deliver_policy: DeliverPolicy.All, filter_subjects: subject });
  const messages = await consumer.consume();
  // Messages aged out between the count and the read: nothing more will come, do not wait for ever.
  const stall = setTimeout(() => void messages.close(), READ_STALL_MS);
  try {
    for await (const message of messages) {
      try {
        records.push(message.json<T>());
      } catch {
        // Not JSON: not one of ours; skipped.
      }
      if (message.info.pending === 0 || records.length >= Math.min(limit, total)) break;
    }
  } finally {
    clearTimeout(stall);
    await messages.close();
  }
  return { records, total };
}
