/**
 * The KV buckets of the bus (the table in ./topology.ts), created or opened idempotently, each
 * with the topology's replicas, storage and duplicate window, and its own history, age and size.
 */
import { DiscardPolicy, RetentionPolicy, StorageType, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { conflictError, isNotFound, nanos, topologyError, type BusTopology } from './topology.ts';

/** Creates (or opens) the KV bucket and gives its stream the topology's duplicate window. */
export async function ensureKv(nc: NatsConnection, jsm: JetStreamManager, topology: BusTopology, logger?: Logger): Promise<KV> {
  return ensureBucket(nc, jsm, topology, { bucket: topology.kvBucket, history: 5, maxAgeMs: 0, maxBytes: topology.maxBytes.state }, logger);
}

/** Creates (or opens) the ledger of what happened once: one entry per key, each kept `onceMaxAgeMs`. */
export async function ensureOnceKv(nc: NatsConnection, jsm: JetStreamManager, topology: BusTopology, logger?: Logger): Promise<KV> {
  return ensureBucket(nc, jsm, topology, { bucket: topology.onceBucket, history: 1, maxAgeMs: topology.onceMaxAgeMs, maxBytes: topology.maxBytes.once }, logger);
}

/**
 * Creates (or opens) the bucket of the leader lease: the latest entry of each key is all that
 * counts, and reads are answered by the stream's leader alone (no direct get: with replicas, a
 * direct get may be answered by a replica behind the leader, and a lease read stale makes its
 * holder's renewal fail and depose it for nothing).
 */
export async function ensureLeaseKv(nc: NatsConnection, jsm: JetStreamManager, topology: BusTopology, logger?: Logger): Promise<KV> {
  return ensureBucket(nc, jsm, topology, { bucket: topology.leaseBucket, history: 1, maxAgeMs: 0, maxBytes: topology.maxBytes.lease, direct: false }, logger);
}

/**
 * Creates (or opens) the bucket of a cluster's members: one entry kept per key (a heartbeat
 * overwrites the last); no direct gets, as the lease's: a replica behind the stream leader would
 * not yet have a node's first heartbeat, and `status` would not know the node.
 */
export async function ensureNodesKv(nc: NatsConnection, jsm: JetStreamManager, topology: BusTopology, logger?: Logger): Promise<KV> {
  return ensureBucket(nc, jsm, topology, { bucket: topology.nodesBucket, history: 1, maxAgeMs: 0, maxBytes: topology.maxBytes.nodes, direct: false }, logger);
}

/**
 * Creates (or opens) the bucket of kept answers (src/runner/kept-answers.ts): one entry per task,
 * written once, kept as long as the tasks stream keeps a task (its max age, 7 days by default:
 * a task still in the stream may still be delivered again, by a server that lost an ack or after
 * an outage, far past the ack wait × deliveries of a redelivery). Read from the stream leader
 * only (no direct get), like the lease: a replica behind it must not make an answered task look
 * unanswered. When full the oldest answers go (discard old): a task that old is long acked, and a
 * refused answer would stall its runner.
 */
export async function ensureAnswersKv(nc: NatsConnection, jsm: JetStreamManager, topology: BusTopology, logger?: Logger): Promise<KV> {
  return ensureBucket(nc, jsm, topology, { bucket: topology.answersBucket, history: 1, maxAgeMs: topology.maxAgeMs.tasks, maxBytes: topology.maxBytes.answers, direct: false, discardOld: true }, logger);
}

/** The stream of a KV bucket as the client makes it (`@nats-io/kv`), but dropping its oldest entries when full. */
function kvStreamConfig(topology: BusTopology, wanted: { bucket: string; history: number; maxAgeMs: number; maxBytes: number; direct?: boolean }): Partial<StreamConfig> & { name: string } {
  return {
    name: `KV_${wanted.bucket}`,
    subjects: [`$KV.${wanted.bucket}.>`],
    retention: RetentionPolicy.Limits,
    storage: topology.storage === 'memory' ? StorageType.Memory : StorageType.File,
    num_replicas: topology.replicas,
    max_msgs_per_subject: wanted.history,
    max_bytes: wanted.maxBytes,
    max_age: nanos(wanted.maxAgeMs),
    duplicate_window: nanos(topology.duplicateWindowMs),
    discard: DiscardPolicy.Old,
    allow_rollup_hdrs: true,
    deny_delete: true,
    allow_direct: wanted.direct ?? false,
  };
}

/** Adds the stream unless it exists (as it is: what differs is the caller's to update). */
async function addOnce(jsm: JetStreamManager, config: Partial<StreamConfig> & { name: string }): Promise<void> {
  try {
    await jsm.streams.info(config.name);
  } catch (error) {
    if (!isNotFound(error)) throw error;
    await jsm.streams.add(config);
  }
}

async function ensureBucket(
  nc: NatsConnection,
  jsm: JetStreamManager,
  topology: BusTopology,
  wanted: {
    bucket: string;
    history: number;
    maxAgeMs: number;
    maxBytes: number;
    /** Default: the client's choice (direct gets on). */
    direct?: boolean;
    /** Drop the oldest entries when full rather than refuse a write (the client's default). */
    discardOld?: boolean;
  },
  logger?: Logger,
): Promise<KV> {
  const what = `KV bucket ${wanted.bucket}`;
  try {
    // The client makes a bucket that refuses when full; one that drops its oldest is made here
    // first, whole, so that nodes starting at once all add the same config (an add of the same
    // config is a no-op) and none has to change it under the others.
    if (wanted.discardOld) await addOnce(jsm, kvStreamConfig(topology, wanted));
    const kv = await new Kvm(nc).create(wanted.bucket, {
      storage: topology.storage === 'memory' ? StorageType.Memory : StorageType.File,
      replicas: topology.replicas,
      history: wanted.history,
      max_bytes: wanted.maxBytes,
      ...(wanted.maxAgeMs > 0 ? { ttl: wanted.maxAgeMs } : {}),
      ...(wanted.direct === undefined ? {} : { allow_direct: wanted.direct }),
    });
    const status = await kv.status();
    const config = status.streamInfo.config;
    const wantedStorage = topology.storage === 'memory' ? StorageType.Memory : StorageType.File;
    if (config.storage !== wantedStorage) throw conflictError(what, [`storage ${config.storage} (wanted ${wantedStorage})`]);
    const updates: { duplicate_window?: number; max_age?: number; max_bytes?: number; num_replicas?: number; allow_direct?: boolean; discard?: DiscardPolicy } = {};
    if (config.duplicate_window !== nanos(topology.duplicateWindowMs)) updates.duplicate_window = nanos(topology.duplicateWindowMs);
    if (config.max_age !== nanos(wanted.maxAgeMs)) updates.max_age = nanos(wanted.maxAgeMs);
    if (config.max_bytes !== wanted.maxBytes) updates.max_bytes = wanted.maxBytes;
    // A bucket made before the node joined a cluster (one replica) gets the cluster's count.
    if (config.num_replicas !== topology.replicas) updates.num_replicas = topology.replicas;
    if (wanted.direct !== undefined && (config.allow_direct ?? false) !== wanted.direct) updates.allow_direct = wanted.direct;
    if (wanted.discardOld && config.discard !== DiscardPolicy.Old) updates.discard = DiscardPolicy.Old;
    if (Object.keys(updates).length > 0) {
      await jsm.streams.update(config.name, updates);
      logger?.info({ bucket: wanted.bucket, stream: config.name, updated: Object.keys(updates) }, 'bus KV bucket updated');
      // The handle chose direct gets or not when it opened the bucket: open it again to read as now configured.
      if (updates.allow_direct !== undefined) return await new Kvm(nc).open(wanted.bucket);
    }
    return kv;
  } catch (error) {
    throw topologyError(`cannot ensure ${what}`, error);
  }
}
