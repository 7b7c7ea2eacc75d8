/**
 * The one exponential backoff of the orchestra: the infrastructure's retries
 * (`jitteredRetryDelayMs`, src/infra/backoff.ts), the supervisor's restarts
 * (src/supervisor/restart-policy.ts), an issue's stage retries (`stageRetryDelayMs`,
 * src/machines/issue-lifecycle-types.ts), an agent's own retry (src/runner/pane-runner.ts) and
 * the tracker writes' rounds (src/workflow/tracker-writer.ts) all compute their delay here, each
 * from its own settings.
 *
 * Retry `n` (counted from 0) waits `baseMs × 2^n`, capped at `maxMs`, then multiplied by
 * `1 + random() × jitter` and rounded to whole milliseconds:
 *
 *   jitter < 0   takes up to |jitter| of the delay off (the bus: never longer than the cap, so many
 *                clients retrying one server don't retry in step)
 *   jitter > 0   adds up to `jitter` of the delay on top (the supervisor, as Akka's
 *                restartWithBackoff: never shorter than the exponential)
 *   jitter = 0   no randomness (an issue's retries: a pure machine), `random` is not called
 *
 * Pure: no timers, the random source is injected. Never negative.
 */

export interface ExponentialBackoff {
  /** The delay of retry 0. */
  baseMs: number;
  /** The ceiling of the exponential part (before jitter). */
  maxMs: number;
  /** The random share of the delay: negative shortens, positive lengthens; default 0. */
  jitter?: number;
}

export function backoffDelayMs(retry: number, backoff: ExponentialBackoff, random: () => number = Math.random): number {
  const exponential = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.max(0, retry));
  const jitter = backoff.jitter ?? 0;
  const factor = jitter === 0 ? 1 : 1 + random() * jitter;
  return Math.max(0, Math.round(exponential * factor));
}
