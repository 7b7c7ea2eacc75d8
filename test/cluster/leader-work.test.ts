/**
 * Leader-only work (src/actors/leadership.ts, docs/CLUSTER.md) with three whole orchestras in this
 * process, each a node of one real three-server NATS cluster (R3), each with its own data
 * directory and the same issue directory and workspace repository:
 *
 * - exactly one node runs the `leader` subtree (issue watcher, workflow); the others run none of
 *   it, and every node runs its own bus, panes, pools and health monitor;
 * - the leader's writes pass the fence: a lease taken from under it (what a replacement does to a
 *   leader paused past its TTL) makes its next write fail with `lease_lost`, and its leader-only
 *   work stops; a follower leads and starts it;
 * - a leader that stops cleanly hands over: another node leads and runs the workflow;
 * - without a `cluster:` section the tree is the single node's: the watcher and the workflow
 *   under `core`, no `leadership`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream } from '@nats-io/jetstream';
import { loadConfig } from '../../src/config/load.ts';
import { ErrorCodes } from '../../src/errors.ts';
import { startOrchestra, type Orchestra } from '../../src/orchestra/orchestra.ts';
import { buildTree } from '../../src/orchestra/tree.ts';
import { flattenTree } from '../../src/supervisor/index.ts';
import { tempDir, type TempDir } from '../support/cli.ts';
import { startNatsCluster, type TestNatsCluster } from '../support/nats-cluster.ts';
import { clusterNodeConfig, prepareClusterDir } from '../support/cluster-node.ts';
import { waitFor } from '../support/wait.ts';

const TTL_MS = 1_500;

describe('leader-only work on a cluster of three nodes', () => {
  let cluster: TestNatsCluster;
  let dir: TempDir;
  const nodes: Orchestra[] = [];

  const configFor = async (name: string, extra: Record<string, unknown> = {}) =>
    loadConfig(await dir.file(`${name}.yaml`, clusterNodeConfig(dir.path, cluster.urls, name, TTL_MS, extra)));
  const paths = (node: Orchestra) => flattenTree(node.inspect()).map((entry) => entry.path);
  const runsLeaderWork = (node: Orchestra) => paths(node).some((path) => path.endsWith('core/leader/workflow/lifecycles'));
  const leaders = () => nodes.filter((node) => node.resources.lease?.isLeader() && runsLeaderWork(node));

  beforeAll(async () => {
    cluster = await startNatsCluster();
    dir = await tempDir('miyabi-leader-work-');
    await prepareClusterDir(dir.path);
    for (const name of ['a', 'b', 'c']) nodes.push(await startOrchestra(await configFor(name), { logStream: false }));
  }, 60_000);

  afterAll(async () => {
    await Promise.all(nodes.map((node) => node.stop('test over')));
    await cluster?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  it('runs the watcher and the workflow on the one node holding the lease, and the node-local actors on every node', async () => {
    await waitFor(() => leaders().length === 1, { timeoutMs: 20_000, what: 'one node running the leader-only work' });
    for (const node of nodes) {
      expect(paths(node)).toEqual(expect.arrayContaining(['root/bus', 'root/panes', 'root/core/leadership', 'root/core/health-monitor', 'root/core/pool-scaler', 'root/agents/pool.codegen']));
      if (!leaders().includes(node)) expect(paths(node).filter((path) => path.includes('/core/leader/'))).toEqual([]);
    }
    const [leader] = leaders();
    expect(paths(leader!)).toEqual(expect.arrayContaining(['root/core/leader/issue-watcher', 'root/core/leader/workflow/dag', 'root/core/leader/workflow/scheduler']));
    expect(leader!.resources.leaderEpoch).toBeGreaterThan(0);
  });

  it('refuses a write of a leader whose lease was taken from under it, stops its leader-only work, and a follower takes over', async () => {
    const [old] = leaders();
    const epoch = old!.resources.leaderEpoch!;
    const fence = old!.resources.fence!;
    await fence(); // a leader's write passes
    // What a replacement does to a leader paused past its TTL: the lease rewritten by another node,
    // held for three TTLs (an intruder whose lease expired at once could be taken back by this very
    // node at its next poll, before its leader-only work was seen stopped).
    const js = jetstream(old!.resources.nc!);
    const bucket = old!.resources.bus!.topology.leaseBucket;
    await js.publish(`$KV.${bucket}.leader`, JSON.stringify({ holder: 'intruder', epoch: epoch + 1, expiresAt: Date.now() + 3 * TTL_MS }));
    await expect(fence()).rejects.toMatchObject({ code: ErrorCodes.LeaseLost });
    await waitFor(() => !runsLeaderWork(old!), { timeoutMs: 10_000, what: 'the deposed node stopping its leader-only work' });
    await waitFor(() => leaders().length === 1, { timeoutMs: 20_000, what: 'a node leading after the lease expired' });
    expect(leaders()[0]!.resources.leaderEpoch).toBeGreaterThan(epoch + 1);
    // Its old fence stays refused: the epoch it was elected with is over.
    await expect(fence()).rejects.toMatchObject({ code: ErrorCodes.LeaseLost });
  });

  it('hands over on a clean stop: another node leads and runs the workflow', async () => {
    const [old] = leaders();
    const epoch = old!.resources.leaderEpoch!;
    await old!.stop('handing over');
    nodes.splice(nodes.indexOf(old!), 1);
    await waitFor(() => leaders().length === 1, { timeoutMs: 20_000, what: 'a new leader after a clean stop' });
    expect(leaders()[0]!.resources.leaderEpoch).toBeGreaterThan(epoch);
  });

  it('builds the single node tree without a cluster: section', async () => {
    const loaded = await configFor('single', { cluster: undefined, nats: undefined });
    const spec = buildTree({ ...nodes[0]!.resources, config: loaded.config }, { listener: () => undefined });
    const core = spec.children!.find((child) => child.id === 'core')!;
    const ids = (core.input as { children: Array<{ id: string }> }).children.map((child) => child.id);
    expect(ids).toEqual(['issue-watcher', 'workflow', 'workspace', 'log-indexer', 'pool-scaler', 'health-monitor']);
  });
});
