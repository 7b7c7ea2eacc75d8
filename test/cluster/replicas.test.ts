/**
 * On a NATS cluster of three, the bus makes every stream and KV bucket with the configured
 * replica count (`cluster.replicas`, three here): the tasks, events and dead-letter streams, the
 * state bucket, the once ledger, the lease's bucket and the kept answers'; and a bucket made earlier with one
 * replica (a node that ran alone before it joined) is raised to three when ensured again.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bus } from '../../src/infra/bus/bus.ts';
import { uniqueTopology } from '../bus/helpers.ts';
import { startNatsCluster, type TestNatsCluster } from '../support/nats-cluster.ts';
import { waitFor } from '../support/wait.ts';

describe('streams and KV buckets on a cluster', () => {
  let cluster: TestNatsCluster;
  let nc: NatsConnection;
  beforeAll(async () => {
    cluster = await startNatsCluster();
    nc = await connect({ servers: cluster.urls });
  });
  afterAll(async () => {
    await nc?.close();
    await cluster?.stop();
  });

  it('are made with the configured replicas', async () => {
    const topology = { ...uniqueTopology('file'), replicas: 3 };
    const bus = new Bus(nc, { sender: 'replicas-test', topology });
    await bus.ensureTopology();
    await bus.lease();
    const jsm = await jetstreamManager(nc);
    const names = [...Object.values(topology.streams), `KV_${topology.kvBucket}`, `KV_${topology.kvBucket}-once`, `KV_${topology.kvBucket}-cluster`, `KV_${topology.kvBucket}-answers`];
    for (const name of names) {
      expect((await jsm.streams.info(name)).config.num_replicas, name).toBe(3);
      // Just made, a stream may still be electing its leader: its peers are listed once it has.
      await waitFor(async () => {
        const { cluster } = await jsm.streams.info(name);
        return cluster?.leader !== undefined && cluster.replicas?.length === 2;
      }, { what: `${name} with a leader and two replicas` });
    }
    // The lease is read from its stream's leader only: a replica behind it would answer a stale lease.
    expect((await jsm.streams.info(`KV_${topology.kvBucket}-cluster`)).config.allow_direct).toBe(false);
    // So are the kept answers: a replica behind would call an answered task unanswered.
    expect((await jsm.streams.info(`KV_${topology.kvBucket}-answers`)).config.allow_direct).toBe(false);
  });

  it('raise a bucket of one replica to the configured count', async () => {
    const topology = uniqueTopology('file');
    await new Bus(nc, { sender: 'alone', topology }).lease();
    const jsm = await jetstreamManager(nc);
    const stream = `KV_${topology.kvBucket}-cluster`;
    expect((await jsm.streams.info(stream)).config.num_replicas).toBe(1);
    await new Bus(nc, { sender: 'joined', topology: { ...topology, replicas: 3 } }).lease();
    expect((await jsm.streams.info(stream)).config.num_replicas).toBe(3);
  });
});
