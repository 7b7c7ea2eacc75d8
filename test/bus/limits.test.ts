import { jetstreamManager } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/errors.ts';
import { Bus } from '../../src/infra/bus/bus.ts';
import { busTestFile, uniqueTopology } from './helpers.ts';

// Every stream and bucket is bounded by size and age; at the limit the tasks and events streams
// refuse a new message (nothing unread dropped), the dead letters drop their oldest.
describe('bus size limits', () => {
  const file = busTestFile('limits-test');

  it('gives every stream and KV bucket max_bytes and max_age, with its discard policy', async () => {
    const topology = { ...uniqueTopology('file'), maxBytes: { tasks: 300_000, events: 200_000, dlq: 100_000, state: 90_000, once: 80_000, answers: 70_000 } };
    const bus = new Bus(file.nc, { sender: 'limits-test', topology });
    await bus.ensureTopology();
    const jsm = await jetstreamManager(file.nc);
    const config = async (name: string) => (await jsm.streams.info(name)).config;
    expect(await config(topology.streams.tasks)).toMatchObject({ max_bytes: 300_000, discard: 'new', max_age: 7 * 86_400e9 });
    expect(await config(topology.streams.events)).toMatchObject({ max_bytes: 200_000, discard: 'new', max_age: 7 * 86_400e9 });
    expect(await config(topology.streams.dlq)).toMatchObject({ max_bytes: 100_000, discard: 'old', max_age: 30 * 86_400e9 });
    expect((await (await bus.kv()).status()).streamInfo.config).toMatchObject({ max_bytes: 90_000 });
    expect((await (await bus.once()).status()).streamInfo.config).toMatchObject({ max_bytes: 80_000 });
    // The kept answers drop their oldest: a refused answer would hold its runner.
    expect(await config(`KV_${bus.topology.answersBucket}`)).toMatchObject({ max_bytes: 70_000, discard: 'old', max_age: 7 * 86_400e9 });
    // A changed limit is applied in place at the next start.
    const again = new Bus(file.nc, { sender: 'limits-test', topology: { ...topology, maxBytes: { ...topology.maxBytes, tasks: 400_000, state: 95_000 } } });
    await again.ensureTopology();
    expect(await config(topology.streams.tasks)).toMatchObject({ max_bytes: 400_000 });
    expect((await (await again.kv()).status()).streamInfo.config).toMatchObject({ max_bytes: 95_000 });
  });

  it('a full tasks stream refuses the next task and keeps every task it holds', async () => {
    const topology = { ...uniqueTopology('memory'), maxBytes: { tasks: 64 * 1024 } };
    const bus = new Bus(file.nc, { sender: 'limits-test', topology });
    await bus.ensureTopology();
    const subject = `${topology.prefix}.tasks.codegen`;
    const payload = { text: 'x'.repeat(2_000) };
    let published = 0;
    let refused: unknown;
    while (refused === undefined && published < 100) {
      await bus.publish(subject, 'task.assigned', { ...payload, n: published }).then(
        () => void published++,
        (error: unknown) => void (refused = error),
      );
    }
    expect(refused).toMatchObject({ code: ErrorCodes.BusPublishFailed });
    const jsm = await jetstreamManager(file.nc);
    const state = (await jsm.streams.info(topology.streams.tasks)).state;
    // Nothing was dropped to make room: the first task is still the first message.
    expect(state.messages).toBe(published);
    expect(state.first_seq).toBe(1);
  });

  it('a full dead-letter stream drops its oldest and takes the new one', async () => {
    const topology = { ...uniqueTopology('memory'), maxBytes: { dlq: 64 * 1024 } };
    const bus = new Bus(file.nc, { sender: 'limits-test', topology });
    await bus.ensureTopology();
    const subject = `${topology.prefix}.dlq.${topology.prefix}.tasks.codegen`;
    for (let n = 0; n < 60; n++) await bus.publish(subject, 'task.assigned', { text: 'x'.repeat(2_000), n });
    const state = (await (await jetstreamManager(file.nc)).streams.info(topology.streams.dlq)).state;
    expect(state.last_seq).toBe(60);
    expect(state.first_seq).toBeGreaterThan(1);
  });
});
