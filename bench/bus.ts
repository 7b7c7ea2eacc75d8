/**
 * Bus throughput against raw JetStream, in the same run, on one spawned nats-server (file store):
 * publish N messages (PubAck awaited, a window of in-flight publishes, a Nats-Msg-Id on each) while
 * a durable pull consumer (explicit ack, same pull batch) receives and acks them; msgs/s is N over
 * the time from the first publish to the last ack. The bus path adds the envelope (uuid, sequence,
 * JSON, zod validation on receive), the sequence tracker and the handler contract.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AckPolicy, jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import { connect, nuid, type NatsConnection } from '@nats-io/transport-node';
import { Bus } from '../src/infra/bus/bus.ts';
import { spawnNatsServer } from '../src/infra/nats/embedded-server.ts';
import type { BenchRow } from './types.ts';

const MESSAGES = 20_000;
/** Rounds alternate raw and bus, and the median of each is reported: the host is shared and noisy. */
const ROUNDS = 5;
const WARMUP = 2_000;
const WINDOW = 256;
const BATCH = 256;
const PAYLOAD = { issue: 1234, role: 'codegen', title: 'Fix the flaky supervisor test', labels: ['bug', 'p1'] };

async function publishAll(count: number, publish: (i: number) => Promise<unknown>): Promise<void> {
  const inFlight = new Set<Promise<unknown>>();
  for (let i = 0; i < count; i++) {
    const p = publish(i).finally(() => inFlight.delete(p));
    inFlight.add(p);
    if (inFlight.size >= WINDOW) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

function counter(target: number): { hit(): void; done: Promise<void> } {
  let seen = 0;
  let resolve!: () => void;
  const done = new Promise<void>((r) => (resolve = r));
  return {
    hit() {
      if (++seen === target) resolve();
    },
    done,
  };
}

async function rawRun(nc: NatsConnection, js: JetStreamClient, stream: string, count: number): Promise<number> {
  const jsm = await jetstreamManager(nc);
  const subject = `${stream.toLowerCase()}.work`;
  await jsm.streams.add({ name: stream, subjects: [`${stream.toLowerCase()}.>`], storage: 'file' as never, duplicate_window: 120e9 });
  await jsm.consumers.add(stream, { durable_name: 'raw', ack_policy: AckPolicy.Explicit, filter_subject: subject });
  const consumer = await js.consumers.get(stream, 'raw');
  const received = counter(count);
  const messages = await consumer.consume({ max_messages: BATCH });
  const loop = (async () => {
    for await (const msg of messages) {
      JSON.parse(msg.string());
      msg.ack();
      received.hit();
    }
  })();
  const body = JSON.stringify(PAYLOAD);
  const started = performance.now();
  await publishAll(count, () => js.publish(subject, body, { msgID: nuid.next() }));
  await received.done;
  const elapsed = performance.now() - started;
  await messages.close();
  await loop;
  return count / (elapsed / 1000);
}

async function busRun(nc: NatsConnection, prefix: string, count: number): Promise<number> {
  const topology = { prefix, streams: { tasks: `${prefix.toUpperCase()}_TASKS`, events: `${prefix.toUpperCase()}_EVENTS`, dlq: `${prefix.toUpperCase()}_DLQ` }, kvBucket: `${prefix}-state` };
  const bus = new Bus(nc, { sender: 'bench', topology });
  await bus.ensureTopology();
  const subject = `${prefix}.tasks.work`;
  const received = counter(count);
  const sub = await bus.consume({ stream: topology.streams.tasks, durable: 'bus', filterSubject: subject, batch: BATCH, handler: () => received.hit() });
  const started = performance.now();
  await publishAll(count, () => bus.publish(subject, 'task.assigned', PAYLOAD));
  await received.done;
  const elapsed = performance.now() - started;
  await sub.stop();
  await bus.close();
  return count / (elapsed / 1000);
}

export async function benchBus(): Promise<BenchRow[]> {
  const storeDir = await mkdtemp(path.join(tmpdir(), 'miyabi-bench-nats-'));
  const server = await spawnNatsServer({ storeDir });
  // The options the orchestra's connection uses (connectNats): no per-request async traces.
  const nc = await connect({ servers: server.url, noAsyncTraces: true });
  try {
    const js = jetstream(nc);
    await rawRun(nc, js, 'WARM_RAW', WARMUP);
    await busRun(nc, 'warmbus', WARMUP);
    const raw: number[] = [];
    const bus: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      raw.push(await rawRun(nc, js, `BENCH_RAW_${round}`, MESSAGES));
      bus.push(await busRun(nc, `benchbus${round}`, MESSAGES));
    }
    const note = `${MESSAGES} msgs, median of ${ROUNDS} alternating rounds, file store, ${WINDOW} publishes in flight, pull batch ${BATCH}`;
    const rawRate = median(raw);
    const busRate = median(bus);
    return [
      { name: 'raw JetStream publish+consume+ack', value: Math.round(rawRate), unit: 'msgs/s', note },
      { name: 'bus envelope publish+consume+ack', value: Math.round(busRate), unit: 'msgs/s', note },
      { name: 'bus / raw throughput', value: Math.round((busRate / rawRate) * 1000) / 10, unit: '%', note: `goal ≥ 60 %; rounds ${raw.map((r, i) => `${Math.round(((bus[i] ?? 0) / r) * 100)}`).join(', ')} %` },
    ];
  } finally {
    await nc.close();
    await server.stop();
    await rm(storeDir, { recursive: true, force: true });
  }
}
