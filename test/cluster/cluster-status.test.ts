/**
 * Operators see one system (docs/CLUSTER.md "Status of every node"): three nodes on one real
 * three-server NATS cluster (R3), `a` and `b` in this process, `c` a real `miyabi-orchestra up`
 * process that the test kills with SIGKILL.
 *
 * - `status` (the real CLI, given node a's config) shows every node: its name, role, actors and
 *   agents, the one leader with its epoch, and the lease;
 * - `/metrics` of a node names the node on every series (`node="a"`);
 * - a node killed with `kill -9` shows as MISSING with the age of its last heartbeat (not silently
 *   absent), and one stopped cleanly as stopped.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { ResultPromise } from 'execa';
import { loadConfig } from '../../src/config/load.ts';
import { startOrchestra, type Orchestra } from '../../src/orchestra/orchestra.ts';
import type { ClusterStatus } from '../../src/cli/commands/cluster-status.ts';
import { readNodeRecords } from '../../src/cluster/node-records.ts';
import { runCli, startUp, tempDir, type TempDir } from '../support/cli.ts';
import { startNatsCluster, type TestNatsCluster } from '../support/nats-cluster.ts';
import { clusterNodeConfig, prepareClusterDir } from '../support/cluster-node.ts';
import { waitFor } from '../support/wait.ts';

const TTL_MS = 1_500;

describe('status of a cluster of three nodes', { timeout: 120_000 }, () => {
  let cluster: TestNatsCluster;
  let dir: TempDir;
  const nodes = new Map<string, Orchestra>();
  let processNode: ResultPromise | undefined;

  const configFile = (name: string, extra: Record<string, unknown> = {}) =>
    dir.file(
      `${name}.yaml`,
      clusterNodeConfig(dir.path, cluster.urls, name, TTL_MS, {
        http: { enabled: true, host: '127.0.0.1', port: 0 },
        agents: { codegen: { command: ['true'], min: 1, max: 1 } },
        ...extra,
      }),
    );
  const statusJson = async (): Promise<ClusterStatus> => {
    const result = await runCli(['status', '--json', '--config', join(dir.path, 'a.yaml')]);
    expect(result.exitCode, result.stderr).toBe(0);
    return JSON.parse(result.stdout) as ClusterStatus;
  };

  beforeAll(async () => {
    cluster = await startNatsCluster();
    dir = await tempDir('miyabi-cluster-status-');
    await prepareClusterDir(dir.path);
    for (const name of ['a', 'b']) nodes.set(name, await startOrchestra(await loadConfig(await configFile(name)), { logStream: false }));
    // No agents on c: its runners would outlive the kill -9 of their orchestra.
    processNode = startUp(['--config', await configFile('c', { agents: { codegen: { command: ['true'], min: 0, max: 1 } } })]);
  }, 60_000);

  afterAll(async () => {
    if (processNode?.exitCode === null) processNode.kill('SIGKILL');
    await processNode;
    await Promise.all([...nodes.values()].map((node) => node.stop('test over')));
    await cluster?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  it('shows every node with its role, actors and agents, the one leader and its epoch', async () => {
    const a = nodes.get('a')!;
    // Every node has written its heartbeat and one of them leads.
    await waitFor(
      async () => {
        const kv = await a.resources.bus!.nodes();
        const records = await readNodeRecords(a.resources.nc!, kv, a.resources.bus!.topology.nodesBucket);
        return records.size === 3 && (await kv.get('config')) !== null;
      },
      { timeoutMs: 60_000, what: 'three heartbeats and a leader' },
    );
    const status = await statusJson();
    expect(status.nodes.map((entry) => [entry.node, entry.state])).toEqual([
      ['a', 'answered'],
      ['b', 'answered'],
      ['c', 'answered'],
    ]);
    const roles = status.nodes.map((entry) => (entry.state === 'answered' ? entry.reply.cluster?.role : undefined));
    expect(roles.filter((role) => role === 'leader')).toHaveLength(1);
    expect(roles.filter((role) => role === 'follower')).toHaveLength(2);
    const leader = status.nodes.find((entry) => entry.state === 'answered' && entry.reply.cluster?.role === 'leader')!;
    expect(status.lease?.holder).toBe(leader.node);
    expect(leader.state === 'answered' && leader.reply.cluster?.epoch).toBe(status.lease?.epoch);

    const text = await runCli(['status', '--config', join(dir.path, 'a.yaml')]);
    expect(text.exitCode, text.stderr).toBe(0);
    expect(text.stdout).toContain(`cluster of 3 nodes, 3 answered; ${leader.node} leads, epoch ${status.lease!.epoch}`);
    expect(text.stdout).toMatch(new RegExp(`^${leader.node}: leader, epoch ${status.lease!.epoch} for \\S+, pid \\d+`, 'm'));
    expect(text.stdout).toMatch(/^a: (leader|follower).*, \d+ actors, agents: a-codegen-1 \(/m);
    expect(text.stdout).toMatch(/^c: (leader|follower).*, \d+ actors, agents: none$/m);
    for (const name of ['a', 'b', 'c']) expect(text.stdout).toContain(`── ${name} ──`);
  });

  it('names the node on every series of its /metrics', async () => {
    const a = nodes.get('a')!;
    const body = await (await fetch(`${a.resources.httpUrl}/metrics`)).text();
    const samples = body.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
    expect(samples.length).toBeGreaterThan(50);
    expect(samples.filter((line) => !line.includes('node="a"'))).toEqual([]);
    expect(body).toMatch(/^miyabi_build_info\{[^}]*nodejs="v\d+[^}]*node="a"/m);
  });

  it('stop given a node\'s config stops that node alone', async () => {
    const config = await configFile('d', { agents: { codegen: { command: ['true'], min: 0, max: 1 } } });
    const d = startUp(['--config', config]);
    try {
      await waitFor(async () => (await statusJson()).nodes.find((entry) => entry.node === 'd')?.state === 'answered', {
        timeoutMs: 60_000,
        what: 'node d answering',
      });
      const stopped = await runCli(['stop', '--config', config]);
      expect(stopped.stderr).toBe(''); // answered over NATS, not by the SIGTERM fallback
      expect(stopped.exitCode).toBe(0);
      expect((await d).exitCode).toBe(0);
      // Every node heard the request; the others go on.
      const status = await statusJson();
      expect(status.nodes.map((entry) => [entry.node, entry.state])).toEqual([
        ['a', 'answered'],
        ['b', 'answered'],
        ['c', 'answered'],
        ['d', 'stopped'],
      ]);
    } finally {
      if (d.exitCode === null) d.kill('SIGKILL');
      await d;
    }
  });

  it('shows a node killed with kill -9 as missing, and one stopped cleanly as stopped', async () => {
    processNode!.kill('SIGKILL');
    await processNode;
    const b = nodes.get('b')!;
    nodes.delete('b');
    await b.stop('leaving the cluster');
    const status = await statusJson();
    expect(status.nodes.map((entry) => [entry.node, entry.state])).toEqual([
      ['a', 'answered'],
      ['b', 'stopped'],
      ['c', 'missing'],
      ['d', 'stopped'],
    ]);
    const text = await runCli(['status', '--config', join(dir.path, 'a.yaml')]);
    expect(text.stdout).toContain('cluster of 4 nodes, 1 answered');
    expect(text.stdout).toMatch(/^c: MISSING, no answer; last heartbeat \S+ ago \(pid \d+, was (leader|follower)\)$/m);
    expect(text.stdout).toMatch(/^b: stopped \S+ ago$/m);
  });
});
