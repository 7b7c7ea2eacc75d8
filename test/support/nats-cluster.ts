/**
 * A private NATS JetStream cluster for a test file: three `nats-server` processes on loopback,
 * routed to each other, each with a free client port, a free cluster port, its own temporary store
 * and a config file of its own (the cluster block: name, listen address, routes); JetStream
 * clustered, so streams and KV buckets may have up to three replicas.
 *
 *   await using cluster = await startNatsCluster();
 *   const nc = await connect({ servers: cluster.urls });
 *   await cluster.servers[0]!.kill();            // kill -9 one of three
 *
 * Ready when returned: every server logged "Server is ready" and answered the JetStream API (which
 * needs the meta leader elected), and a probe stream of three replicas was created (every server
 * has joined the meta group), then deleted. `stop()` stops whatever still runs and removes the
 * stores; every process is tracked like test/support/nats.ts's, so none outlives the test run.
 */
import { jetstreamManager, StorageType } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { findFreePort, spawnNatsServer, type NatsServerExit, type NatsServerProcess } from '../../src/infra/nats/embedded-server.ts';
import { trackNatsServer } from './nats.ts';
import { waitFor } from './wait.ts';

export interface ClusterServer {
  readonly name: string;
  readonly url: string;
  readonly process: NatsServerProcess;
  /** SIGKILL: the server dies as on a crash; its store stays until the cluster stops. */
  kill(): Promise<NatsServerExit>;
}

export interface TestNatsCluster {
  readonly name: string;
  /** Every server's client URL: what a client of the cluster connects with. */
  readonly urls: string[];
  readonly servers: ClusterServer[];
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const HOST = '127.0.0.1';

/** The config file of one server: the cluster block; name, ports, store and JetStream come as flags. */
export function clusterServerConfig(options: { clusterName: string; clusterPort: number; routePorts: number[] }): string {
  const routes = options.routePorts.map((port) => `    nats-route://${HOST}:${port}`).join('\n');
  return [
    'cluster {',
    `  name: ${options.clusterName}`,
    `  listen: ${HOST}:${options.clusterPort}`,
    '  routes: [',
    routes,
    '  ]',
    '}',
    '',
  ].join('\n');
}

export async function startNatsCluster(options: { size?: number; readyTimeoutMs?: number } = {}): Promise<TestNatsCluster> {
  const size = options.size ?? 3;
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  const root = await mkdtemp(path.join(tmpdir(), 'miyabi-nats-cluster-'));
  const clusterName = `miyabi-test-${path.basename(root).slice(-6)}`;
  const clientPorts: number[] = [];
  const clusterPorts: number[] = [];
  // One after the other: findFreePort closes its listener before returning, so two calls at once could get the same port.
  for (let i = 0; i < size; i++) clientPorts.push(await findFreePort(HOST));
  for (let i = 0; i < size; i++) clusterPorts.push(await findFreePort(HOST));

  const names = clientPorts.map((_, i) => `n${i + 1}`);
  // All at once: a server answers the JetStream API only once a meta leader is elected, which takes a quorum.
  const spawned = await Promise.allSettled(
    names.map(async (name, i) => {
      const storeDir = path.join(root, name);
      const configFile = path.join(root, `${name}.conf`);
      await writeFile(
        configFile,
        clusterServerConfig({ clusterName, clusterPort: clusterPorts[i]!, routePorts: clusterPorts.filter((_, j) => j !== i) }),
      );
      return trackNatsServer(await spawnNatsServer({ storeDir, port: clientPorts[i], serverName: name, configFile, readyTimeoutMs }));
    }),
  );
  const started = spawned.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await Promise.all(started.map((server) => server.stop(5_000)));
    await rm(root, { recursive: true, force: true });
  };
  const failed = spawned.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) {
    await stop();
    throw failed.reason;
  }
  const urls = started.map((server) => server.url);
  try {
    await waitForReplicas(urls, size, readyTimeoutMs);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    name: clusterName,
    urls,
    servers: started.map((server, i) => ({ name: names[i]!, url: server.url, process: server, kill: () => server.kill() })),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/**
 * Resolves when a stream of `replicas` replicas can be created: the meta leader is elected (the
 * JetStream API answers) and enough servers have joined its group to place every replica.
 */
async function waitForReplicas(urls: string[], replicas: number, timeoutMs: number): Promise<void> {
  const nc = await connect({ servers: urls });
  try {
    const jsm = await waitFor(() => jetstreamManager(nc, { timeout: 2_000 }), { timeoutMs, intervalMs: 100, what: 'the JetStream meta leader' });
    const probe = 'CLUSTER_READY_PROBE';
    await waitFor(
      async () => {
        await jsm.streams.add({ name: probe, subjects: ['cluster.ready.probe'], storage: StorageType.Memory, num_replicas: replicas });
        return true;
      },
      { timeoutMs, intervalMs: 100, what: `a stream of ${replicas} replicas` },
    );
    await jsm.streams.delete(probe);
  } finally {
    await nc.close();
  }
}
