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
 * The servers are started by src/infra/nats/cluster.ts (`cluster up` starts its own the same way):
 * ready when returned. `stop()` stops whatever still runs and removes the
 * stores; every process is tracked like test/support/nats.ts's, so none outlives the test run.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { NatsServerExit, NatsServerProcess } from '../../src/infra/nats/embedded-server.ts';
import { startNatsClusterServers } from '../../src/infra/nats/cluster.ts';
import { trackNatsServer } from './nats.ts';

export { clusterServerConfig } from '../../src/infra/nats/cluster.ts';

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

export async function startNatsCluster(options: { size?: number; readyTimeoutMs?: number } = {}): Promise<TestNatsCluster> {
  const root = await mkdtemp(path.join(tmpdir(), 'miyabi-nats-cluster-'));
  const clusterName = `miyabi-test-${path.basename(root).slice(-6)}`;
  let started;
  try {
    started = await startNatsClusterServers({ root, clusterName, ...options, onSpawned: trackNatsServer });
  } catch (error) {
    await rm(root, { recursive: true, force: true });
    throw error;
  }
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await Promise.all(started.servers.map((server) => server.stop(5_000)));
    await rm(root, { recursive: true, force: true });
  };
  return {
    name: clusterName,
    urls: started.urls,
    servers: started.servers.map((server, i) => ({ name: started.names[i]!, url: server.url, process: server, kill: () => server.kill() })),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
