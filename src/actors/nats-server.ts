/**
 * The embedded `nats-server -js`: an OS process child of the root supervisor, ready when
 * JetStream answers. Its store lives under the data directory so state survives restarts; its
 * port is chosen once per orchestra run so a restarted server comes back at the same URL.
 */
import type { Logger } from 'pino';
import { natsServerArgs, waitForNatsReady } from '../infra/nats/embedded-server.ts';
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
}

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
