import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCodes, MiyabiError } from '../../src/errors.ts';
import {
  findFreePort,
  findNatsServerBinary,
  natsServerArgs,
  spawnNatsServer,
  waitForNatsReady,
} from '../../src/infra/nats/embedded-server.ts';
import { runningNatsServers, startNatsServer } from '../support/nats.ts';

describe('nats-server', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  it('finds the binary on PATH or in /usr/sbin', () => {
    expect(findNatsServerBinary(undefined, { pathEnv: '' })).toMatch(/nats-server$/);
  });

  it('says which package to install when the binary is missing', () => {
    const missing = () => findNatsServerBinary(undefined, { pathEnv: '/nonexistent', fallbackDirs: [] });
    expect(missing).toThrow(MiyabiError);
    expect(missing).toThrow(/apt-get install nats-server/);
    expect(missing).toThrow(/nats\.urls/);
    try {
      findNatsServerBinary('/opt/nowhere/nats-server');
    } catch (error) {
      expect((error as MiyabiError).code).toBe(ErrorCodes.NatsServerMissing);
    }
    expect.assertions(4);
  });

  it('builds the arguments for JetStream with a store, address and port', () => {
    expect(natsServerArgs({ host: '127.0.0.1', port: 4333, storeDir: '/s', serverName: 'n1' })).toEqual([
      '-js', '-sd', '/s', '-a', '127.0.0.1', '-p', '4333', '-n', 'n1',
    ]);
  });

  it('reports a server that exits before it is ready, with its last log lines', async () => {
    await using first = await startNatsServer();
    const storeDir = await mkdtemp(path.join(tmpdir(), 'miyabi-nats-'));
    dirs.push(storeDir);
    const attempt = spawnNatsServer({ storeDir, port: first.port });
    await expect(attempt).rejects.toMatchObject({ code: ErrorCodes.NatsServerExited });
    await expect(attempt).rejects.toThrow(/address already in use/);
  });

  it('gives up waiting for readiness at the deadline with NatsUnreachable', async () => {
    const port = await findFreePort('127.0.0.1');
    const started = Date.now();
    // Without the deadline it would wait for ever: the test's own timeout is the upper bound.
    await expect(waitForNatsReady(`nats://127.0.0.1:${port}`, 300)).rejects.toMatchObject({ code: ErrorCodes.NatsUnreachable });
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  });

  it('the test helper stops, kills and restarts on the same port without leaking', async () => {
    const nats = await startNatsServer();
    const firstPid = nats.process.pid;
    const exit = await nats.kill();
    expect(exit.signal).toBe('SIGKILL');
    await nats.restart();
    expect(nats.process.pid).not.toBe(firstPid);
    await waitForNatsReady(nats.url, 5_000);
    await nats.stop();
    expect((await nats.process.exited).code).toBe(0);
    expect(runningNatsServers()).toBe(0);
  });
});
