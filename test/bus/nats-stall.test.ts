/**
 * The embedded nats-server on a disk that fills (issue #15): its store on a tmpfs of its own,
 * filled to `ENOSPC` while a stream is written. nats-server 2.9.10 then wedges for good (JetStream
 * unanswered, `SIGTERM` ignored). Its actor must notice, wait while the disk is still full (a
 * restart would only wedge again), and once there is room restart it as a crash of its own kind
 * (`nats_stalled`), JetStream back with every message it had stored.
 *
 * Needs root or CAP_SYS_ADMIN (to mount the tmpfs): without it the test fails saying so.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, nkeyAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddedNatsChild } from '../../src/actors/nats-server.ts';
import { configSchema } from '../../src/config/schema.ts';
import { ErrorCodes } from '../../src/errors.ts';
import { findFreePort, findNatsServerBinary, natsUrl } from '../../src/infra/nats/embedded-server.ts';
import { ORCHESTRATOR, prepareNatsAuth } from '../../src/orchestra/nats-auth.ts';
import type { SupervisorEvent } from '../../src/supervisor/index.ts';
import { fillWithBallast, freeBytes, mountTmpfs, removeBallast, unmountTmpfs } from '../chaos/full-disk.ts';
import { tempDir, type TempDir } from '../support/cli.ts';
import { waitFor } from '../support/wait.ts';
import { startTree, type RunningTree } from '../supervisor/helpers.ts';

const MIB = 1024 * 1024;

describe('the embedded nats-server on a disk that fills', () => {
  let dir: TempDir;
  let store: string;
  let mounted = false;
  let tree: RunningTree | undefined;
  let nc: NatsConnection | undefined;
  const said: Array<{ msg: string; err?: string }> = [];

  beforeAll(async () => {
    dir = await tempDir('miyabi-nats-stall-');
    store = join(dir.path, 'store');
    await mkdir(store);
    await mountTmpfs(store, 16 * MIB);
    mounted = true;
  });

  afterAll(async () => {
    await nc?.close();
    await tree?.stop();
    if (mounted) await unmountTmpfs(store);
    await dir?.[Symbol.asyncDispose]();
  }, 30_000);

  it('restarts a server wedged by ENOSPC once the disk has room again, nothing stored lost', { timeout: 60_000 }, async () => {
    const config = configSchema.parse({ dataDir: join(dir.path, 'data'), agents: { codegen: { command: ['true'] } } });
    const { identities, serverConfigFile } = await prepareNatsAuth(config, { repair: true });
    const seed = identities.get(ORCHESTRATOR)!.seed;
    const port = await findFreePort('127.0.0.1');
    const url = natsUrl('127.0.0.1', port);
    const logger = pino({ level: 'info' }, { write: (line: string) => void said.push(JSON.parse(line) as { msg: string; err?: string }) });
    const minFreeBytes = 4 * MIB;
    tree = await startTree({
      id: 'broker',
      strategy: 'one_for_one',
      restartIntensity: 3,
      restartPeriodMs: 60_000,
      children: [
        embeddedNatsChild({
          binary: findNatsServerBinary(),
          host: '127.0.0.1',
          port,
          url,
          storeDir: store,
          configFile: serverConfigFile!,
          probeSeed: seed,
          logger,
          minFreeBytes: () => minFreeBytes,
          liveness: { intervalMs: 200, timeoutMs: 500, failures: 3 },
        }),
      ],
    });
    const events = tree.events;
    nc = await connect({ servers: url, authenticator: nkeyAuthenticator(new TextEncoder().encode(seed)), maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    const jsm = await jetstreamManager(nc, { timeout: 1_000 });
    await jsm.streams.add({ name: 'STALL', subjects: ['stall.>'], max_bytes: 4 * MIB });
    const js = jetstream(nc, { timeout: 1_000 });
    await js.publish('stall.kept', 'stored before the disk filled');

    // The disk fills, and the store is written: the server wedges.
    const ballast = join(store, 'ballast');
    await fillWithBallast(ballast);
    expect(await freeBytes(store)).toBeLessThan(minFreeBytes);
    await waitFor(async () => {
      await js.publish('stall.more', Buffer.alloc(8_192, 0x41)).catch(() => undefined);
      return said.some((line) => line.msg === 'nats-server restart waits for room on the store disk (health.minFreeDiskBytes)') || undefined;
    }, { timeoutMs: 30_000, what: 'the stall noticed, the restart waiting for room' });
    // Noticed, but not restarted while the disk is full.
    expect(said.some((line) => line.msg === 'nats-server alive but JetStream not answering')).toBe(true);
    expect(events.filter((event) => event.type === 'child.restarting')).toEqual([]);

    // Room again: restarted as a stall (its own fault kind), JetStream back from its store.
    await removeBallast(ballast);
    const exit = await waitFor(
      () => events.find((event): event is Extract<SupervisorEvent, { type: 'child.exited' }> => event.type === 'child.exited' && event.child === 'nats-server'),
      { timeoutMs: 15_000, what: 'the stalled server to be ended' },
    );
    expect(exit.exit.kind).toBe('crash');
    expect((exit.exit as { error: { code: string } }).error.code).toBe(ErrorCodes.NatsStalled);
    await waitFor(() => events.some((event) => event.type === 'child.started' && event.child === 'nats-server' && event.restarts === 1) || undefined, { timeoutMs: 20_000, what: 'the server restarted' });
    const kept = await waitFor(async () => (await jsm.streams.getMessage('STALL', { last_by_subj: 'stall.kept' }).catch(() => null)) ?? undefined, { timeoutMs: 15_000, what: 'the stored message back' });
    expect(new TextDecoder().decode(kept.data)).toBe('stored before the disk filled');
    await js.publish('stall.after', 'written after the restart');
  });
});
