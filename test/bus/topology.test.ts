import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/errors.ts';
import { Bus } from '../../src/infra/bus/bus.ts';
import { busTestFile, uniqueTopology } from './helpers.ts';

describe('bus topology', () => {
  const file = busTestFile('topology-test');
  let nc: NatsConnection;
  beforeAll(() => {
    nc = file.nc;
  });

  it('creates the three streams and the KV bucket, each with the duplicate window', async () => {
    const topology = { ...uniqueTopology('file'), duplicateWindowMs: 90_000 };
    const bus = new Bus(nc, { sender: 'topology-test', topology });
    await bus.ensureTopology();
    const jsm = await jetstreamManager(nc);
    for (const [role, name] of Object.entries(topology.streams)) {
      const info = await jsm.streams.info(name);
      expect(info.config).toMatchObject({
        subjects: [`${topology.prefix}.${role}.>`],
        storage: 'file',
        retention: 'limits',
        duplicate_window: 90_000_000_000,
        // One server, one replica: a single node is as it was before clusters (#16).
        num_replicas: 1,
      });
    }
    const kv = await bus.kv();
    expect((await kv.status()).streamInfo.config.duplicate_window).toBe(90_000_000_000);
    await kv.put('hello', 'world');
    expect((await kv.get('hello'))?.string()).toBe('world');
    // The ledger of what happens once for good (webhook deliveries, comment commands): on file,
    // one entry per key, kept a week — longer than GitHub lets anyone redeliver (three days).
    const once = (await (await bus.once()).status()).streamInfo.config;
    expect(once).toMatchObject({ storage: 'file', max_msgs_per_subject: 1, max_age: 7 * 24 * 3_600 * 1e9 });
    // The leader lease's bucket is a cluster's alone: a single node's topology has none.
    const buckets = await (await jsm.streams.names()).next();
    expect(buckets).not.toContain(`KV_${topology.kvBucket}-cluster`);
    expect(buckets).toContain(`KV_${topology.kvBucket}`);
  });

  it('is idempotent: again, and from another bus, nothing fails and nothing changes', async () => {
    const topology = uniqueTopology();
    await new Bus(nc, { sender: 'a', topology }).ensureTopology();
    const jsm = await jetstreamManager(nc);
    const before = await jsm.streams.info(topology.streams.tasks);
    await Promise.all([
      new Bus(nc, { sender: 'a', topology }).ensureTopology(),
      new Bus(nc, { sender: 'b', topology }).ensureTopology(),
    ]);
    const after = await jsm.streams.info(topology.streams.tasks);
    expect(after.created).toBe(before.created);
    expect(after.config).toEqual(before.config);
  });

  it('creates concurrently without tripping over itself', async () => {
    const topology = uniqueTopology();
    const buses = [1, 2, 3].map((n) => new Bus(nc, { sender: `c${n}`, topology }));
    const outcomes = await Promise.allSettled(buses.map((bus) => bus.ensureTopology()));
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    // Each stream once, with what was wanted; the buses share one KV bucket.
    const jsm = await jetstreamManager(nc);
    const names: string[] = [];
    for await (const name of jsm.streams.names()) if (name.startsWith(topology.prefix.toUpperCase())) names.push(name);
    expect(names.sort()).toEqual(Object.values(topology.streams).sort());
    for (const [role, name] of Object.entries(topology.streams)) {
      expect((await jsm.streams.info(name)).config.subjects).toEqual([`${topology.prefix}.${role}.>`]);
    }
    await (await buses[0]!.kv()).put('written-by', 'c1');
    expect((await (await buses[2]!.kv()).get('written-by'))?.string()).toBe('c1');
  });

  it('meets a stream created between its lookup and its create with other settings: checked and updated, not failed', async () => {
    const topology = uniqueTopology();
    // Both look the streams up before either creates them: the second create is refused
    // (stream name already in use, its settings differ) and that stream is then checked like any other.
    const outcomes = await Promise.allSettled([
      new Bus(nc, { sender: 'old', topology: { ...topology, duplicateWindowMs: 30_000 } }).ensureTopology(),
      new Bus(nc, { sender: 'new', topology: { ...topology, duplicateWindowMs: 60_000 } }).ensureTopology(),
    ]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'fulfilled']);
    const jsm = await jetstreamManager(nc);
    for (const name of Object.values(topology.streams)) {
      expect([30_000_000_000, 60_000_000_000]).toContain((await jsm.streams.info(name)).config.duplicate_window);
    }
  });

  it('updates what can change in place (duplicate window, max age)', async () => {
    const topology = uniqueTopology();
    await new Bus(nc, { sender: 'a', topology }).ensureTopology();
    await new Bus(nc, { sender: 'a', topology: { ...topology, duplicateWindowMs: 30_000, maxAgeMs: { events: 3_600_000 } } }).ensureTopology();
    const jsm = await jetstreamManager(nc);
    expect((await jsm.streams.info(topology.streams.events)).config).toMatchObject({
      duplicate_window: 30_000_000_000,
      max_age: 3_600_000_000_000,
    });
  });

  it('refuses to silently recreate what cannot change (storage)', async () => {
    const topology = uniqueTopology('memory');
    await new Bus(nc, { sender: 'a', topology }).ensureTopology();
    const changed = new Bus(nc, { sender: 'a', topology: { ...topology, storage: 'file' } }).ensureTopology();
    await expect(changed).rejects.toMatchObject({ code: ErrorCodes.BusTopologyConflict });
    await expect(changed).rejects.toThrow(/storage memory \(wanted file\)/);
  });

  it('refuses a consumer whose filter changed', async () => {
    const topology = uniqueTopology();
    const bus = new Bus(nc, { sender: 'a', topology });
    await bus.ensureTopology();
    const sub = await bus.consume({ stream: topology.streams.tasks, durable: 'role', filterSubject: `${topology.prefix}.tasks.a`, handler: () => {} });
    await sub.stop();
    await expect(
      bus.consume({ stream: topology.streams.tasks, durable: 'role', filterSubject: `${topology.prefix}.tasks.b`, handler: () => {} }),
    ).rejects.toMatchObject({ code: ErrorCodes.BusTopologyConflict });
  });
});
