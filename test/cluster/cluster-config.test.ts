/**
 * Bad input on a cluster (docs/CLUSTER.md "Members: one cluster, one config"), on one real
 * three-server NATS cluster (R3), the nodes in this process:
 *
 * - a node whose config differs from the leader's in a route and a role is refused: the leader
 *   names the parts that differ in its log, the refused node says so in its log and in `status`
 *   (the real CLI), starts no agent pool (it takes no tasks), and does not take the lease when the
 *   leader hands it over: a node with the leader's config does, and refuses it again;
 * - a node that works another tracker is refused at start with `cluster_mismatch`: two clusters
 *   must not share one bucket.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.ts';
import { ErrorCodes } from '../../src/errors.ts';
import { startOrchestra, type Orchestra } from '../../src/orchestra/orchestra.ts';
import { flattenTree } from '../../src/supervisor/index.ts';
import { runCli, tempDir, waitLogged, type TempDir } from '../support/cli.ts';
import { startNatsCluster, type TestNatsCluster } from '../support/nats-cluster.ts';
import { clusterNodeConfig, prepareClusterDir } from '../support/cluster-node.ts';
import { waitFor } from '../support/wait.ts';

const TTL_MS = 1_500;
const ROUTES = [
  { label: 'type:docs', stages: ['codegen'] },
  { label: 'type:bug', stages: ['codegen'] },
];

describe('a cluster refusing bad members', { timeout: 120_000 }, () => {
  let cluster: TestNatsCluster;
  let dir: TempDir;
  const nodes = new Map<string, Orchestra>();

  const configFile = (name: string, extra: Record<string, unknown> = {}) =>
    dir.file(
      `${name}.yaml`,
      clusterNodeConfig(dir.path, cluster.urls, name, TTL_MS, {
        agents: { codegen: { command: ['true'], min: 1, max: 1 } },
        workflow: { routes: ROUTES, defaultRoute: ['codegen'] },
        ...extra,
      }),
    );
  const start = async (name: string, extra: Record<string, unknown> = {}) => {
    const node = await startOrchestra(await loadConfig(await configFile(name, extra)), { logStream: false });
    nodes.set(name, node);
    return node;
  };
  const leaderName = () => [...nodes].find(([, node]) => node.resources.leaderEpoch !== undefined)?.[0];
  const pools = (node: Orchestra) => flattenTree(node.inspect()).filter((entry) => /^root\/agents\/pool\.[^/]+$/.test(entry.path));

  beforeAll(async () => {
    cluster = await startNatsCluster();
    dir = await tempDir('miyabi-cluster-config-');
    await prepareClusterDir(dir.path);
    await mkdir(join(dir.path, 'other-issues'));
    await start('a');
    await start('b');
  }, 60_000);

  afterAll(async () => {
    await Promise.all([...nodes.values()].map((node) => node.stop('test over')));
    await cluster?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  it('refuses a node whose routes and roles differ, naming them; it takes no tasks and does not lead', async () => {
    await waitFor(() => leaderName() !== undefined, { timeoutMs: 20_000, what: 'a leader' });
    // The leader requires its config before the odd node joins: a refusal known at start.
    await waitFor(async () => (await (await nodes.get('a')!.resources.bus!.nodes()).get('config')) !== null, { timeoutMs: 20_000, what: 'the leader\'s config' });
    const leader = leaderName()!;
    const odd = await start('odd', {
      agents: { codegen: { command: ['true'], min: 1, max: 1 }, review: { command: ['true'], min: 1, max: 1 } },
      workflow: { routes: [ROUTES[0], { label: 'type:bug', stages: ['codegen', 'review'] }], defaultRoute: ['codegen'] },
    });
    const differences = ['agents.review', 'workflow.routes[1]'];
    expect(odd.resources.clusterRefusal).toMatchObject({ by: leader, differences });
    // No pool ever started on it: it takes no task.
    expect(pools(odd)).toEqual([]);
    expect(pools(nodes.get('a')!).map((entry) => entry.id)).toEqual(['pool.codegen']);
    await waitLogged(join(dir.path, 'odd'), `refused by the leader ${leader} (epoch ${nodes.get(leader)!.resources.leaderEpoch}): config differs in agents.review, workflow.routes[1]; taking no tasks`, 1, 10_000);
    await waitLogged(join(dir.path, leader), 'refusing node odd: its config differs in agents.review, workflow.routes[1]', 1, 10_000);

    const status = await runCli(['status', '--config', join(dir.path, 'a.yaml')]);
    expect(status.exitCode, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/^odd: refused, pid \d+.*agents: none$/m);
    expect(status.stdout).toContain('  refused by the leader');
    expect(status.stdout).toContain('config differs in agents.review, workflow.routes[1]; taking no tasks');

    // The leader hands over: the node with its config takes the lease, not the refused one.
    const old = nodes.get(leader)!;
    nodes.delete(leader);
    await old.stop('handing over');
    const successor = leader === 'a' ? 'b' : 'a';
    await waitFor(() => leaderName() !== undefined, { timeoutMs: 20_000, what: 'a new leader' });
    expect(leaderName()).toBe(successor);
    await waitFor(() => odd.resources.clusterRefusal?.by === successor, { timeoutMs: 20_000, what: 'the new leader refusing the odd node' });
    expect(odd.resources.lease?.isLeader()).toBe(false);
    expect(pools(odd)).toEqual([]);
  });

  it('refuses at start a node of another cluster (another tracker) sharing the bucket', async () => {
    const other = await loadConfig(await configFile('other', { issues: { local: { dir: join(dir.path, 'other-issues') } } }));
    const failure: unknown = await startOrchestra(other, { logStream: false }).then(
      async (node: Orchestra) => {
        await node.stop('test over');
        expect.fail('a node of another cluster started');
      },
      (error: unknown) => error,
    );
    // The start fails with the membership's error as its cause.
    const causes: Array<{ code?: string; message: string }> = [];
    for (let error = failure as { code?: string; message: string; cause?: unknown } | undefined; error; error = error.cause as typeof error) causes.push(error);
    const mismatch = causes.find((error) => error.code === ErrorCodes.ClusterMismatch);
    expect(mismatch?.message).toContain(`the cluster of this NATS account works local:${join(dir.path, 'issues')}`);
    expect(mismatch?.message).toContain(`this node works local:${join(dir.path, 'other-issues')}`);
  });
});
