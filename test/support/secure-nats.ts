/**
 * A `nats-server -js` locked as the orchestra locks its embedded one: the identities of a config
 * generated into a temporary data directory (src/orchestra/nats-auth.ts), the server started
 * with their users and permissions, and a connection as any of them. Every permission violation
 * a connection is told of is kept, so a test waits for the refusal itself, not for time.
 *
 *   const nats = await startSecureNats(['codegen', 'review']);
 *   const runner = await nats.connectAs('runner-codegen-1');
 *   runner.nc.publish('miyabi.control.stop', '');
 *   await runner.refused('miyabi.control.stop');
 */
import { connect, nkeyAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { configSchema, type OrchestraConfig } from '../../src/config/schema.ts';
import { Bus } from '../../src/infra/bus/bus.ts';
import { inboxPrefixOf, type NatsIdentity } from '../../src/infra/nats/identities.ts';
import { findFreePort, spawnNatsServer, type NatsServerProcess } from '../../src/infra/nats/embedded-server.ts';
import { externalServerConfig, ORCHESTRATOR, prepareNatsAuth } from '../../src/orchestra/nats-auth.ts';
import { taskConsumer } from '../../src/runner/task-message.ts';
import { tempDir, type TempDir } from './cli.ts';
import { deferred } from './wait.ts';

export interface Client {
  nc: NatsConnection;
  /** Every permission violation the server reported to this connection, as its text. */
  violations: string[];
  /**
   * Resolves when the server refuses to let this connection `Publish` to (or take a
   * `Subscription` to) `subject` — a subject, or a pattern for one — already, or later.
   */
  refused(kind: 'Publish' | 'Subscription', subject: string | RegExp): Promise<string>;
}

export interface SecureNats {
  url: string;
  /** The server's monitoring endpoint (`/connz`, …) on 127.0.0.1. */
  monitorUrl: string;
  dir: TempDir;
  config: OrchestraConfig;
  identities: Map<string, NatsIdentity>;
  server: NatsServerProcess;
  connectAs(identity: string, options?: { inboxPrefix?: string; seed?: string }): Promise<Client>;
  /** The orchestrator's bus with the streams, the KV bucket and each role's task consumer. */
  orchestratorBus(): Promise<{ client: Client; bus: Bus }>;
  stop(): Promise<void>;
}

export function watchViolations(nc: NatsConnection): Pick<Client, 'violations' | 'refused'> {
  const violations: string[] = [];
  const waiting: Array<{ matches: (text: string) => boolean; resolve: (text: string) => void }> = [];
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type !== 'error') continue;
      const text = String((status.error as Error | undefined)?.message ?? status.error);
      if (!/permissions violation/i.test(text)) continue;
      violations.push(text);
      for (const waiter of [...waiting]) if (waiter.matches(text)) waiter.resolve(text);
    }
  })();
  return {
    violations,
    refused: (kind, subject) => {
      const matches = (text: string) => {
        const named = /for (Publish|Subscription) to "([^"]*)"/.exec(text);
        return named?.[1] === kind && (typeof subject === 'string' ? named[2] === subject : subject.test(named[2]!));
      };
      const seen = violations.find(matches);
      if (seen) return Promise.resolve(seen);
      const found = deferred<string>();
      waiting.push({ matches, resolve: found.resolve });
      return found.promise;
    },
  };
}

/**
 * `max`: a role's pool size (1 by default): one runner identity per slot, and the spare's.
 * `account`: the server is configured as an external one would be, with what `nats-config`
 * prints (the users in an account of that name with JetStream) instead of the embedded config.
 */
export async function startSecureNats(roles: readonly string[], options: { account?: string; max?: Record<string, number> } = {}): Promise<SecureNats> {
  const dir = await tempDir('miyabi-secure-nats-');
  const config = configSchema.parse({
    dataDir: join(dir.path, 'data'),
    bus: { storage: 'memory' },
    agents: Object.fromEntries(roles.map((role) => [role, { command: ['true'], max: options.max?.[role] ?? 1 }])),
  });
  const { identities, serverConfigFile } = await prepareNatsAuth(config, { repair: true });
  const authorization = options.account === undefined ? await readFile(serverConfigFile!, 'utf8') : externalServerConfig(identities, config, options.account);
  // The same users, and the monitoring endpoint the tests read the server's connections from.
  const monitorPort = await findFreePort('127.0.0.1');
  const configFile = await dir.file('server.conf', `${authorization}\nhttp: "127.0.0.1:${monitorPort}"\n`);
  const server = await spawnNatsServer({
    storeDir: join(dir.path, 'store'),
    configFile,
    nkeySeed: identities.get(ORCHESTRATOR)!.seed,
  });
  process.once('exit', () => {
    try {
      process.kill(server.pid, 'SIGKILL');
    } catch {
      // gone
    }
  });
  const clients: NatsConnection[] = [];
  const connectAs = async (name: string, options: { inboxPrefix?: string; seed?: string } = {}): Promise<Client> => {
    const seed = options.seed ?? identities.get(name)!.seed;
    const nc = await connect({
      servers: server.url,
      authenticator: nkeyAuthenticator(new TextEncoder().encode(seed)),
      inboxPrefix: options.inboxPrefix ?? inboxPrefixOf(name),
      reconnect: false,
    });
    clients.push(nc);
    return { nc, ...watchViolations(nc) };
  };
  let orchestrator: { client: Client; bus: Bus } | undefined;
  return {
    url: server.url,
    monitorUrl: `http://127.0.0.1:${monitorPort}`,
    dir,
    config,
    identities,
    server,
    connectAs,
    async orchestratorBus() {
      if (orchestrator) return orchestrator;
      const client = await connectAs(ORCHESTRATOR);
      const bus = new Bus(client.nc, { sender: 'orchestra', logger: pino({ level: 'silent' }), topology: { storage: 'memory' } });
      await bus.ensureTopology();
      for (const role of roles) await bus.backlog(taskConsumer(role, config.bus));
      orchestrator = { client, bus };
      return orchestrator;
    },
    async stop() {
      await orchestrator?.bus.close();
      for (const nc of clients) if (!nc.isClosed()) await nc.close();
      await server.stop(5_000);
      await dir[Symbol.asyncDispose]();
    },
  };
}
