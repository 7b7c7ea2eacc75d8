/**
 * A private `nats-server -js` for a test file: a free port, a temporary store, ready before it
 * returns; `stop()` (clean), `kill()` (SIGKILL, a crash) and `restart()` (same port and store).
 *
 *   const nats = await startNatsServer();
 *   afterAll(() => nats.stop());          // or: await using nats = await startNatsServer();
 *
 * Never leaks a process: every server started is tracked, and a process 'exit' handler SIGKILLs
 * whatever is still running (execa's own cleanup does the same on signals).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnNatsServer, type NatsServerExit, type NatsServerProcess } from '../../src/infra/nats/embedded-server.ts';

export interface TestNatsServer {
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  /** The process currently running (changes on restart). */
  readonly process: NatsServerProcess;
  /** Clean shutdown, then removes the store. */
  stop(): Promise<void>;
  /** SIGKILL; the store stays for restart(). */
  kill(): Promise<NatsServerExit>;
  /** Starts again on the same port with the same store (after kill() or alone: it stops first). */
  restart(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const running = new Set<NatsServerProcess>();
let exitHookInstalled = false;

/** Every server started by a test helper is tracked here, and SIGKILLed at exit if still running. */
export function trackNatsServer(server: NatsServerProcess): NatsServerProcess {
  running.add(server);
  void server.exited.then(() => running.delete(server));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const leftover of running) {
        try {
          process.kill(leftover.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    });
  }
  return server;
}

/** `config`: the text of a server config of the test's own (accounts with JetStream limits, say; a `no_auth_user` for the readiness probe). */
export async function startNatsServer(options: { serverName?: string; config?: string } = {}): Promise<TestNatsServer> {
  const storeDir = await mkdtemp(path.join(tmpdir(), 'miyabi-nats-'));
  const configFile = options.config === undefined ? undefined : path.join(storeDir, 'test-server.conf');
  if (configFile !== undefined) await writeFile(configFile, options.config!);
  let current = trackNatsServer(await spawnNatsServer({ storeDir, serverName: options.serverName, configFile }));
  const port = current.port;
  let stopped = false;

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await current.stop(5_000);
    await rm(storeDir, { recursive: true, force: true });
  };

  return {
    url: current.url,
    port,
    storeDir,
    get process() {
      return current;
    },
    stop,
    kill: () => current.kill(),
    async restart() {
      await current.stop(5_000);
      current = trackNatsServer(await spawnNatsServer({ storeDir, port, serverName: options.serverName, configFile }));
    },
    [Symbol.asyncDispose]: stop,
  };
}

/** How many test servers are running in this process (a test can assert none is left). */
export function runningNatsServers(): number {
  return running.size;
}
