/**
 * Whether a running nats-server still serves JetStream: a probe connection of its own asks the
 * JetStream API for the account info every `intervalMs`, and the watch ends once `failures`
 * probes in a row went unanswered.
 *
 * Why a server's process being alive is not enough: nats-server 2.9.10 whose store hits `ENOSPC`
 * wedges without a word in its log (measured on a full tmpfs: every JetStream publish and API
 * request `timeout`, a plain request-reply on the publishing connection too, `/jsz` unanswered,
 * `/healthz` still `ok`, `SIGTERM` ignored) and stays so after the disk has room again; a restart
 * brings JetStream back from its store, nothing lost (issue #15, docs/CHAOS.md).
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, nkeyAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { describeError } from '../../errors.ts';
import { abortableDelay } from '../backoff.ts';

export interface JetStreamWatchOptions {
  url: string;
  /** The probe's identity on a server that requires one. */
  nkeySeed?: string;
  /** Between two probes. Default 2 s. */
  intervalMs?: number;
  /** A probe unanswered this long has failed. Default 3 s: an answer takes milliseconds. */
  timeoutMs?: number;
  /** Probes in a row that must fail. Default 3: one slow answer under load is no stall. */
  failures?: number;
  /** Ends the watch (the server stopped or exited); it then resolves undefined. */
  signal: AbortSignal;
}

/** Why a server no longer serves JetStream: the probes that failed and the last error. */
export interface JetStreamStall {
  failures: number;
  sinceMs: number;
  lastError: string;
}

/**
 * Resolves once the server at `url` has not answered the JetStream API `failures` times in a row,
 * or undefined when `signal` aborts first. Never rejects.
 */
export async function watchJetStream(options: JetStreamWatchOptions): Promise<JetStreamStall | undefined> {
  const intervalMs = options.intervalMs ?? 2_000;
  const timeoutMs = options.timeoutMs ?? 3_000;
  const needed = options.failures ?? 3;
  const { signal } = options;
  const authenticator = options.nkeySeed === undefined ? undefined : nkeyAuthenticator(new TextEncoder().encode(options.nkeySeed));
  let nc: NatsConnection | undefined;
  let failures = 0;
  let failingSince = 0;
  try {
    while (!signal.aborted) {
      try {
        nc ??= await connect({ servers: options.url, maxReconnectAttempts: -1, reconnectTimeWait: 250, timeout: timeoutMs, ...(authenticator ? { authenticator } : {}) });
        await probe(nc, timeoutMs);
        failures = 0;
      } catch (error) {
        if (signal.aborted) break;
        if (failures === 0) failingSince = Date.now();
        failures += 1;
        if (failures >= needed) return { failures, sinceMs: Date.now() - failingSince, lastError: describeError(error) };
      }
      await abortableDelay(intervalMs, signal);
    }
    return undefined;
  } finally {
    await nc?.close().catch(() => undefined);
  }
}

/** Whether JetStream answers on `nc` within `timeoutMs`; false without a connection. */
export async function jetStreamAnswers(nc: NatsConnection | undefined, timeoutMs: number): Promise<boolean> {
  if (nc === undefined || nc.isClosed()) return false;
  try {
    await probe(nc, timeoutMs);
    return true;
  } catch {
    return false;
  }
}

/** Resolves once JetStream answers on the connection `current()` gives, asked every `intervalMs`, or when `signal` aborts. */
export async function untilJetStreamAnswers(current: () => NatsConnection | undefined, options: { timeoutMs: number; intervalMs: number; signal: AbortSignal }): Promise<void> {
  while (!options.signal.aborted && !(await jetStreamAnswers(current(), options.timeoutMs))) {
    await abortableDelay(options.intervalMs, options.signal);
  }
}

/**
 * One probe: each stream's state, not only the account's. A stream whose store write hangs holds
 * its lock, and the account info alone can still answer for a while.
 */
async function probe(nc: NatsConnection, timeoutMs: number): Promise<void> {
  const jsm = await jetstreamManager(nc, { timeout: timeoutMs, checkAPI: false });
  await jsm.streams.list().next();
}
