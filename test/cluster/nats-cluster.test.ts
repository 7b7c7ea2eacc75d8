/**
 * The test cluster itself (test/support/nats-cluster.ts): three real nats-servers routed on
 * loopback form one JetStream cluster — a KV bucket of three replicas has a leader and two
 * current followers, stays writable when one server of three is killed with SIGKILL, and
 * nothing is left running once the cluster stops.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { startNatsCluster } from '../support/nats-cluster.ts';
import { runningNatsServers } from '../support/nats.ts';
import { waitFor } from '../support/wait.ts';

describe('a test NATS cluster of three servers', () => {
  it('replicates a KV bucket three ways, survives kill -9 of one server, and leaves nothing running', async () => {
    const cluster = await startNatsCluster();
    try {
      expect(cluster.urls).toHaveLength(3);
      const nc = await connect({ servers: cluster.urls, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
      try {
        const kv = await new Kvm(nc).create('cluster-probe', { replicas: 3, history: 1 });
        // Just made, the bucket's stream may still be electing its leader: its peers are listed once it has.
        const info = await waitFor(async () => {
          const { streamInfo } = await kv.status();
          return streamInfo.cluster?.leader !== undefined && streamInfo.cluster.replicas?.length === 2 && streamInfo;
        }, { what: 'the bucket\'s leader and two replicas' });
        expect(info.config.num_replicas).toBe(3);
        expect(info.cluster?.name).toBe(cluster.name);
        expect([info.cluster?.leader, ...(info.cluster?.replicas ?? []).map((peer) => peer.name)].sort()).toEqual(['n1', 'n2', 'n3']);
        await kv.put('k', 'before');

        // The server this client is on, so the client has to find another one.
        const connectedTo = cluster.servers.find((server) => server.url.endsWith(`:${nc.info!.port}`))!;
        await connectedTo.kill();
        // A write in flight while the stream elects a new leader may time out: written again until it lands.
        await waitFor(() => kv.put('k', 'after'), { timeoutMs: 30_000, intervalMs: 100, what: 'a KV write after kill -9 of one server' });
        expect((await kv.get('k'))?.string()).toBe('after');
        const jsm = await jetstreamManager(nc);
        expect((await jsm.streams.info('KV_cluster-probe')).config.num_replicas).toBe(3);
      } finally {
        await nc.close();
      }
    } finally {
      await cluster.stop();
    }
    expect(runningNatsServers()).toBe(0);
  });
});
