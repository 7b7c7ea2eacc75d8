/**
 * Shared pieces of the bus tests: a logger whose lines a test can read, a counting observer,
 * unique stream names per test, and a connection with test-sized timeouts.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { pino, type Logger } from 'pino';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { Bus } from '../../src/infra/bus/bus.ts';
import type { BusObserver } from '../../src/infra/bus/observer.ts';
import type { BusTopologyOptions } from '../../src/infra/bus/topology.ts';
import { connectNats } from '../../src/infra/nats/connection.ts';
import { startNatsServer, type TestNatsServer } from '../support/nats.ts';

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export function captureLogger(level: pino.Level = 'debug'): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino({ level }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  return { logger, lines };
}

export type ObserverCall = [method: keyof BusObserver, ...args: unknown[]];

export function recordingObserver(): BusObserver & { calls: ObserverCall[]; count(method: keyof BusObserver): number } {
  const calls: ObserverCall[] = [];
  return {
    calls,
    count: (method) => calls.filter((c) => c[0] === method).length,
    published: (subject) => void calls.push(['published', subject]),
    acked: (subject) => void calls.push(['acked', subject]),
    redelivered: (subject) => void calls.push(['redelivered', subject]),
    deadLettered: (subject, reason) => void calls.push(['deadLettered', subject, reason]),
    sequenceGap: (sender, missing) => void calls.push(['sequenceGap', sender, missing]),
    duplicate: (sender) => void calls.push(['duplicate', sender]),
    consuming: (subject) => void calls.push(['consuming', subject]),
  };
}

let counter = 0;

/** Stream names, subjects and bucket no other test uses. */
export function uniqueTopology(storage: 'file' | 'memory' = 'memory'): BusTopologyOptions & {
  prefix: string;
  streams: { tasks: string; events: string; dlq: string };
  kvBucket: string;
} {
  const id = `t${process.pid}x${++counter}`;
  return {
    prefix: id,
    streams: { tasks: `${id.toUpperCase()}_TASKS`, events: `${id.toUpperCase()}_EVENTS`, dlq: `${id.toUpperCase()}_DLQ` },
    kvBucket: `${id}-state`,
    storage,
  };
}

export async function connectTest(url: string, name = 'bus-test', logger?: Logger): Promise<NatsConnection> {
  return connectNats({
    servers: [url],
    name,
    connectDeadlineMs: 10_000,
    logger: logger ?? pino({ level: 'silent' }),
    reconnectTimeWaitMs: 100,
    reconnectJitterMs: 50,
  });
}

/**
 * When a test of the file fails, prints what explains it: whether the server is still running,
 * its last log lines, and the last bus/connection log lines.
 */
export function explainFailures(server: () => TestNatsServer | undefined, lines: LogLine[]): void {
  afterEach(async (context) => {
    if (context.task.result?.state !== 'fail') return;
    const nats = server();
    const exit = nats ? await Promise.race([nats.process.exited, Promise.resolve(undefined)]) : undefined;
    console.error(
      [
        `--- ${context.task.name}: nats-server ${nats ? (exit ? `exited ${JSON.stringify(exit)}` : `running, pid ${nats.process.pid}`) : 'not started'}`,
        ...(nats?.process.recentOutput().slice(-15) ?? []),
        '--- last log lines',
        ...lines.slice(-40).map((l) => JSON.stringify(l)),
      ].join('\n'),
    );
  });
}

export interface BusTestFile {
  readonly nats: TestNatsServer;
  readonly nc: NatsConnection;
  readonly logger: Logger;
  readonly lines: LogLine[];
  /** A Bus on its own streams (unique names), topology ensured, with a recording observer. */
  newBus(sender: string, storage?: 'file' | 'memory'): Promise<{
    bus: Bus;
    topology: ReturnType<typeof uniqueTopology>;
    observer: ReturnType<typeof recordingObserver>;
  }>;
}

/** One nats-server and one connection for the test file, stopped after it; failures explained. */
export function busTestFile(name: string): BusTestFile {
  let nats: TestNatsServer | undefined;
  let nc: NatsConnection | undefined;
  const { logger, lines } = captureLogger();
  explainFailures(() => nats, lines);
  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await connectTest(nats.url, name, logger);
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });
  const required = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${what} not started (used outside a test?)`);
    return value;
  };
  const file: BusTestFile = {
    get nats() {
      return required(nats, 'nats-server');
    },
    get nc() {
      return required(nc, 'NATS connection');
    },
    logger,
    lines,
    async newBus(sender, storage = 'memory') {
      const topology = uniqueTopology(storage);
      const observer = recordingObserver();
      const bus = new Bus(file.nc, { sender, topology, observer, logger });
      await bus.ensureTopology();
      return { bus, topology, observer };
    },
  };
  return file;
}
