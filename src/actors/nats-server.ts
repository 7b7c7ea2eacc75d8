/**
 * The embedded `nats-server -js`: an OS process child of the root supervisor, ready when
 * JetStream answers. Its store lives under the data directory so state survives restarts; its
 * port is chosen once per orchestra run so a restarted server comes back at the same URL.
 *
 * Alive is not serving: a server whose store hit `ENOSPC` wedges (JetStream stops answering, and
 * stays so once the disk has room again; src/infra/nats/jetstream-liveness.ts). Once JetStream
 * has not answered for a few probes and the store's disk has `health.minFreeDiskBytes` free
 * again, the server is killed and the actor fails (`nats_stalled`): its supervisor restarts it
 * like any crash (counted, backed off), and JetStream comes back from its store. While the disk
 * is still full a restart would only wedge again, so it waits, saying so once.
 */
import type { Logger } from 'pino';
import { ErrorCodes, MiyabiError } from '../errors.ts';
import { abortableDelay } from '../infra/backoff.ts';
import { natsServerArgs, waitForNatsReady } from '../infra/nats/embedded-server.ts';
import { watchJetStream, type JetStreamStall } from '../infra/nats/jetstream-liveness.ts';
import { diskSpace } from '../infra/os/disk.ts';
import { processLogic, type ChildSpec } from '../supervisor/index.ts';

export interface EmbeddedNatsOptions {
  binary: string;
  host: string;
  port: number;
  url: string;
  storeDir: string;
  /** The server's config: its users and their permissions (src/orchestra/nats-auth.ts). */
  configFile: string;
  /** The orchestrator's seed, for the readiness probe (the server refuses anonymous clients). */
  probeSeed: string;
  logger: Logger;
  readyTimeoutMs?: number;
  /** Free bytes the store's disk needs before a stalled server is restarted (`health.minFreeDiskBytes`, read when needed). */
  minFreeBytes: () => number;
  /** The JetStream probe's pace (defaults in src/infra/nats/jetstream-liveness.ts); tests shorten it. */
  liveness?: { intervalMs?: number; timeoutMs?: number; failures?: number };
}

/** How often a stalled server's disk is looked at for room. */
const ROOM_CHECK_MS = 1_000;

export function embeddedNatsChild(options: EmbeddedNatsOptions): ChildSpec<typeof processLogic> {
  const { logger } = options;
  const readyTimeoutMs = options.readyTimeoutMs ?? 15_000;
  // Ready only once this server says so *and* JetStream answers at the URL: a probe alone would
  // pass against another server that already holds the port.
  // One announcement per start: `readiness` runs when each new process has spawned, before
  // it can have printed anything.
  let announcedReady: () => void = () => {};
  return {
    id: 'nats-server',
    logic: processLogic,
    restart: 'permanent',
    shutdown: 10_000,
    startTimeoutMs: readyTimeoutMs + 1_000,
    input: {
      command: options.binary,
      // Ctrl-C must not kill the server before the bus and the agents have stopped against it.
      detached: true,
      args: natsServerArgs({
        host: options.host,
        port: options.port,
        storeDir: options.storeDir,
        serverName: 'miyabi-embedded',
        configFile: options.configFile,
      }),
      readiness: async () => {
        await new Promise<void>((resolve) => {
          announcedReady = resolve;
        });
        await waitForNatsReady(options.url, readyTimeoutMs, { nkeySeed: options.probeSeed });
      },
      liveness: async ({ pid }, signal) => {
        const stall = await watchJetStream({ url: options.url, nkeySeed: options.probeSeed, signal, ...options.liveness });
        if (stall === undefined) return undefined;
        logger.error({ pid, probes: stall.failures, forMs: stall.sinceMs, err: stall.lastError }, 'nats-server alive but JetStream not answering');
        if (!(await roomAgain(options, signal))) return undefined;
        return stalled(stall);
      },
      onOutput: (line) => {
        if (line.includes('Server is ready')) announcedReady();
        // nats-server tags its lines [INF] [WRN] [ERR] [FTL]; keep its own verdict on severity.
        if (line.includes('[ERR]') || line.includes('[FTL]')) logger.error({ line }, 'nats-server');
        else if (line.includes('[WRN]')) logger.warn({ line }, 'nats-server');
        else logger.debug({ line }, 'nats-server');
      },
    },
  };
}

/** True once the store's disk has room for a restarted server; false if `signal` aborts first. */
async function roomAgain(options: EmbeddedNatsOptions, signal: AbortSignal): Promise<boolean> {
  let said = false;
  while (!signal.aborted) {
    const freeBytes = (await diskSpace(options.storeDir))?.freeBytes;
    // Unknown (the file system cannot be read): a restart is worth more than waiting for ever.
    if (freeBytes === undefined || freeBytes >= options.minFreeBytes()) return true;
    if (!said) {
      options.logger.warn({ freeBytes, minFreeBytes: options.minFreeBytes(), storeDir: options.storeDir }, 'nats-server restart waits for room on the store disk (health.minFreeDiskBytes)');
      said = true;
    }
    await abortableDelay(ROOM_CHECK_MS, signal);
  }
  return false;
}

function stalled(stall: JetStreamStall): MiyabiError {
  return new MiyabiError(
    ErrorCodes.NatsStalled,
    `nats-server stalled: JetStream unanswered for ${stall.failures} probes (${stall.sinceMs} ms; ${stall.lastError}); restarting it`,
  );
}
