/**
 * Running a local `nats-server -js`: finding the binary, its arguments, a free port, readiness,
 * and one spawned process with a graceful stop. No supervision here: whoever owns the process
 * (the embedded-NATS child of the tree, or the test helper) watches `exited` and decides.
 *
 * Readiness is a probe, not a sleep: connect, ask the JetStream API for the account info, close.
 * A server whose client port is open but whose JetStream is still recovering streams is not ready.
 * A spawned server must also have logged "Server is ready" itself: a probe alone could be answered
 * by another server holding the port.
 */
import { accessSync, constants as fsConstants } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, nkeyAuthenticator } from '@nats-io/transport-node';
import { execa } from 'execa';
import type { Logger } from 'pino';
import { describeError, ErrorCodes, MiyabiError } from '../../errors.ts';
import { abortableDelay } from '../backoff.ts';

const INSTALL_HINT =
  "install the Debian package `nats-server` (`apt-get install nats-server`) or set `nats.urls` in the config to use an existing NATS server";

/** Directories searched after PATH: Debian installs nats-server in /usr/sbin, often not on a user's PATH. */
export const NATS_SERVER_FALLBACK_DIRS = ['/usr/sbin', '/usr/local/sbin', '/sbin', '/usr/local/bin', '/usr/bin'];

function isExecutable(file: string): boolean {
  try {
    accessSync(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The nats-server binary to run: `configured` if given (a path, or a name looked up like the
 * default), else `nats-server` on PATH or in the sbin directories. Throws NatsServerMissing.
 */
export function findNatsServerBinary(
  configured?: string,
  options: { pathEnv?: string; fallbackDirs?: readonly string[] } = {},
): string {
  const name = configured ?? 'nats-server';
  if (name.includes(path.sep)) {
    if (isExecutable(name)) return name;
    throw new MiyabiError(
      ErrorCodes.NatsServerMissing,
      `configured nats-server binary ${name} does not exist or is not executable: ${INSTALL_HINT}`,
    );
  }
  const pathDirs = (options.pathEnv ?? process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  const dirs = [...new Set([...pathDirs, ...(options.fallbackDirs ?? NATS_SERVER_FALLBACK_DIRS)])];
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  throw new MiyabiError(
    ErrorCodes.NatsServerMissing,
    `${name} not found on PATH nor in ${(options.fallbackDirs ?? NATS_SERVER_FALLBACK_DIRS).join(', ')}: ${INSTALL_HINT}`,
  );
}

export interface NatsServerArgsOptions {
  host: string;
  port: number;
  storeDir: string;
  serverName?: string;
  /** A config file (the orchestra's: its users and their permissions); the flags override it. */
  configFile?: string;
}

/** Arguments for `nats-server`: its config file, JetStream on, store directory, listen address. */
export function natsServerArgs(options: NatsServerArgsOptions): string[] {
  const args = [...(options.configFile ? ['-c', options.configFile] : []), '-js', '-sd', options.storeDir, '-a', options.host, '-p', String(options.port)];
  if (options.serverName) args.push('-n', options.serverName);
  return args;
}

export function natsUrl(host: string, port: number): string {
  return `nats://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * A port that was free a moment ago on `host` (the OS picks it). nats-server cannot be asked for
 * "any port" and report it, so the caller passes this one; a lost race shows up as an early exit.
 */
export function findFreePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error(`no port assigned on ${host}`))));
    });
  });
}

/**
 * Resolves once a NATS server at `url` accepts a connection and answers the JetStream API;
 * throws NatsUnreachable after `timeoutMs`, or at once (same code) when `signal` aborts.
 */
export async function waitForNatsReady(
  url: string,
  timeoutMs: number,
  options: { signal?: AbortSignal; /** The probe's identity on a server that requires one. */ nkeySeed?: string } = {},
): Promise<void> {
  const authenticator = options.nkeySeed === undefined ? undefined : nkeyAuthenticator(new TextEncoder().encode(options.nkeySeed));
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (let probe = 1; ; probe++) {
    if (options.signal?.aborted) break;
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    try {
      const nc = await connect({
        servers: url,
        reconnect: false,
        timeout: Math.max(50, Math.min(remaining, 2_000)),
        ...(authenticator ? { authenticator } : {}),
      });
      try {
        await jetstreamManager(nc, { timeout: Math.max(50, Math.min(deadline - Date.now(), 2_000)) });
        return;
      } finally {
        await nc.close();
      }
    } catch (error) {
      lastError = error;
    }
    await abortableDelay(Math.min(25 * probe, 250, Math.max(0, deadline - Date.now())), options.signal);
  }
  throw new MiyabiError(
    ErrorCodes.NatsUnreachable,
    `NATS server at ${url} not ready after ${timeoutMs} ms${options.signal?.aborted ? ' (aborted)' : ''}: ${describeError(lastError)}`,
    { cause: lastError },
  );
}

export interface NatsServerExit {
  code: number | null;
  signal: string | null;
  /** The last lines nats-server wrote (it logs to stderr): the reason for an unexpected exit. */
  stderrTail: string[];
}

export interface NatsServerProcess {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly storeDir: string;
  readonly pid: number;
  /** Settles (never rejects) when the process has exited, for whatever reason. */
  readonly exited: Promise<NatsServerExit>;
  /** SIGINT (nats-server's clean shutdown, exit 0), then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<NatsServerExit>;
  /** SIGKILL: a crash, for tests and for a server that ignores the stop. */
  kill(): Promise<NatsServerExit>;
  /** Its last log lines, for diagnosing a problem while it runs. */
  recentOutput(): string[];
}

export interface SpawnNatsServerOptions {
  storeDir: string;
  binary?: string;
  host?: string;
  /** Default: a free port; an early exit because the port was taken meanwhile retries on another. */
  port?: number;
  serverName?: string;
  /** A config file with users (./server-config.ts); `nkeySeed` is then the readiness probe's identity. */
  configFile?: string;
  nkeySeed?: string;
  readyTimeoutMs?: number;
  logger?: Logger;
}

const STDERR_TAIL_LINES = 40;

/**
 * Starts `nats-server -js` and resolves when it is ready. Throws NatsServerMissing without a
 * binary, NatsServerExited (with its last log lines) when it exits before it is ready, and
 * NatsUnreachable (after killing it) when it is not ready in time.
 */
export async function spawnNatsServer(options: SpawnNatsServerOptions): Promise<NatsServerProcess> {
  const binary = findNatsServerBinary(options.binary);
  const host = options.host ?? '127.0.0.1';
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await findFreePort(host));
    try {
      return await spawnOnce(binary, { ...options, host, port });
    } catch (error) {
      const portTaken =
        error instanceof MiyabiError &&
        error.code === ErrorCodes.NatsServerExited &&
        /address already in use/i.test(error.message);
      if (options.port !== undefined || !portTaken || attempt >= 3) throw error;
    }
  }
}

async function spawnOnce(
  binary: string,
  options: SpawnNatsServerOptions & { host: string; port: number },
): Promise<NatsServerProcess> {
  const { host, port, storeDir, logger } = options;
  const args = natsServerArgs({ host, port, storeDir, serverName: options.serverName, configFile: options.configFile });
  const child = execa(binary, args, {
    stdin: 'ignore',
    stdout: 'ignore',
    stderr: 'pipe',
    buffer: false,
    reject: false,
    cleanup: true,
  });
  const tail: string[] = [];
  let announceReady: () => void = () => undefined;
  const announced = new Promise<void>((resolve) => (announceReady = resolve));
  const lines = createInterface({ input: child.stderr });
  lines.on('line', (line) => {
    if (line.includes('Server is ready')) announceReady();
    tail.push(line);
    if (tail.length > STDERR_TAIL_LINES) tail.shift();
    if (/\[(ERR|FTL)\]/.test(line)) logger?.warn({ natsServer: line }, 'nats-server error');
    else logger?.debug({ natsServer: line }, 'nats-server');
  });
  const exited: Promise<NatsServerExit> = child.then(
    (result) => ({ code: result.exitCode ?? null, signal: result.signal ?? null, stderrTail: [...tail] }),
    (error: unknown) => ({ code: null, signal: null, stderrTail: [...tail, describeError(error)] }),
  );
  const url = natsUrl(host, port);
  const abort = new AbortController();
  void exited.then(() => abort.abort());
  const readyTimeoutMs = options.readyTimeoutMs ?? 10_000;
  const started = Date.now();
  try {
    // Its own log line first: the port may answer for another server (a lost port race), and
    // that one must not pass for ours. Then the probe, for JetStream.
    await Promise.race([announced, abortableDelay(readyTimeoutMs, abort.signal)]);
    await waitForNatsReady(url, Math.max(1, readyTimeoutMs - (Date.now() - started)), {
      signal: abort.signal,
      ...(options.nkeySeed === undefined ? {} : { nkeySeed: options.nkeySeed }),
    });
  } catch (error) {
    if (abort.signal.aborted) {
      const exit = await exited;
      throw new MiyabiError(
        ErrorCodes.NatsServerExited,
        `nats-server exited before it was ready (code ${exit.code}, signal ${exit.signal}): ${exit.stderrTail.slice(-5).join(' | ')}`,
        { cause: error },
      );
    }
    child.kill('SIGKILL');
    await exited;
    throw error;
  }
  logger?.info({ url, pid: child.pid, storeDir }, 'nats-server ready');
  const signal = async (name: NodeJS.Signals, graceMs: number): Promise<NatsServerExit> => {
    child.kill(name);
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };
  return {
    url,
    host,
    port,
    storeDir,
    pid: child.pid ?? -1,
    exited,
    stop: (graceMs = 5_000) => signal('SIGINT', graceMs),
    kill: () => signal('SIGKILL', 0),
    recentOutput: () => [...tail],
  };
}
