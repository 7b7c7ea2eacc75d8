/**
 * The octokit client of the github issue source: `@octokit/rest` with the throttling and retry
 * plugins, configured so GitHub's limits and outages are waited out rather than failed on.
 *
 *   primary rate limit    403/429 with `x-ratelimit-remaining: 0`: wait until `x-ratelimit-reset`
 *                         (+1 s), then retry; up to `maxRateLimitRetries` times and only when the
 *                         wait is at most `maxRateLimitWaitSeconds`, else the call fails
 *   secondary rate limit  403/429 saying "secondary rate limit": wait `retry-after` seconds (60
 *                         when absent), then retry, with the same bounds
 *   either limit          the whole client pauses, not only the request that met it: no request
 *                         leaves while a limit is in force (./github-limits.ts), and an answer
 *                         saying the primary limit is spent pauses it before any refusal
 *   5xx, network errors   retried `retries` times with a quadratic backoff (1, 4, 9 … × base);
 *                         a request that does not answer within `requestTimeoutMs` is a network
 *                         error too
 *   4xx                   never retried (400, 401, 403, 404, 410, 422, 451 and 429 outside the
 *                         rate-limit cases above)
 *   writes                spaced by the throttling plugin as GitHub asks (1 s between writes, 3 s
 *                         between writes that notify) unless `writeSpacing: false` (tests)
 *
 * Every outage is one warn log line (method, path, status: never a header, so never the token)
 * and one `onOutage` call, so the orchestra can count it in a metric:
 *
 *   { kind, request, status?, retryAfterSeconds?, attempt, willRetry }   each failed attempt
 *   { kind, request, attempt, recovered: true }                        the request succeeded after
 *
 * `status` is the answer of a 5xx; a rate limit's status (403 or 429) is not reported.
 *
 * `kind` is the outage of the last failed attempt. A 304 (Not Modified) is an answer, not an
 * outage.
 */
import { Octokit } from '@octokit/rest';
import { retry } from '@octokit/plugin-retry';
import { throttling, type ThrottlingOptions } from '@octokit/plugin-throttling';
import type { Logger } from 'pino';
import { IssueErrorCodes, IssueSourceError } from './errors.ts';
import { LimitGate } from './github-limits.ts';

export const GITHUB_OUTAGE_KINDS = ['rate_limit', 'secondary_rate_limit', 'server_error', 'network'] as const;
export type GitHubOutageKind = (typeof GITHUB_OUTAGE_KINDS)[number];

export interface GitHubOutage {
  kind: GitHubOutageKind;
  /** `GET /repos/o/r/issues`: method and path, no query, no headers. */
  request: string;
  /** The HTTP status of a 5xx; absent for rate limits, network errors and recoveries. */
  status?: number;
  /** The wait before the next attempt, in seconds. */
  retryAfterSeconds?: number;
  /** 1 for the first attempt. */
  attempt: number;
  /** The client tries again after this failure (absent on a recovery). */
  willRetry?: boolean;
  /** True once: the request succeeded after this many attempts. */
  recovered?: boolean;
}

export interface GitHubClientOptions {
  /** Default https://api.github.com (GitHub Enterprise: https://host/api/v3). */
  baseUrl?: string;
  token: string;
  logger: Logger;
  onOutage?: (outage: GitHubOutage) => void;
  /** Each answer's rate-limit headers (`x-ratelimit-resource`, `-remaining`, `-limit`), for the metrics. */
  onRateLimit?: (resource: string, remaining: number, limit: number) => void;
  /** Retries of a 5xx or network error; default 3. */
  retries?: number;
  /** Backoff unit of those retries: attempt n waits n² × this; default 1000 ms. */
  retryBaseMs?: number;
  /** Unit of GitHub's retry-after and reset waits (seconds); default 1000 ms. Tests shrink it. */
  rateLimitUnitMs?: number;
  /** Default 3. */
  maxRateLimitRetries?: number;
  /** A longer rate-limit wait fails the call instead; default 3600 s (a primary limit's hour). */
  maxRateLimitWaitSeconds?: number;
  /** Default true: GitHub's spacing between writes. */
  writeSpacing?: boolean;
  /** Default 30 000 ms per attempt. */
  requestTimeoutMs?: number;
  userAgent?: string;
}

export const GitHubOctokit = Octokit.plugin(pauseOnLimits, observeOutages, retry, throttling);
export type GitHubOctokit = InstanceType<typeof GitHubOctokit>;

/** The octokit a plugin receives (@octokit/core's class, which @octokit/rest extends). */
type CoreOctokit = Parameters<Parameters<typeof Octokit.plugin>[0]>[0];

interface EndpointOptions {
  method: string;
  url: string;
  baseUrl?: string;
  request?: { retries?: number; retryCount?: number };
  [key: string]: unknown;
}

interface OutageTracker {
  report(options: EndpointOptions, outage: Omit<GitHubOutage, 'request' | 'attempt'> & { attempt?: number }): void;
  recovered(options: EndpointOptions): void;
  retries: number;
  retryBaseMs: number;
}

/** Per client: the outage of each request still in flight, keyed by its options object. */
const trackers = new WeakMap<object, OutageTracker>();
/** Per client: the one pause every request waits out while a rate limit is in force. */
const gates = new WeakMap<object, LimitGate>();
/** Per client: who hears of each answer's rate-limit headers. */
const rateListeners = new WeakMap<object, NonNullable<GitHubClientOptions['onRateLimit']>>();

function reportRateLimit(octokit: object, headers: Record<string, string | number | undefined>): void {
  const listener = rateListeners.get(octokit);
  const remaining = Number(headers['x-ratelimit-remaining']);
  const limit = Number(headers['x-ratelimit-limit']);
  if (!listener || headers['x-ratelimit-remaining'] === undefined || !Number.isFinite(remaining) || !Number.isFinite(limit)) return;
  try {
    listener(String(headers['x-ratelimit-resource'] ?? 'core'), remaining, limit);
  } catch {
    // a metric is never a reason to fail a request
  }
}

/** The innermost wrap of every attempt: waits while a limit is in force, and learns of limits from answers. */
function pauseOnLimits(octokit: CoreOctokit): Record<string, never> {
  octokit.hook.wrap('request', async (request, options) => {
    const gate = gates.get(octokit);
    await gate?.wait();
    try {
      const response = await request(options);
      gate?.answered(response.headers as Record<string, string | number | undefined>);
      reportRateLimit(octokit, response.headers as Record<string, string | number | undefined>);
      return response;
    } catch (error) {
      gate?.refused(error);
      throw error;
    }
  });
  return {};
}
const lastOutage = new WeakMap<object, { kind: GitHubOutageKind; attempts: number }>();

/**
 * The innermost wrap of every attempt (registered before the retry and throttling plugins, so it
 * sees each attempt they make): reports 5xx and network failures and recoveries.
 */
function observeOutages(octokit: CoreOctokit): Record<string, never> {
  octokit.hook.wrap('request', async (request, options) => {
    const endpoint = options as unknown as EndpointOptions;
    const tracker = trackers.get(octokit);
    try {
      const response = await request(options);
      tracker?.recovered(endpoint);
      return response;
    } catch (error) {
      const status = (error as { status?: number }).status;
      const hasResponse = (error as { response?: unknown }).response !== undefined;
      if (tracker !== undefined && (status === undefined || status >= 500 || !hasResponse)) {
        const kind: GitHubOutageKind = hasResponse ? 'server_error' : 'network';
        const retries = endpoint.request?.retries ?? tracker.retries;
        const attempt = (endpoint.request?.retryCount ?? 0) + 1;
        const willRetry = attempt <= retries && (error as { request?: unknown }).request !== undefined;
        tracker.report(endpoint, {
          kind,
          ...(hasResponse && status !== undefined ? { status } : {}),
          // The retry plugin waits attempt² × its base before the next attempt.
          ...(willRetry ? { retryAfterSeconds: (attempt * attempt * tracker.retryBaseMs) / 1000 } : {}),
          attempt,
          willRetry,
        });
      } else if (status === 304) {
        tracker?.recovered(endpoint);
      }
      throw error;
    }
  });
  return {};
}

/** `GET /repos/o/r/issues`, from the options an octokit hook sees. */
function describeRequest(octokit: CoreOctokit, options: EndpointOptions): string {
  try {
    const parsed = octokit.request.endpoint.parse(options as never);
    return `${parsed.method} ${new URL(parsed.url).pathname}`;
  } catch {
    return `${options.method} ${options.url}`;
  }
}

/** A write queue without spacing: what the throttling plugin's write groups are, minus `minTime`. */
function unspacedGroup(): NonNullable<ThrottlingOptions['write']> {
  const limiter = { schedule: (...args: unknown[]) => {
    const callable = args.findIndex((arg) => typeof arg === 'function');
    const fn = args[callable] as (...rest: unknown[]) => unknown;
    return Promise.resolve().then(() => fn(...args.slice(callable + 1)));
  } };
  return { key: () => limiter } as unknown as NonNullable<ThrottlingOptions['write']>;
}

export function createGitHubClient(options: GitHubClientOptions): GitHubOctokit {
  if (options.token.trim() === '') {
    throw new IssueSourceError(IssueErrorCodes.GitHubTokenMissing, 'no GitHub token: set the token the config names');
  }
  const { logger, onOutage } = options;
  const retries = options.retries ?? 3;
  const maxRateLimitRetries = options.maxRateLimitRetries ?? 3;
  const maxWait = options.maxRateLimitWaitSeconds ?? 3600;
  const timeoutMs = options.requestTimeoutMs ?? 30_000;
  const unit = options.rateLimitUnitMs ?? 1000;

  const fetchWithTimeout: typeof fetch = (input, init) =>
    fetch(input, { ...init, signal: init?.signal ?? AbortSignal.timeout(timeoutMs) });

  let octokit!: GitHubOctokit;
  const emit = (outage: GitHubOutage): void => {
    try {
      onOutage?.(outage);
    } catch (error) {
      logger.error({ err: error }, 'the GitHub outage hook threw');
    }
  };
  const retryBaseMs = options.retryBaseMs ?? 1000;
  const tracker: OutageTracker = {
    retries,
    retryBaseMs,
    report: (endpoint, outage) => {
      const request = describeRequest(octokit, endpoint);
      const attempt = outage.attempt ?? (endpoint.request?.retryCount ?? 0) + 1;
      const previous = lastOutage.get(endpoint);
      lastOutage.set(endpoint, { kind: outage.kind, attempts: Math.max(attempt, (previous?.attempts ?? 0) + 1) });
      const full: GitHubOutage = { ...outage, request, attempt };
      const fields = { github: { outage: full.kind, request, status: full.status, attempt, retryAfterSeconds: full.retryAfterSeconds } };
      const what = `GitHub ${full.kind.replaceAll('_', ' ')} on ${request}`;
      if (full.willRetry) {
        logger.warn(fields, `${what}: will retry in ${full.retryAfterSeconds ?? 0} s (attempt ${attempt})`);
      } else {
        // What happens next is the caller's to say: the outbox retries a write, the watcher polls again.
        logger.debug(fields, `${what}: no answer after ${attempt} attempt(s); handed back to the caller`);
      }
      emit(full);
    },
    recovered: (endpoint) => {
      const previous = lastOutage.get(endpoint);
      if (previous === undefined) return;
      lastOutage.delete(endpoint);
      const request = describeRequest(octokit, endpoint);
      logger.info({ github: { outage: previous.kind, request, attempts: previous.attempts + 1 } }, 'GitHub answered again');
      emit({ kind: previous.kind, request, attempt: previous.attempts + 1, recovered: true });
    },
  };

  const onLimit =
    (kind: 'rate_limit' | 'secondary_rate_limit') =>
    (retryAfter: number, endpoint: unknown, _octokit: unknown, retryCount: number): boolean => {
      const willRetry = retryCount < maxRateLimitRetries && retryAfter <= maxWait;
      tracker.report(endpoint as EndpointOptions, {
        kind,
        retryAfterSeconds: retryAfter,
        attempt: retryCount + 1,
        willRetry,
      });
      return willRetry;
    };

  const throttle: ThrottlingOptions = {
    onRateLimit: onLimit('rate_limit'),
    onSecondaryRateLimit: onLimit('secondary_rate_limit'),
    retryAfterBaseValue: unit,
    ...(options.writeSpacing === false ? { write: unspacedGroup(), notifications: unspacedGroup() } : {}),
  };

  // octokit's own log lines are request traces (`GET /x - 404 in 3ms`, including every 304 and
  // every failed attempt): debug level. Only the message is logged, never the request options
  // (octokit's debug lines are just those options, so they are dropped).
  const log = {
    debug: () => undefined,
    info: (message: string) => logger.debug({ octokit: true }, message),
    warn: (message: string) => logger.warn({ octokit: true }, message),
    error: (message: string) => logger.debug({ octokit: true }, message),
  };

  octokit = new GitHubOctokit({
    auth: options.token,
    baseUrl: options.baseUrl ?? 'https://api.github.com',
    userAgent: options.userAgent ?? 'miyabi-orchestra',
    log,
    request: { fetch: fetchWithTimeout },
    retry: {
      retries,
      retryAfterBaseValue: retryBaseMs,
      doNotRetry: [400, 401, 403, 404, 410, 422, 429, 451],
    },
    throttle,
  });
  trackers.set(octokit, tracker);
  if (options.onRateLimit) rateListeners.set(octokit, options.onRateLimit);
  gates.set(octokit, new LimitGate({ unitMs: unit, maxWaitSeconds: maxWait, logger }));
  return octokit;
}
