/**
 * Retry delays for the bus: the initial NATS connect and the nak of a failed handler.
 *
 * Attempt 1 waits `initialMs`, each later attempt doubles it up to `maxMs`; then up to `jitter`
 * (a fraction, 0.2 = 20 %) of the delay is taken off at random so that many clients retrying the
 * same server don't retry in step. Pure: the random source is injected.
 */
export interface RetryBackoff {
  initialMs: number;
  maxMs: number;
  jitter: number;
}

export function retryDelayMs(attempt: number, policy: RetryBackoff, random: () => number = Math.random): number {
  const steps = Math.max(0, Math.floor(attempt) - 1);
  const ceiling = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(steps, 30));
  const jitter = Math.min(1, Math.max(0, policy.jitter));
  return Math.max(0, Math.round(ceiling * (1 - jitter * random())));
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
