import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bus, type PublishResult } from '../../src/infra/bus/bus.ts';
import { startNatsServer, type TestNatsServer } from '../support/nats.ts';
import { deferred, waitFor } from '../support/wait.ts';
import { captureLogger, connectTest, explainFailures, uniqueTopology } from './helpers.ts';

const N = 400;

/** Publishes with retries: the same msgId each time, so a retry after a lost PubAck is stored once. */
async function publishAcked(bus: Bus, subject: string, n: number): Promise<PublishResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await bus.publish(subject, 'task.assigned', { n }, { msgId: `task-${n}`, timeoutMs: 1_000 });
    } catch (error) {
      if (attempt >= 30) throw error;
    }
  }
}

describe('bus across a nats-server crash', () => {
  let nats: TestNatsServer;
  const { logger, lines } = captureLogger();
  explainFailures(() => nats, lines);
  beforeAll(async () => {
    nats = await startNatsServer();
  });
  afterAll(() => nats.stop());

  it('reconnects after SIGKILL and restart; nothing acknowledged is lost', async () => {
    const nc: NatsConnection = await connectTest(nats.url, 'restart-test', logger);
    try {
      const topology = uniqueTopology('file');
      const bus = new Bus(nc, { sender: 'producer', topology, logger });
      await bus.ensureTopology();
      const subject = `${topology.prefix}.tasks.codegen`;
      const consumed = new Map<number, number>();
      // The handler stalls on message N/4 (a long task) until the server has crashed and come back,
      // so the crash hits a consumer with delivered-unacked messages and a stream backlog.
      const stalled = deferred();
      const resume = deferred();
      const sub = await bus.consume<{ n: number }>({
        stream: topology.streams.tasks,
        durable: 'codegen',
        filterSubject: subject,
        ackWaitMs: 2_000,
        batch: 50,
        handler: async (envelope) => {
          const { n } = envelope.payload;
          if (n === N / 4 && !consumed.has(n)) {
            stalled.resolve();
            await resume.promise;
          }
          consumed.set(n, (consumed.get(n) ?? 0) + 1);
        },
      });

      for (let n = 0; n < N / 2; n++) await publishAcked(bus, subject, n);
      await stalled.promise;
      expect(consumed.size).toBe(N / 4);

      // The second half is published while the server dies and restarts (with retries).
      const secondHalf = (async () => {
        for (let n = N / 2; n < N; n++) await publishAcked(bus, subject, n);
      })();
      await nats.kill();
      await waitFor(() => lines.some((l) => l.msg.startsWith('nats disconnected')), { what: 'disconnect noticed' });
      await nats.restart();
      await waitFor(() => lines.some((l) => l.msg === 'nats reconnected'), { what: 'reconnect', timeoutMs: 15_000 });
      resume.resolve();
      await secondHalf;
      await waitFor(() => consumed.size === N, { what: `all ${N} consumed`, timeoutMs: 20_000 });
      await sub.stop();

      expect([...consumed.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: N }, (_, i) => i));
      const streams = await bus.streams();
      expect(streams.find((s) => s.name === topology.streams.tasks)).toMatchObject({ messages: N });
      // At-least-once: a message acked just before the crash may come again, never a lost one.
      expect(sub.stats().sequence.gaps).toBe(0);
      const duplicates = [...consumed.values()].filter((count) => count > 1).length;
      expect(duplicates).toBeLessThan(N / 2);
      await bus.close();
    } finally {
      await nc.close();
    }
  });
});
