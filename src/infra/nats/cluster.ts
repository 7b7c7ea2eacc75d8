/**
 * A NATS JetStream cluster of `size` `nats-server` processes on loopback, routed to each other:
 * each a free client port, a free cluster port, its own store under `root` and a config file of
 * its own (the cluster block: name, listen address, routes); JetStream clustered, so streams and
 * KV buckets may have up to `size` replicas. Used by `miyabi-orchestra cluster up` (a local
 * cluster to try scale-out on, docs/CLUSTER.md) and by the tests (test/support/nats-cluster.ts).
 *
 * Ready when returned: every server logged "Server is ready" and answered the JetStream API (which
 * needs the meta leader elected), and a probe stream of `size` replicas was created (every server
 * has joined the meta group), then deleted.
 */
import { jetstreamManager, StorageType } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { findFreePort, spawnNatsServer, type NatsServerProcess } from './embedded-server.ts';

const HOST = '127.0.0.1';

export interface NatsClusterOptions {
  /** Where the servers' stores and config files go (`<root>/<name>`, `<root>/<name>.conf`). */
  root: string;
  clusterName: string;
  size?: number;
  readyTimeoutMs?: number;
  binary?: string;
  /** Told of each server as it starts, before the cluster is ready (to stop it should the rest fail). */
  onSpawned?: (server: NatsServerProcess) => NatsServerProcess;
}

export interface NatsClusterServers {
  readonly names: string[];
  readonly servers: NatsServerProcess[];
  readonly urls: string[];
}

/** The config file of one server: the cluster block; name, ports, store and JetStream come as flags. */
export function clusterServerConfig(options: { clusterName: string; clusterPort: number; routePorts: number[] }): string {
  const routes = options.routePorts.map((port) => `    nats-route://${HOST}:${port}`).join('\n');
  return ['cluster {', `  name: ${options.clusterName}`, `  listen: ${HOST}:${options.clusterPort}`, '  routes: [', routes, '  ]', '}', ''].join('\n');
}

/** Starts the servers; on any failure stops those that started and throws. */
export async function startNatsClusterServers(options: NatsClusterOptions): Promise<NatsClusterServers> {
  const size = options.size ?? 3;
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  await mkdir(options.root, { recursive: true });
  const clientPorts: number[] = [];
  const clusterPorts: number[] = [];
  // One after the other: findFreePort closes its listener before returning, so two calls at once could get the same port.
  for (let i = 0; i < size; i++) clientPorts.push(await findFreePort(HOST));
  for (let i = 0; i < size; i++) clusterPorts.push(await findFreePort(HOST));
  const names = clientPorts.map((_, i) => `n${i + 1}`);
  // All at once: a server answers the JetStream API only once a meta leader is elected, which takes a quorum.
  const spawned = await Promise.allSettled(
    names.map(async (name, i) => {
      const configFile = path.join(options.root, `${name}.conf`);
      await writeFile(configFile, clusterServerConfig({ clusterName: options.clusterName, clusterPort: clusterPorts[i]!, routePorts: clusterPorts.filter((_, j) => j !== i) }));
      const server = await spawnNatsServer({ storeDir: path.join(options.root, name), port: clientPorts[i], serverName: name, configFile, readyTimeoutMs, ...(options.binary ? { binary: options.binary } : {}) });
      return options.onSpawned ? options.onSpawned(server) : server;
    }),
  );
  const started = spawned.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const failed = spawned.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  const urls = started.map((server) => server.url);
  try {
    if (failed) throw failed.reason;
    await waitForReplicas(urls, size, readyTimeoutMs);
  } catch (error) {
    await Promise.all(started.map((server) => server.stop(5_000)));
    throw error;
  }
  return { names, servers: started, urls };
}

/**
 * Resolves when a stream of `replicas` replicas can be created: the meta leader is elected (the
 * JetStream API answers) and enough servers have joined its group to place every replica.
 */
async function waitForReplicas(urls: string[], replicas: number, timeoutMs: number): Promise<void> {
  const nc = await connect({ servers: urls });
  const deadline = Date.now() + timeoutMs;
  const retry = async <T>(what: string, attempt: () => Promise<T>): Promise<T> => {
    for (;;) {
      try {
        return await attempt();
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`NATS cluster not ready within ${timeoutMs} ms (${what}): ${(error as Error).message}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  };
  try {
    const jsm = await retry('the JetStream meta leader', () => jetstreamManager(nc, { timeout: 2_000 }));
    const probe = 'CLUSTER_READY_PROBE';
    await retry(`a stream of ${replicas} replicas`, () => jsm.streams.add({ name: probe, subjects: ['cluster.ready.probe'], storage: StorageType.Memory, num_replicas: replicas }));
    await jsm.streams.delete(probe);
  } finally {
    await nc.close();
  }
}
