/**
 * What `miyabi-orchestra bus streams` and `bus tail` show, for hosts without the `nats` CLI, and
 * how much of the JetStream store the account uses (for the health monitor).
 */
import type { JetStreamManager, StreamInfo } from '@nats-io/jetstream';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { describeError } from '../../errors.ts';
import { decodeEnvelope, type Envelope } from './envelope.ts';

/** The account's JetStream usage, from the server; a limit is undefined when the account has none. */
export interface StoreUsage {
  fileBytes: number;
  fileLimitBytes: number | undefined;
  memoryBytes: number;
  memoryLimitBytes: number | undefined;
}

export async function storeUsage(jsm: JetStreamManager): Promise<StoreUsage> {
  const info = await jsm.getAccountInfo();
  const limit = (value: number | undefined) => (value !== undefined && value > 0 ? value : undefined);
  return { fileBytes: info.storage, fileLimitBytes: limit(info.limits.max_storage), memoryBytes: info.memory, memoryLimitBytes: limit(info.limits.max_memory) };
}

export interface ConsumerSummary {
  name: string;
  filterSubject?: string;
  /** Messages not yet delivered to this consumer. */
  pending: number;
  /** Delivered, not yet acknowledged. */
  ackPending: number;
  /** Messages delivered more than once. */
  redelivered: number;
  /** Pull requests waiting for messages (idle consumer instances). */
  waiting: number;
  deliveredSeq: number;
  ackFloorSeq: number;
}

export interface StreamSummary {
  name: string;
  subjects: string[];
  storage: string;
  messages: number;
  bytes: number;
  firstSeq: number;
  lastSeq: number;
  consumers: ConsumerSummary[];
}

/** Every stream of the account (bus streams and the KV bucket's among them), by name. */
export async function summarizeStreams(jsm: JetStreamManager): Promise<StreamSummary[]> {
  const infos: StreamInfo[] = [];
  for await (const info of jsm.streams.list()) infos.push(info);
  infos.sort((a, b) => a.config.name.localeCompare(b.config.name));
  const summaries: StreamSummary[] = [];
  for (const info of infos) {
    const consumers: ConsumerSummary[] = [];
    for await (const ci of jsm.consumers.list(info.config.name)) {
      consumers.push({
        name: ci.name,
        ...(ci.config.filter_subject ? { filterSubject: ci.config.filter_subject } : {}),
        pending: ci.num_pending,
        ackPending: ci.num_ack_pending,
        redelivered: ci.num_redelivered,
        waiting: ci.num_waiting,
        deliveredSeq: ci.delivered.stream_seq,
        ackFloorSeq: ci.ack_floor.stream_seq,
      });
    }
    consumers.sort((a, b) => a.name.localeCompare(b.name));
    summaries.push({
      name: info.config.name,
      subjects: info.config.subjects ?? [],
      storage: info.config.storage,
      messages: info.state.messages,
      bytes: info.state.bytes,
      firstSeq: info.state.first_seq,
      lastSeq: info.state.last_seq,
      consumers,
    });
  }
  return summaries;
}

export interface TailMessage {
  subject: string;
  data: Uint8Array;
  /** Set when the message is a valid envelope. */
  envelope?: Envelope<unknown>;
  /** Why it is not, otherwise. */
  error?: string;
}

export interface TailHandle {
  stop(): Promise<void>;
}

/**
 * A plain core-NATS subscription: sees every publish on the subjects, JetStream ones included,
 * stores nothing and acks nothing. A throwing `onMessage` is logged, the tail goes on.
 */
export function tailSubjects(
  nc: NatsConnection,
  subjectFilter: string,
  onMessage: (message: TailMessage) => void,
  logger: Logger,
): TailHandle {
  const sub: Subscription = nc.subscribe(subjectFilter, {
    callback: (error: Error | null, msg: Msg) => {
      if (error) {
        logger.warn({ subject: subjectFilter, err: describeError(error) }, 'bus tail subscription error');
        return;
      }
      const decoded = decodeEnvelope(msg.data);
      const message: TailMessage = decoded.ok
        ? { subject: msg.subject, data: msg.data, envelope: decoded.envelope }
        : { subject: msg.subject, data: msg.data, error: `${decoded.reason}: ${decoded.error}` };
      try {
        onMessage(message);
      } catch (handlerError) {
        logger.warn({ subject: msg.subject, err: describeError(handlerError) }, 'bus tail handler failed');
      }
    },
  });
  return {
    async stop() {
      if (sub.isClosed()) return;
      if (nc.isClosed()) return;
      await sub.drain().catch(() => undefined);
    },
  };
}
