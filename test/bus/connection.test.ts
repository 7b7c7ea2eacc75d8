import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/errors.ts';
import { connectNats, natsConnectionOptions, redactUrl } from '../../src/infra/nats/connection.ts';
import { findFreePort } from '../../src/infra/nats/embedded-server.ts';
import { startNatsServer, type TestNatsServer } from '../support/nats.ts';
import { waitFor } from '../support/wait.ts';
import { captureLogger } from './helpers.ts';

describe('NATS connection', () => {
  let nats: TestNatsServer;
  beforeAll(async () => {
    nats = await startNatsServer();
  });
  afterAll(() => nats.stop());

  it('fails with NatsUnreachable after the deadline, having logged each retry', async () => {
    const port = await findFreePort('127.0.0.1');
    const { logger, lines } = captureLogger();
    const started = Date.now();
    const attempt = connectNats({
      servers: [`nats://user:secret@127.0.0.1:${port}`],
      name: 'unreachable',
      connectDeadlineMs: 1_200,
      retry: { initialMs: 100, maxMs: 400, jitter: 0 },
      logger,
    });
    await expect(attempt).rejects.toMatchObject({ code: ErrorCodes.NatsUnreachable });
    const elapsed = Date.now() - started;
    // Without the deadline it would retry for ever: the test's own timeout is the upper bound.
    // It gives up once the next try (at most maxMs away) would land past the deadline.
    expect(elapsed).toBeGreaterThanOrEqual(1_200 - 400);
    const warnings = lines.filter((l) => l.msg.startsWith('nats connect failed'));
    expect(warnings.length).toBeGreaterThanOrEqual(3);
    expect(warnings[0]).toMatchObject({ level: 40, attempt: 1, nextDelayMs: 100, code: 'ECONNREFUSED' });
    expect(warnings[1]).toMatchObject({ attempt: 2, nextDelayMs: 200 });
    expect(warnings.at(-1)).toMatchObject({ msg: 'nats connect failed; deadline reached', nextDelayMs: null });
    expect(JSON.stringify(lines)).not.toContain('secret');
  });

  it('connects, and logs a disconnect and a reconnect when the server restarts', async () => {
    const { logger, lines } = captureLogger();
    const nc = await connectNats({ servers: [nats.url], name: 'status', connectDeadlineMs: 5_000, logger, reconnectTimeWaitMs: 100, reconnectJitterMs: 20 });
    try {
      await nats.kill();
      await waitFor(() => lines.some((l) => l.msg.startsWith('nats disconnected')), { what: 'disconnect log' });
      await nats.restart();
      await waitFor(() => lines.some((l) => l.msg === 'nats reconnected'), { what: 'reconnect log' });
      await nc.flush();
    } finally {
      await nc.close();
    }
  });

  it('builds options: reconnect forever, TLS when a tls:// URL asks, secrets passed through', () => {
    const { logger } = captureLogger();
    const options = natsConnectionOptions({
      servers: ['tls://nats.example:4222'],
      name: 'x',
      auth: { user: 'u', pass: 'p' },
      connectDeadlineMs: 1,
      logger,
    });
    expect(options).toMatchObject({ maxReconnectAttempts: -1, user: 'u', pass: 'p', tls: {} });
    expect(natsConnectionOptions({ servers: ['nats://a:1'], name: 'x', connectDeadlineMs: 1, logger }).tls).toBeUndefined();
    expect(() => natsConnectionOptions({ servers: ['nats://a:1'], name: 'x', connectDeadlineMs: 1, logger, auth: { credsFile: '/nope.creds' } })).toThrow(
      /credentials file/,
    );
    expect(redactUrl('nats://u:p@host:4222')).toBe('nats://***@host:4222');
  });
});
