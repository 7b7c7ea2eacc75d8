/**
 * How much of the JetStream store the account uses, read from a real nats-server whose account
 * has JetStream limits: the bytes the bus's streams hold and the limits, as the health monitor
 * judges them (`nats_store_full` past `health.maxStoreShare`).
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bus } from '../../src/infra/bus/bus.ts';
import { DEFAULT_HEALTH_LIMITS, EMPTY_HEALTH_MEMORY, judgeHealth } from '../../src/machines/health-judge.ts';
import { startNatsServer, type TestNatsServer } from '../support/nats.ts';
import { connectTest, uniqueTopology } from './helpers.ts';

const MiB = 1024 ** 2;

describe('Bus.storeUsage', () => {
  let nats: TestNatsServer;
  let nc: NatsConnection;

  beforeAll(async () => {
    nats = await startNatsServer({
      config: ['accounts {', '  MIYABI { jetstream: { max_file: 2MB, max_mem: 1MB }, users = [ { user: miyabi, password: secret } ] }', '}', 'no_auth_user: miyabi', ''].join('\n'),
    });
    nc = await connectTest(nats.url);
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  it('reads the bytes the streams hold and the account limits from the server', async () => {
    const refused = new Bus(nc, { sender: 'store-test', topology: uniqueTopology('file') });
    // The default size limits reserve more than this account has: refused, saying what to change.
    await expect(refused.ensureTopology()).rejects.toThrow(/insufficient storage.*lower bus\.maxBytes/);
    const topology = { ...uniqueTopology('file'), maxBytes: { tasks: -1, events: -1, dlq: -1, state: -1, once: -1, answers: -1 } }; // unlimited: no reservation
    const bus = new Bus(nc, { sender: 'store-test', topology });
    await bus.ensureTopology();
    const before = await bus.storeUsage();
    expect(before).toMatchObject({ fileLimitBytes: 2 * MiB, memoryLimitBytes: 1 * MiB });
    for (let n = 0; n < 10; n += 1) await bus.publish(`${topology.prefix}.events.bulk`, 'bulk', { text: 'x'.repeat(150_000) });
    const after = await bus.storeUsage();
    expect(after.fileBytes - before.fileBytes).toBeGreaterThan(1.5 * 1_000_000);

    const problems = judgeHealth(
      {
        busConnected: true, actorsDown: [], agents: [], deadLetters: 0, trackerDegraded: false, diskFreeRatio: 0.5, eventLoopLagMs: 0, rssBytes: 0,
        natsStore: { bytes: after.fileBytes, limitBytes: after.fileLimitBytes!, limitOf: "the account's JetStream limit" },
      },
      EMPTY_HEALTH_MEMORY,
      { ...DEFAULT_HEALTH_LIMITS, maxStoreShare: 0.5 },
    ).problems;
    expect(problems).toMatchObject([{ kind: 'nats_store_full', subject: 'nats', message: expect.stringContaining("of the account's JetStream limit (2.0 MiB)") }]);
  });
});
