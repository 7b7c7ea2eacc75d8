import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import { Bus } from '../../src/infra/bus/bus.ts';
import type { Delivery } from '../../src/infra/bus/consumer.ts';
import type { TailMessage } from '../../src/infra/bus/inspect.ts';
import { createEnvelope, encodeEnvelope, type Envelope } from '../../src/infra/bus/envelope.ts';
import { deferred, waitFor } from '../support/wait.ts';
import { busTestFile, connectTest, recordingObserver } from './helpers.ts';

describe('bus publish and consume', () => {
  const file = busTestFile('consume-test');

  async function setup() {
    const { bus, topology, observer } = await file.newBus('producer');
    return { topology, observer, bus, subject: `${topology.prefix}.tasks.codegen` };
  }

  it('wraps the payload in an envelope and delivers it to the handler, then acks', async () => {
    const { topology, observer, bus, subject } = await setup();
    const got = deferred<[Envelope<unknown>, Delivery]>();
    const sub = await bus.consume({
      stream: topology.streams.tasks,
      durable: 'codegen',
      filterSubject: subject,
      handler: (envelope, delivery) => got.resolve([envelope, delivery]),
    });
    const published = await bus.publish(subject, 'task.assigned', { issue: 12 });
    const [envelope, delivery] = await got.promise;
    expect(envelope).toMatchObject({ id: published.id, sender: 'producer', seq: 1, type: 'task.assigned', schema: 1, payload: { issue: 12 } });
    expect(delivery).toMatchObject({ subject, streamSeq: published.seq, deliveryCount: 1, redelivered: false });
    await waitFor(() => sub.stats().acked === 1, { what: 'ack' });
    await sub.stop();
    // The consumer's subject told when it started (its counters exist from 0), then the traffic.
    expect(observer.calls).toEqual([['consuming', subject], ['published', subject], ['acked', subject]]);
    const info = await (await jetstreamManager(file.nc)).consumers.info(topology.streams.tasks, 'codegen');
    expect(info).toMatchObject({ num_pending: 0, num_ack_pending: 0 });
  });

  it('dedupes a republished msg id: stored once, same envelope, delivered once', async () => {
    const { topology, observer, bus, subject } = await setup();
    const first = await bus.publish(subject, 'task.assigned', { n: 1 }, { msgId: 'issue-12-attempt-1' });
    const again = await bus.publish(subject, 'task.assigned', { n: 1 }, { msgId: 'issue-12-attempt-1' });
    const next = await bus.publish(subject, 'task.assigned', { n: 2 });
    expect(first.duplicate).toBe(false);
    expect(again).toEqual({ ...first, duplicate: true });
    const seen: Envelope<unknown>[] = [];
    const sub = await bus.consume({ stream: topology.streams.tasks, durable: 'd', filterSubject: subject, handler: (e) => void seen.push(e) });
    await waitFor(() => seen.length === 2, { what: 'two deliveries' });
    await sub.stop();
    expect(seen.map((e) => e.id)).toEqual([first.id, next.id]);
    expect(sub.stats().sequence).toMatchObject({ gaps: 0, duplicates: 0 });
    expect(observer.count('published')).toBe(2);
    const info = await (await jetstreamManager(file.nc)).streams.info(topology.streams.tasks);
    expect(info.state.messages).toBe(2);
  });

  it('redelivers to another consumer instance when one dies without acking', async () => {
    const { topology, subject } = await setup();
    const ncA = await connectTest(file.nats.url, 'dies', file.logger.child({ side: 'A' }));
    const busA = new Bus(ncA, { sender: 'a', topology, logger: file.logger.child({ side: 'A' }) });
    const received = deferred();
    const neverSettles = deferred();
    const options = { stream: topology.streams.tasks, durable: 'shared', filterSubject: subject, ackWaitMs: 1_000 };
    await busA.consume({ ...options, handler: () => (received.resolve(), neverSettles.promise) });
    const observer = recordingObserver();
    const busB = new Bus(file.nc, { sender: 'b', topology, observer, logger: file.logger.child({ side: 'B' }) });
    await busA.publish(subject, 'task.assigned', { work: 'x' });
    await received.promise;
    const second = deferred<Delivery>();
    const subB = await busB.consume({ ...options, handler: (_e, d) => second.resolve(d) });
    await ncA.close(); // the process "dies": its connection is gone, the message was never acked
    const delivery = await second.promise;
    expect(delivery.deliveryCount).toBe(2);
    expect(delivery.redelivered).toBe(true);
    await waitFor(() => subB.stats().acked === 1, { what: 'ack by B' });
    await subB.stop();
    expect(observer.calls).toContainEqual(['redelivered', subject]);
    neverSettles.resolve();
  });

  it('working() keeps a long handler\'s message from being redelivered', async () => {
    const { topology, bus, subject } = await setup();
    let calls = 0;
    const sub = await bus.consume({
      stream: topology.streams.tasks,
      durable: 'slow',
      filterSubject: subject,
      ackWaitMs: 800,
      handler: async (_e, delivery) => {
        calls++;
        for (let i = 0; i < 8; i++) {
          delivery.working();
          await new Promise((resolve) => setTimeout(resolve, 250)); // the handler's own (slow) work
        }
      },
    });
    await bus.publish(subject, 'task.assigned', {});
    await waitFor(() => sub.stats().acked === 1, { what: 'ack after 2 s of work', timeoutMs: 10_000 });
    await sub.stop();
    expect(calls).toBe(1);
    const info = await (await jetstreamManager(file.nc)).consumers.info(topology.streams.tasks, 'slow');
    expect(info.num_redelivered).toBe(0);
  });

  it('a handler returning { retryInMs } is redelivered after that delay', async () => {
    const { topology, bus, subject } = await setup();
    const deliveries: number[] = [];
    const sub = await bus.consume({
      stream: topology.streams.tasks,
      durable: 'retry',
      filterSubject: subject,
      handler: (_e, d) => {
        deliveries.push(Date.now());
        return d.deliveryCount === 1 ? { retryInMs: 300 } : undefined;
      },
    });
    await bus.publish(subject, 'task.assigned', {});
    await waitFor(() => sub.stats().acked === 1, { what: 'ack on the second delivery' });
    await sub.stop();
    expect(deliveries).toHaveLength(2);
    expect(deliveries[1]! - deliveries[0]!).toBeGreaterThanOrEqual(250);
    expect(sub.stats()).toMatchObject({ naked: 1, acked: 1, redelivered: 1 });
  });

  it('counts gaps and duplicates in a sender\'s sequence', async () => {
    const { topology, observer, bus, subject } = await setup();
    const js = jetstream(file.nc);
    const from = { sender: 'raw-sender', incarnation: 'i1', type: 'task.assigned', payload: {} };
    for (const seq of [1, 2, 4, 4, 5, 9]) {
      await js.publish(subject, encodeEnvelope(createEnvelope({ ...from, seq })));
    }
    // a restarted sender: new incarnation, counting from 1 again — neither gap nor duplicate
    await js.publish(subject, encodeEnvelope(createEnvelope({ ...from, incarnation: 'i2', seq: 1 })));
    let handled = 0;
    const sub = await bus.consume({ stream: topology.streams.tasks, durable: 'seq', filterSubject: subject, batch: 10, handler: () => void handled++ });
    await waitFor(() => sub.stats().acked === 7, { what: 'all seven acked' });
    await sub.stop();
    expect(handled).toBe(7);
    expect(sub.stats().sequence).toEqual({ first: 2, inOrder: 2, gaps: 2, missing: 4, duplicates: 1 });
    expect(observer.calls.filter((c) => c[0] === 'sequenceGap')).toEqual([
      ['sequenceGap', 'raw-sender', 1],
      ['sequenceGap', 'raw-sender', 3],
    ]);
    expect(observer.calls.filter((c) => c[0] === 'duplicate')).toEqual([['duplicate', 'raw-sender']]);
  });

  it('tail sees live publishes; streams() lists counts and consumers; a stopped bus refuses to publish', async () => {
    const { topology, bus, subject } = await setup();
    const seen: TailMessage[] = [];
    const tail = bus.tail(undefined, (m) => void seen.push(m));
    await file.nc.flush();
    await bus.publish(subject, 'task.assigned', { a: 1 });
    file.nc.publish(`${topology.prefix}.events.raw`, 'not an envelope');
    await waitFor(() => seen.length === 2, { what: 'two tailed messages' });
    expect(seen[0]).toMatchObject({ subject, envelope: { type: 'task.assigned', payload: { a: 1 } } });
    expect(seen[1]?.error).toMatch(/^not_json/);
    await tail.stop();
    const sub = await bus.consume({ stream: topology.streams.tasks, durable: 'lister', filterSubject: subject, handler: () => ({ retryInMs: 60_000 }) });
    await waitFor(() => sub.stats().naked === 1, { what: 'nak' });
    const streams = await bus.streams();
    const tasks = streams.find((s) => s.name === topology.streams.tasks);
    expect(tasks).toMatchObject({ messages: 1, subjects: [`${topology.prefix}.tasks.>`], storage: 'memory' });
    expect(tasks?.consumers).toEqual([
      expect.objectContaining({ name: 'lister', filterSubject: subject, pending: 0, ackPending: 1, redelivered: 0 }),
    ]);
    expect(streams.map((s) => s.name)).toContain(`KV_${topology.kvBucket}`);
    await bus.close();
    await expect(bus.publish(subject, 't', {})).rejects.toMatchObject({ code: 'bus_closed' });
  });
});
