/**
 * The streams, consumers and KV bucket of the bus, created idempotently.
 *
 * | stream         | subjects          | holds                                             |
 * | -------------- | ----------------- | ------------------------------------------------- |
 * | MIYABI_TASKS   | `miyabi.tasks.>`  | work for roles; one durable pull consumer per role |
 * | MIYABI_EVENTS  | `miyabi.events.>` | facts that happened, for whoever listens           |
 * | MIYABI_DLQ     | `miyabi.dlq.>`    | dead letters: `miyabi.dlq.<original subject>`      |
 * | KV miyabi-state| (`$KV.miyabi-state.>`) | durable state                                 |
 * | KV miyabi-once | (`$KV.miyabi-once.>`) | what must happen once for good (a webhook       |
 * |                |                   | delivery, a comment command), kept `onceMaxAgeMs` |
 * | KV miyabi-cluster | (`$KV.miyabi-cluster.>`) | the leader lease of a cluster; made only by   |
 * |                |                   | a node that takes part in one (docs/CLUSTER.md)    |
 * | KV miyabi-nodes | (`$KV.miyabi-nodes.>`) | a cluster's identity and each node's heartbeat |
 * |                |                   | and config; cluster mode only (docs/CLUSTER.md)    |
 * | KV miyabi-answers | (`$KV.miyabi-answers.>`) | each task's kept answer, for every node's      |
 * |                |                   | runners (src/runner/kept-answers.ts); kept as long |
 * |                |                   | as the tasks stream keeps a task                   |
 *
 * Limits retention (messages stay until `maxAgeMs`, so an operator can read what was done),
 * file storage unless told otherwise, and a duplicate window on every stream (Nats-Msg-Id dedupe).
 * Every stream and bucket has `replicas` replicas (1 on a single server; 3 on a NATS cluster
 * survives the loss of one server of three) and is bounded by age and by size (`maxBytes`). What happens at the size
 * limit is chosen per stream (`DISCARD`, docs/BUS.md "Limits"): the tasks and events streams
 * refuse a new message (discard new: the publisher sees the error and retries, and nothing a
 * consumer has not read is dropped), the dead letters drop their oldest (discard old: they are
 * already given up on, and a new dead letter must never be refused). The KV buckets refuse a
 * write when full (the client's default for them), which fails the step loudly.
 *
 * Ensuring is: look the stream up; create it when missing; update what can be updated when it
 * differs (duplicate window, max age, subjects); refuse with BusTopologyConflict what cannot be
 * (storage, retention): that needs an operator's decision, never a silent delete.
 */
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type ConsumerInfo,
  type JetStreamManager,
  type StreamConfig,
  type StreamInfo,
} from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { describeError, ErrorCodes, MiyabiError } from '../../errors.ts';

export interface BusTopology {
  /** First token of every bus subject. */
  prefix: string;
  streams: { tasks: string; events: string; dlq: string };
  kvBucket: string;
  /** The ledger of what happened once (webhook deliveries, comment commands): entries expire after `onceMaxAgeMs`. */
  onceBucket: string;
  /** Longer than GitHub lets anyone redeliver a webhook delivery (3 days). */
  onceMaxAgeMs: number;
  /** The leader lease of a cluster (src/cluster/leader-lease.ts): one key, one entry kept. */
  leaseBucket: string;
  /** A cluster's members (src/cluster/members.ts): its identity (`cluster`), each node's heartbeat (`node.<name>`), the leader's config (`config`). */
  nodesBucket: string;
  /** Each task's kept answer (src/runner/kept-answers.ts): one entry per task, aged out with the tasks stream's max age. */
  answersBucket: string;
  storage: 'file' | 'memory';
  duplicateWindowMs: number;
  /** Per stream; 0 keeps messages forever. */
  maxAgeMs: { tasks: number; events: number; dlq: number };
  /** Per stream and bucket (`state`: the KV bucket, `once`: the ledger, `lease`: the lease's, `answers`: the kept answers', `nodes`: the members'); -1 is unlimited. */
  maxBytes: { tasks: number; events: number; dlq: number; state: number; once: number; lease: number; answers: number; nodes: number };
  /** Of every stream and KV bucket. */
  replicas: number;
}

export type BusTopologyOptions = Partial<Omit<BusTopology, 'streams' | 'maxAgeMs' | 'maxBytes'>> & {
  streams?: Partial<BusTopology['streams']>;
  maxAgeMs?: Partial<BusTopology['maxAgeMs']>;
  maxBytes?: Partial<BusTopology['maxBytes']>;
};

const DAY_MS = 86_400_000;
const MIB = 1024 * 1024;

export const DEFAULT_BUS_TOPOLOGY: BusTopology = {
  prefix: 'miyabi',
  streams: { tasks: 'MIYABI_TASKS', events: 'MIYABI_EVENTS', dlq: 'MIYABI_DLQ' },
  kvBucket: 'miyabi-state',
  onceBucket: 'miyabi-once',
  onceMaxAgeMs: 7 * DAY_MS,
  leaseBucket: 'miyabi-cluster',
  answersBucket: 'miyabi-answers',
  nodesBucket: 'miyabi-nodes',
  storage: 'file',
  duplicateWindowMs: 120_000,
  maxAgeMs: { tasks: 7 * DAY_MS, events: 7 * DAY_MS, dlq: 30 * DAY_MS },
  maxBytes: { tasks: 256 * MIB, events: 256 * MIB, dlq: 64 * MIB, state: 128 * MIB, once: 32 * MIB, lease: MIB, answers: 64 * MIB, nodes: 8 * MIB },
  replicas: 1,
};

const UNLIMITED_BYTES: BusTopology['maxBytes'] = { tasks: -1, events: -1, dlq: -1, state: -1, once: -1, lease: -1, answers: -1, nodes: -1 };

export function resolveTopology(options: BusTopologyOptions = {}): BusTopology {
  return {
    ...DEFAULT_BUS_TOPOLOGY,
    // A topology of its own (a test's) gets a ledger of its own beside its state bucket.
    onceBucket: options.kvBucket === undefined ? DEFAULT_BUS_TOPOLOGY.onceBucket : `${options.kvBucket}-once`,
    leaseBucket: options.kvBucket === undefined ? DEFAULT_BUS_TOPOLOGY.leaseBucket : `${options.kvBucket}-cluster`,
    nodesBucket: options.kvBucket === undefined ? DEFAULT_BUS_TOPOLOGY.nodesBucket : `${options.kvBucket}-nodes`,
    answersBucket: options.kvBucket === undefined ? DEFAULT_BUS_TOPOLOGY.answersBucket : `${options.kvBucket}-answers`,
    ...options,
    streams: { ...DEFAULT_BUS_TOPOLOGY.streams, ...options.streams },
    maxAgeMs: { ...DEFAULT_BUS_TOPOLOGY.maxAgeMs, ...options.maxAgeMs },
    // JetStream reserves a stream's max_bytes against the server's store: memory streams (tests,
    // benchmarks, many to a server) reserve nothing unless told to.
    maxBytes: { ...(options.storage === 'memory' ? UNLIMITED_BYTES : DEFAULT_BUS_TOPOLOGY.maxBytes), ...options.maxBytes },
  };
}

export type StreamRole = keyof BusTopology['streams'];

/** `miyabi.tasks.>` and so on: the wildcard subject each stream captures. */
export function streamSubject(topology: BusTopology, role: StreamRole): string {
  return `${topology.prefix}.${role}.>`;
}

/** Where a dead message from `subject` goes: `miyabi.dlq.miyabi.tasks.codegen`. */
export function deadLetterSubject(topology: BusTopology, subject: string): string {
  return `${topology.prefix}.dlq.${subject}`;
}

export const nanos = (ms: number): number => Math.round(ms * 1_000_000);

export type WantedStream = Pick<
  StreamConfig,
  'name' | 'subjects' | 'retention' | 'storage' | 'discard' | 'duplicate_window' | 'max_age' | 'max_bytes' | 'num_replicas'
>;

/** At its size limit, a stream refuses new messages (tasks, events) or drops its oldest (dead letters). */
export const DISCARD: Record<StreamRole, DiscardPolicy> = {
  tasks: DiscardPolicy.New,
  events: DiscardPolicy.New,
  dlq: DiscardPolicy.Old,
};

export function streamConfigs(topology: BusTopology): WantedStream[] {
  const roles: StreamRole[] = ['tasks', 'events', 'dlq'];
  return roles.map((role) => ({
    name: topology.streams[role],
    subjects: [streamSubject(topology, role)],
    retention: RetentionPolicy.Limits,
    storage: topology.storage === 'memory' ? StorageType.Memory : StorageType.File,
    discard: DISCARD[role],
    duplicate_window: nanos(topology.duplicateWindowMs),
    max_age: nanos(topology.maxAgeMs[role]),
    max_bytes: topology.maxBytes[role],
    num_replicas: topology.replicas,
  }));
}

export interface ConfigDrift<T> {
  /** Fields that differ and can only change by recreating (an operator's decision). */
  conflicts: string[];
  /** Fields that differ and can be updated in place, with their wanted values. */
  updates: Partial<T>;
}

function sameSet(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  const left = new Set(a ?? []);
  const right = new Set(b ?? []);
  return left.size === right.size && [...left].every((x) => right.has(x));
}

/** Pure: what differs between the stream we want and the one the server has. */
export function streamDrift(wanted: WantedStream, actual: Partial<StreamConfig>): ConfigDrift<WantedStream> {
  const conflicts: string[] = [];
  const updates: Partial<WantedStream> = {};
  for (const field of ['retention', 'storage'] as const) {
    if (actual[field] !== wanted[field]) conflicts.push(`${field} ${actual[field]} (wanted ${wanted[field]})`);
  }
  if (!sameSet(actual.subjects, wanted.subjects)) updates.subjects = wanted.subjects;
  for (const field of ['discard', 'duplicate_window', 'max_age', 'max_bytes', 'num_replicas'] as const) {
    if (actual[field] !== wanted[field]) (updates as Record<string, unknown>)[field] = wanted[field];
  }
  return { conflicts, updates };
}

export type WantedConsumer = Required<
  Pick<ConsumerConfig, 'durable_name' | 'ack_policy' | 'deliver_policy' | 'ack_wait' | 'max_deliver' | 'max_ack_pending' | 'description'>
> &
  Pick<ConsumerConfig, 'filter_subject'>;

export function consumerConfig(options: {
  durable: string;
  filterSubject?: string;
  ackWaitMs: number;
  maxAckPending: number;
  maxDeliver: number;
}): WantedConsumer {
  return {
    durable_name: options.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(options.ackWaitMs),
    // The bus, not the server, enforces the delivery limit: a message is dead-lettered, never
    // silently abandoned by the server (see consumer.ts).
    max_deliver: -1,
    max_ack_pending: options.maxAckPending,
    description: `miyabi bus consumer; dead letter after ${options.maxDeliver} deliveries`,
    ...(options.filterSubject ? { filter_subject: options.filterSubject } : {}),
  };
}

export function consumerDrift(wanted: WantedConsumer, actual: Partial<ConsumerConfig>): ConfigDrift<WantedConsumer> {
  const conflicts: string[] = [];
  const updates: Partial<WantedConsumer> = {};
  for (const field of ['ack_policy', 'deliver_policy', 'filter_subject'] as const) {
    if ((actual[field] ?? '') !== (wanted[field] ?? '')) conflicts.push(`${field} ${actual[field] ?? '(none)'} (wanted ${wanted[field] ?? '(none)'})`);
  }
  for (const field of ['ack_wait', 'max_deliver', 'max_ack_pending', 'description'] as const) {
    if (actual[field] !== wanted[field]) (updates as Record<string, unknown>)[field] = wanted[field];
  }
  return { conflicts, updates };
}

const STREAM_NAME_IN_USE = 10058;

export function isNotFound(error: unknown): boolean {
  return error instanceof JetStreamApiError && (error.code === 10059 || error.code === 10014);
}

/** A JetStream API refusal becomes a conflict; anything else (timeouts, no JetStream) says so. */
export function topologyError(what: string, error: unknown): MiyabiError {
  if (error instanceof MiyabiError) return error;
  const refused = error instanceof JetStreamApiError;
  const detail = describeError(error);
  // Each stream and bucket reserves its max_bytes against the account's JetStream limit.
  const hint = !refused
    ? ' (is the server running with JetStream, -js?)'
    : /insufficient storage/i.test(detail)
      ? ' (the streams and buckets reserve bus.maxBytes: lower bus.maxBytes.* in the config, or raise the account\'s JetStream limit)'
      : '';
  return new MiyabiError(
    refused ? ErrorCodes.BusTopologyConflict : ErrorCodes.NatsUnreachable,
    `${what}: ${detail}${hint}`,
    { cause: error },
  );
}

export function conflictError(what: string, conflicts: string[]): MiyabiError {
  return new MiyabiError(
    ErrorCodes.BusTopologyConflict,
    `${what} exists with ${conflicts.join(', ')}; change the config back, or delete it (nats stream rm / nats consumer rm) to recreate it`,
  );
}

export async function ensureStream(jsm: JetStreamManager, wanted: WantedStream, logger?: Logger): Promise<StreamInfo> {
  const what = `stream ${wanted.name}`;
  try {
    let info: StreamInfo;
    try {
      info = await jsm.streams.info(wanted.name);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      try {
        const created = await jsm.streams.add({ ...wanted });
        logger?.info({ stream: wanted.name, subjects: wanted.subjects, storage: wanted.storage }, 'bus stream created');
        return created;
      } catch (addError) {
        // Another process created it between our lookup and our create: check it like any other.
        if (!(addError instanceof JetStreamApiError && addError.code === STREAM_NAME_IN_USE)) throw addError;
        info = await jsm.streams.info(wanted.name);
      }
    }
    const drift = streamDrift(wanted, info.config);
    if (drift.conflicts.length > 0) throw conflictError(what, drift.conflicts);
    if (Object.keys(drift.updates).length === 0) return info;
    const updated = await jsm.streams.update(wanted.name, drift.updates);
    logger?.info({ stream: wanted.name, updated: Object.keys(drift.updates) }, 'bus stream updated');
    return updated;
  } catch (error) {
    throw topologyError(`cannot ensure ${what}`, error);
  }
}

export async function ensureConsumer(
  jsm: JetStreamManager,
  stream: string,
  wanted: WantedConsumer,
  logger?: Logger,
): Promise<ConsumerInfo> {
  const what = `consumer ${wanted.durable_name} on stream ${stream}`;
  try {
    let info: ConsumerInfo;
    try {
      info = await jsm.consumers.info(stream, wanted.durable_name);
    } catch (error) {
      if (!isNotFound(error) || (error instanceof JetStreamApiError && error.code === 10059)) throw error;
      const created = await jsm.consumers.add(stream, { ...wanted });
      logger?.info({ stream, durable: wanted.durable_name, filter: wanted.filter_subject }, 'bus consumer created');
      return created;
    }
    const drift = consumerDrift(wanted, info.config);
    if (drift.conflicts.length > 0) throw conflictError(what, drift.conflicts);
    if (Object.keys(drift.updates).length === 0) return info;
    const updated = await jsm.consumers.update(stream, wanted.durable_name, drift.updates);
    logger?.info({ stream, durable: wanted.durable_name, updated: Object.keys(drift.updates) }, 'bus consumer updated');
    return updated;
  } catch (error) {
    throw topologyError(`cannot ensure ${what}`, error);
  }
}
