/**
 * Retry delays for the infrastructure: the initial NATS connect, the nak of a failed handler, a
 * consumer's pull loop, a notification webhook; and the abortable wait between tries.
 *
 * `jitteredRetryDelayMs`: attempt 1 waits `initialMs`, each later attempt doubles it up to
 * `maxMs`; then up to `jitter` (a fraction, 0.2 = 20 %) of the delay is taken off at random so
 * that many clients retrying the same server don't retry in step. The formula is the shared one
 * (src/backoff.ts); this is the infrastructure's way of asking for it, attempts counted from 1.
 * (An issue's stage retries are not jittered: `stageRetryDelayMs`, src/machines.) Pure: the
 * random source is injected.
 */
import { backoffDelayMs } from '../backoff.ts';

export interface RetryBackoff {
  initialMs: number;
  maxMs: number;
  jitter: number;
}

export function jitteredRetryDelayMs(attempt: number, policy: RetryBackoff, random: () => number = Math.random): number {
  // Attempts count from 1; past 30 doublings the delay is the cap anyway (and 0 × 2^1024 is NaN).
  const retry = Math.min(Math.max(0, Math.floor(attempt) - 1), 30);
  const jitter = Math.min(1, Math.max(0, policy.jitter));
  return backoffDelayMs(retry, { baseMs: policy.initialMs, maxMs: policy.maxMs, jitter: -jitter }, random);
}

/** Resolves after `ms`, or at once when `signal` aborts; never rejects. */
export function abortableDelay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}
