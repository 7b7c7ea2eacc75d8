/**
 * One pause for the whole client: while a GitHub rate limit is in force, no request of the client
 * leaves — not only the one that met it. The throttling plugin retries the request that was
 * refused; without this gate every other request in flight, or started meanwhile, would go out
 * into the same limit and be refused too (each one more strike against a secondary limit).
 *
 *   primary limit     an answer saying `x-ratelimit-remaining: 0` (a 200 as well as the 403 or
 *                     429 refusal): the client pauses until `x-ratelimit-reset` (+1 s, as the
 *                     throttling plugin waits), so the next request never meets the refusal
 *   secondary limit   a 403 or 429 saying "secondary rate limit", or a 429 with `retry-after`:
 *                     the client pauses `retry-after` seconds (60 when absent)
 *
 * The gate is the innermost wrap of every attempt (registered before the other plugins), so each
 * attempt, retries included, waits at it. Waits are in GitHub's seconds times `unitMs` (1000; tests
 * shrink it, as they do the throttling plugin's `retryAfterBaseValue`), and at most `maxWaitSeconds`.
 * One info line per pause says when requests go out again.
 */
import type { Logger } from 'pino';

export type LimitKind = 'rate_limit' | 'secondary_rate_limit';

export interface LimitGateOptions {
  unitMs: number;
  maxWaitSeconds: number;
  logger: Logger;
  now?: () => number;
}

type Headers = Record<string, string | number | undefined>;

export class LimitGate {
  #until = 0;
  readonly #options: LimitGateOptions;
  readonly #now: () => number;

  constructor(options: LimitGateOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** When requests may go out again (ms since the epoch); in the past when they may now. */
  get until(): number {
    return this.#until;
  }

  /** Resolves once no limit is in force (at once when none is). */
  async wait(): Promise<void> {
    for (let left = this.#until - this.#now(); left > 0; left = this.#until - this.#now()) {
      await new Promise((resolve) => setTimeout(resolve, left));
    }
  }

  /** An answer's headers: a spent primary limit pauses the client until it resets. */
  answered(headers: Headers | undefined): void {
    if (headers === undefined || String(headers['x-ratelimit-remaining']) !== '0') return;
    const reset = Number(headers['x-ratelimit-reset']);
    if (!Number.isFinite(reset)) return;
    this.#pause('rate_limit', Math.max(0, reset - this.#now() / 1000) + 1);
  }

  /** A refusal: a primary limit (its headers) or a secondary one (its message, `retry-after`). */
  refused(error: unknown): void {
    const failure = error as { status?: number; message?: string; response?: { headers?: Headers; data?: { message?: unknown } } };
    const status = failure.status;
    if (status !== 403 && status !== 429) return;
    const headers = failure.response?.headers ?? {};
    const message = `${failure.message ?? ''} ${typeof failure.response?.data?.message === 'string' ? failure.response.data.message : ''}`;
    if (String(headers['x-ratelimit-remaining']) === '0') return this.answered(headers);
    const retryAfter = Number(headers['retry-after']);
    if (/\bsecondary rate\b/i.test(message) || (status === 429 && Number.isFinite(retryAfter))) {
      this.#pause('secondary_rate_limit', Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : 60);
    }
  }

  #pause(kind: LimitKind, seconds: number): void {
    const { unitMs, maxWaitSeconds, logger } = this.#options;
    const until = this.#now() + Math.min(seconds, maxWaitSeconds) * unitMs;
    if (until <= this.#until) return;
    const fresh = this.#until <= this.#now();
    this.#until = until;
    if (fresh) {
      const inSeconds = Math.round((until - this.#now()) / 100) / 10;
      logger.info({ github: { limit: kind, resumeAt: new Date(until).toISOString() } }, `GitHub ${kind.replaceAll('_', ' ')}: no request leaves for ${inSeconds} s`);
    }
  }
}
