/**
 * The one NATS connection of a process.
 *
 * Initial connect: retried with exponential backoff and jitter until `connectDeadlineMs`, each
 * failure logged at warn with the servers, the attempt, the next delay and the error code; after
 * the deadline, MiyabiError NatsUnreachable. Once connected: reconnect forever
 * (`maxReconnectAttempts: -1`, `reconnectTimeWait` plus jitter), every status change logged.
 *
 * Credentials arrive resolved (the config names environment variables; the caller reads them) and
 * are never logged; user:password in a URL is masked in log lines.
 */
import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, nkeyAuthenticator, type NatsConnection, type NodeConnectionOptions, type Status } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { describeError, ErrorCodes, MiyabiError } from '../../errors.ts';
import { abortableDelay, jitteredRetryDelayMs, type RetryBackoff } from '../backoff.ts';

export interface NatsAuth {
  user?: string;
  pass?: string;
  token?: string;
  /** Path of a `.creds` file (JWT + nkey seed). */
  credsFile?: string;
  /** An nkey user seed (`SU…`): the orchestra's own identities (./identities.ts). */
  nkeySeed?: string;
}

export interface NatsTls {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

export interface ConnectNatsOptions {
  servers: string[];
  /** Client name shown by the server's monitoring (`nats server report connections`). */
  name: string;
  auth?: NatsAuth;
  /** `true` or file paths require TLS; a `tls://` URL requires it too unless this is `false`. */
  tls?: NatsTls | boolean;
  connectDeadlineMs: number;
  logger: Logger;
  /** Initial-connect backoff; default 250 ms doubling to 5 s, 20 % jitter. */
  retry?: RetryBackoff;
  /**
   * Where this connection's request replies arrive (`<prefix>.<id>`); default `_INBOX`. An
   * identity allowed to subscribe only to its own prefix cannot read other clients' replies.
   */
  inboxPrefix?: string;
  /** Pause between reconnect attempts once connected; default 250 ms plus up to 250 ms jitter. */
  reconnectTimeWaitMs?: number;
  reconnectJitterMs?: number;
}

export const DEFAULT_CONNECT_RETRY: RetryBackoff = { initialMs: 250, maxMs: 5_000, jitter: 0.2 };
const DEFAULT_RECONNECT_WAIT_MS = 250;
const DEFAULT_RECONNECT_JITTER_MS = 250;
/** Within this long of one client's reconnect, every other client of the same server has reconnected too (by default). */
export const RECONNECT_WINDOW_MS = DEFAULT_RECONNECT_WAIT_MS + DEFAULT_RECONNECT_JITTER_MS;

/** `nats://user:secret@host:4222` → `nats://***@host:4222`: URLs are logged, secrets are not. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

/** The most specific code an error carries (`ECONNREFUSED`, a MiyabiError code), else its name. */
export function errorCode(error: unknown): string {
  if (error && typeof error === 'object') {
    const direct = (error as { code?: unknown }).code;
    if (typeof direct === 'string' || typeof direct === 'number') return String(direct);
    const cause = (error as { cause?: unknown }).cause;
    if (cause && typeof cause === 'object' && 'code' in cause) return errorCode(cause);
    if (error instanceof Error) return error.name;
  }
  return 'unknown';
}

export function natsConnectionOptions(options: ConnectNatsOptions): NodeConnectionOptions {
  const { auth = {}, tls } = options;
  const wantsTls = tls === true || typeof tls === 'object' || (tls !== false && options.servers.some((s) => s.startsWith('tls://')));
  const connection: NodeConnectionOptions = {
    servers: options.servers,
    name: options.name,
    maxReconnectAttempts: -1,
    // Short: a lost broker is usually the embedded one, back at the same URL in about 200 ms, and
    // every second the clients wait is a second no agent works (issue #15). The first attempt
    // right after the disconnect fails; the next one, after this pause, usually succeeds.
    reconnectTimeWait: options.reconnectTimeWaitMs ?? DEFAULT_RECONNECT_WAIT_MS,
    reconnectJitter: options.reconnectJitterMs ?? DEFAULT_RECONNECT_JITTER_MS,
    reconnectJitterTLS: options.reconnectJitterMs ?? 2 * DEFAULT_RECONNECT_JITTER_MS,
    waitOnFirstConnect: false,
    // An Error (with a stack) per request costs more than the publish itself at bus rates; our
    // errors name the subject and operation instead.
    noAsyncTraces: true,
  };
  if (auth.user !== undefined) connection.user = auth.user;
  if (auth.pass !== undefined) connection.pass = auth.pass;
  if (auth.token !== undefined) connection.token = auth.token;
  if (auth.credsFile !== undefined) {
    let creds: Uint8Array;
    try {
      creds = readFileSync(auth.credsFile);
    } catch (error) {
      throw new MiyabiError(ErrorCodes.ConfigUnreadable, `NATS credentials file ${auth.credsFile} unreadable: ${describeError(error)}`, {
        cause: error,
      });
    }
    connection.authenticator = credsAuthenticator(creds);
  }
  if (auth.nkeySeed !== undefined) connection.authenticator = nkeyAuthenticator(new TextEncoder().encode(auth.nkeySeed));
  if (options.inboxPrefix !== undefined) connection.inboxPrefix = options.inboxPrefix;
  if (wantsTls) connection.tls = typeof tls === 'object' ? { ...tls } : {};
  return connection;
}

export async function connectNats(options: ConnectNatsOptions): Promise<NatsConnection> {
  const { logger } = options;
  const servers = options.servers.map(redactUrl);
  const policy = options.retry ?? DEFAULT_CONNECT_RETRY;
  const connectionOptions = natsConnectionOptions(options);
  const deadline = Date.now() + options.connectDeadlineMs;
  let lastError: unknown;
  for (let attempt = 1; ; attempt++) {
    const remaining = deadline - Date.now();
    try {
      const nc = await connect({ ...connectionOptions, timeout: Math.max(100, Math.min(remaining, 5_000)) });
      logger.info({ servers, server: nc.getServer(), attempt }, 'nats connected');
      watchStatus(nc, logger);
      return nc;
    } catch (error) {
      lastError = error;
      const delayMs = Math.min(jitteredRetryDelayMs(attempt, policy), Math.max(0, deadline - Date.now()));
      const giveUp = Date.now() + delayMs >= deadline;
      logger.warn(
        { servers, attempt, nextDelayMs: giveUp ? null : delayMs, code: errorCode(error), err: describeError(error) },
        giveUp ? 'nats connect failed; deadline reached' : 'nats connect failed; retrying',
      );
      if (giveUp) break;
      await abortableDelay(delayMs);
    }
  }
  throw new MiyabiError(
    ErrorCodes.NatsUnreachable,
    `NATS unreachable at ${servers.join(', ')} after ${options.connectDeadlineMs} ms: ${describeError(lastError)}`,
    { cause: lastError },
  );
}

/** Logs every connection status change until the connection closes; never throws. */
function watchStatus(nc: NatsConnection, logger: Logger): void {
  void (async () => {
    for await (const status of nc.status()) logStatus(status, logger);
  })().catch((error: unknown) => logger.error({ err: describeError(error) }, 'nats status watcher failed'));
  void nc.closed().then((error) => {
    if (error) logger.error({ code: errorCode(error), err: describeError(error) }, 'nats connection closed on error');
    else logger.info('nats connection closed');
  });
}

function logStatus(status: Status, logger: Logger): void {
  switch (status.type) {
    case 'disconnect':
      logger.warn({ server: redactUrl(status.server) }, 'nats disconnected; reconnecting');
      return;
    case 'reconnect':
      logger.info({ server: redactUrl(status.server) }, 'nats reconnected');
      return;
    case 'reconnecting':
      logger.debug('nats reconnect attempt');
      return;
    case 'error':
      logger.error({ code: errorCode(status.error), err: describeError(status.error) }, 'nats async error');
      return;
    case 'staleConnection':
      logger.warn('nats connection stale; forcing reconnect');
      return;
    case 'ldm':
      logger.warn({ server: redactUrl(status.server) }, 'nats server entering lame duck mode');
      return;
    case 'slowConsumer':
      logger.warn({ subject: status.sub.getSubject(), pending: status.pending }, 'nats slow consumer');
      return;
    case 'update':
      logger.debug({ added: status.added, deleted: status.deleted }, 'nats cluster update');
      return;
    default:
      return;
  }
}
