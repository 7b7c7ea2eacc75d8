/**
 * The `membership` actor (cluster mode only, docs/CLUSTER.md "Members"): this node's entry in the
 * cluster's members bucket (src/cluster/members.ts).
 *
 * - At start it joins: the bucket's `cluster` key names what the cluster works (its tracker),
 *   written by the first node; a node that works something else is refused at start
 *   (`cluster_mismatch`): two clusters must not share one bucket.
 * - Every lease poll it writes its heartbeat (`node.<name>`: pid, role, epoch, config hash and
 *   parts), which `status` reads to show every node, a dead one as missing.
 * - While this node leads, it requires its own config of every node (`config`, written after the
 *   fence of its epoch) and says which nodes it refuses, naming the parts that differ.
 * - While the leader refuses this node, the node takes no tasks (its agent pools are stopped; they
 *   do not start at all when the refusal is known at start, since this actor is ready before
 *   `core` and `agents` start) and does not stand for the lease; when the refusal is lifted, the pools start.
 *
 * A clean stop writes the heartbeat once more with `stoppedAt`.
 */
import type { KV } from '@nats-io/kv';
import { leasePollMs, nodeNameOf } from '../config/sections/cluster.ts';
import { describeError, ErrorCodes, MiyabiError } from '../errors.ts';
import { actorLogger } from '../infra/observe/logger.ts';
import { LEADER_KEY } from '../cluster/leader-lease.ts';
import {
  CLUSTER_KEY,
  clusterConfigParts,
  CONFIG_KEY,
  configDifferences,
  configHash,
  describeRefusal,
  nodeKey,
  parseIdentity,
  parseReference,
  refusalOf,
  worksOn,
  type ClusterIdentity,
  type NodeRecord,
  type Refusal,
} from '../cluster/members.ts';
import { readNodeRecords } from '../cluster/node-records.ts';
import { parseLeaseRecord } from '../machines/leader-lease.ts';
import { fromRuntime, type ChildSpec } from '../supervisor/index.ts';
import type { OrchestraResources } from './resources.ts';

export interface MembershipInput {
  resources: OrchestraResources;
  /** The agent pools of this node, started again when a refusal is lifted. */
  pools: () => ChildSpec[];
}

export const membershipLogic = fromRuntime<MembershipInput>(({ resources, pools }, controls) => {
  const logger = actorLogger(resources.logger, 'membership');
  const { bus, config } = resources;
  const cluster = config.cluster;
  if (!bus) throw new Error('membership started without the bus');
  if (!cluster) throw new Error('membership started without a cluster: section');
  const node = nodeNameOf(cluster);
  const parts = clusterConfigParts(config);
  const hash = configHash(parts);
  const pollMs = leasePollMs(cluster.leaseTtlMs);
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  /** Per refused node, the hash this leader last said it refused (said once, not every poll). */
  const refusedSaid = new Map<string, string>();

  const heartbeat = (extra: Partial<NodeRecord> = {}): NodeRecord => ({
    node,
    pid: process.pid,
    startedAt: resources.startedAt.toISOString(),
    at: Date.now(),
    role: resources.clusterRefusal ? 'refused' : resources.leaderEpoch !== undefined ? 'leader' : 'follower',
    ...(resources.leaderEpoch !== undefined ? { epoch: resources.leaderEpoch } : {}),
    ...(resources.httpUrl ? { httpUrl: resources.httpUrl } : {}),
    hash,
    parts,
    ...(resources.clusterRefusal ? { refusal: resources.clusterRefusal } : {}),
    ...extra,
  });

  const readJson = async (kv: KV, key: string): Promise<unknown> => {
    const entry = await kv.get(key);
    if (entry === null || entry.operation !== 'PUT') return undefined;
    try {
      return entry.json();
    } catch {
      return undefined;
    }
  };

  /** The pools stop (no tasks taken) or start again (the refusal lifted). */
  const applyRefusal = async (refusal: Refusal | undefined): Promise<void> => {
    const was = resources.clusterRefusal;
    if (refusal && was && refusal.by === was.by && refusal.epoch === was.epoch && refusal.differences.join() === was.differences.join()) return;
    if (!refusal && !was) return;
    resources.clusterRefusal = refusal;
    const agents = resources.root()?.childSupervisor('agents');
    if (refusal) {
      logger.error({ by: refusal.by, epoch: refusal.epoch, differences: refusal.differences }, `${describeRefusal(refusal)}; taking no tasks`);
      for (const id of agents?.childIds() ?? []) await agents!.terminateChild(id);
      controls.setState('refused');
      return;
    }
    logger.info('no longer refused by the leader: starting the agent pools');
    for (const pool of pools()) if (agents && !agents.childIds().includes(pool.id)) await agents.startChild(pool);
    controls.setState('member');
  };

  /** As leader: require this node's config of every node, and say which nodes differ. */
  const lead = async (nodes: KV, epoch: number): Promise<void> => {
    const reference = parseReference(await readJson(nodes, CONFIG_KEY));
    if (!reference || reference.holder !== node || reference.epoch !== epoch || reference.hash !== hash) {
      await resources.fence?.();
      await nodes.put(CONFIG_KEY, JSON.stringify({ holder: node, epoch, hash, parts }));
      logger.info({ epoch, hash }, 'leader: every node must have this config');
    }
    for (const other of (await readNodeRecords(resources.nc!, nodes, bus.topology.nodesBucket)).values()) {
      if (other.node === node || other.stoppedAt !== undefined) continue;
      if (other.hash === hash || refusedSaid.get(other.node) === other.hash) continue;
      refusedSaid.set(other.node, other.hash);
      logger.warn({ refused: other.node, differences: configDifferences(parts, other.parts ?? {}) }, `refusing node ${other.node}: its config differs in ${configDifferences(parts, other.parts ?? {}).join(', ')}`);
    }
  };

  const poll = async (nodes: KV, lease: KV): Promise<void> => {
    const reference = parseReference(await readJson(nodes, CONFIG_KEY));
    const leader = parseLeaseRecord(await readJson(lease, LEADER_KEY));
    await applyRefusal(refusalOf({ node, hash, parts, reference, lease: leader, now: Date.now(), ttlMs: cluster.leaseTtlMs }));
    const epoch = resources.leaderEpoch;
    if (epoch !== undefined && !resources.clusterRefusal) await lead(nodes, epoch);
    await nodes.put(nodeKey(node), JSON.stringify(heartbeat()));
  };

  const loop = (nodes: KV, lease: KV) => {
    if (stopped) return;
    running = poll(nodes, lease)
      .catch((error: unknown) => logger.warn({ err: describeError(error) }, 'cluster membership poll failed'))
      .finally(() => {
        if (!stopped) timer = setTimeout(() => loop(nodes, lease), pollMs);
      });
  };

  let buckets: { nodes: KV; lease: KV } | undefined;
  void (async () => {
    const nodes = await bus.nodes();
    const lease = await bus.lease();
    await join(nodes, { works: worksOn(config), createdBy: node, createdAt: new Date().toISOString() });
    // The first poll before `ready`: a refusal known now keeps the agent pools from starting at all.
    await poll(nodes, lease);
    buckets = { nodes, lease };
    if (stopped) return;
    controls.setState(resources.clusterRefusal ? 'refused' : 'member', { ready: true });
    timer = setTimeout(() => loop(nodes, lease), pollMs);
  })().catch((error: unknown) => controls.fail(error));

  const stop = async () => {
    stopped = true;
    clearTimeout(timer);
    await running;
    if (buckets) await buckets.nodes.put(nodeKey(node), JSON.stringify(heartbeat({ stoppedAt: Date.now() }))).catch(() => undefined);
  };
  return {
    shutdown: () => void stop().finally(() => controls.done()),
    kill: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
});

/** Records the cluster's identity in a new bucket, or checks this node's against the one recorded. */
async function join(nodes: KV, mine: ClusterIdentity): Promise<void> {
  let recorded: ClusterIdentity | undefined;
  for (let attempt = 0; attempt < 2 && recorded === undefined; attempt++) {
    const entry = await nodes.get(CLUSTER_KEY);
    if (entry !== null && entry.operation === 'PUT') recorded = parseIdentity(safeJson(entry.string()));
    if (recorded !== undefined) break;
    // A new bucket: this node makes it the cluster's (two first nodes at once: one create lands, the other reads it).
    try {
      await nodes.create(CLUSTER_KEY, JSON.stringify(mine));
      return;
    } catch {
      // Made by another node meanwhile: read again.
    }
  }
  if (recorded === undefined) throw new MiyabiError(ErrorCodes.ClusterMismatch, `the cluster's bucket has an unreadable identity under "${CLUSTER_KEY}"`);
  if (recorded.works !== mine.works) {
    throw new MiyabiError(
      ErrorCodes.ClusterMismatch,
      `refused to join: the cluster of this NATS account works ${recorded.works} (made by node ${recorded.createdBy} at ${recorded.createdAt}), ` +
        `this node works ${mine.works}. Two clusters must not share one NATS account's buckets: give each its own NATS account (or server), ` +
        'or, if the old cluster is gone for good, delete its buckets (nats kv del miyabi-nodes)',
    );
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function membershipChild(resources: OrchestraResources, pools: () => ChildSpec[]): ChildSpec<typeof membershipLogic> {
  return { id: 'membership', logic: membershipLogic, input: { resources, pools }, restart: 'permanent', shutdown: 5_000 };
}
