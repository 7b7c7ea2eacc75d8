/**
 * The `leadership` actor (cluster mode only, docs/CLUSTER.md): this node's part in the leader
 * lease (src/cluster/leader-lease.ts), and the leader-only work under it. When the lease elects
 * this node, the `leader` subtree (the issue watcher, the workflow, the reporter: given by the
 * assembly) is started as a child of `core`; when it is deposed, that subtree is stopped. Every
 * write the subtree makes passes the fence of the epoch it was started for (./leader-fence.ts):
 * a leader paused past its lease and replaced is refused at its first write and steps down.
 *
 * Starts and stops of the subtree run one at a time, in the order the lease changed. A clean
 * shutdown stops the subtree first (it was started after this actor, so `core` stops it first),
 * then the lease's polls, then hands the lease over at once (`release`) instead of after its TTL.
 */
import { describeError } from '../errors.ts';
import { actorLogger } from '../infra/observe/logger.ts';
import { kvLeaseStore, LeaderLease } from '../cluster/leader-lease.ts';
import { nodeNameOf } from '../config/sections/cluster.ts';
import { fromRuntime, type ChildSpec } from '../supervisor/index.ts';
import { FenceGate } from './leader-fence.ts';
import type { OrchestraResources } from './resources.ts';

/** The id of the leader-only subtree under `core`. */
export const LEADER_SUBTREE = 'leader';

export interface LeadershipInput {
  resources: OrchestraResources;
  /** The leader-only subtree, built when this node is elected (its actors read `resources.fence` as they start). */
  leaderSubtree: () => ChildSpec;
}

export const leadershipLogic = fromRuntime<LeadershipInput>(({ resources, leaderSubtree }, controls) => {
  const logger = actorLogger(resources.logger, 'leadership');
  const { bus, nc, config } = resources;
  const cluster = config.cluster;
  if (!bus || !nc) throw new Error('leadership started without the bus');
  if (!cluster) throw new Error('leadership started without a cluster: section');
  const core = () => resources.root()?.childSupervisor('core');
  let lease: LeaderLease | undefined;
  let stopping = false;
  let leadingEpoch: number | undefined;
  // Starts and stops of the subtree, in the order the lease changed.
  let changes: Promise<void> = Promise.resolve();
  const serially = (step: () => Promise<void>) => {
    changes = changes.then(step).catch((error: unknown) => logger.error({ err: describeError(error) }, 'leader subtree change failed'));
  };

  const stopLeading = (why: string) =>
    serially(async () => {
      if (leadingEpoch === undefined) return;
      const epoch = leadingEpoch;
      leadingEpoch = undefined;
      resources.leaderEpoch = undefined;
      resources.leaderSince = undefined;
      const supervisor = core();
      if (supervisor?.childIds().includes(LEADER_SUBTREE)) await supervisor.terminateChild(LEADER_SUBTREE);
      logger.info({ epoch, why }, 'leader-only work stopped');
    });

  const startLeading = (epoch: number) =>
    serially(async () => {
      if (stopping || lease === undefined || leadingEpoch === epoch) return;
      const current = lease;
      // Bound to this epoch: a subtree of an earlier one never writes on this one's lease.
      const gate = new FenceGate(() => current.fence(epoch));
      resources.fence = gate.confirm;
      resources.leaderEpoch = epoch;
      resources.leaderSince = Date.now();
      leadingEpoch = epoch;
      logger.info({ epoch }, 'elected: starting the leader-only work');
      await core()?.startChild(leaderSubtree());
    });

  void (async () => {
    const store = kvLeaseStore(nc, await bus.lease(), { bucket: bus.topology.leaseBucket });
    if (stopping) return;
    lease = new LeaderLease({
      store,
      node: nodeNameOf(cluster),
      ttlMs: cluster.leaseTtlMs,
      logger: resources.logger,
      // A node the leader refused (its config differs) follows and never takes the lease: docs/CLUSTER.md "Members".
      mayTake: () => resources.clusterRefusal === undefined,
    });
    resources.lease = lease;
    lease.onChange((change) => {
      if (change.kind === 'elected') startLeading(change.epoch);
      else if (change.kind === 'deposed') stopLeading(change.leader ? `deposed: ${change.leader.holder} leads epoch ${change.leader.epoch}` : 'deposed');
      controls.setState(lease?.state.role === 'leader' ? 'leading' : 'following');
    });
    lease.start();
    controls.setState('following', { ready: true });
  })().catch((error: unknown) => controls.fail(error));

  const stop = async () => {
    stopping = true;
    // Not terminated from here: `core`, stopping, has stopped the subtree already (it was started
    // after this actor), and a terminateChild would wait behind that very shutdown.
    await changes;
    leadingEpoch = undefined;
    resources.leaderEpoch = undefined;
    resources.leaderSince = undefined;
    const current = lease;
    if (!current) return;
    await current.stop();
    await current.release().catch((error: unknown) => logger.warn({ err: describeError(error) }, 'leader lease not released; it expires by itself'));
    if (resources.lease === current) resources.lease = undefined;
  };
  return {
    shutdown: () => void stop().finally(() => controls.done()),
    kill: () => {
      stopping = true;
      void lease?.stop();
    },
  };
});

export function leadershipChild(resources: OrchestraResources, leaderSubtree: () => ChildSpec): ChildSpec<typeof leadershipLogic> {
  return { id: 'leadership', logic: leadershipLogic, input: { resources, leaderSubtree }, restart: 'permanent', shutdown: 15_000 };
}
