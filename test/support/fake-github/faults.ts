/**
 * Faults and rate limits: the next N requests (optionally only those matching a method, a path
 * and a query) answer 5xx, a secondary rate limit (403 + `retry-after`; with `window`, every
 * request until it is over), a primary rate limit (403 + `x-ratelimit-remaining: 0` +
 * `x-ratelimit-reset`), a 403 naming the permissions it wants, or drop the connection; or answer
 * late (`slow`); or are applied and then lose their answer (`answer_lost`: the connection
 * dropped, or a 5xx, after the write happened; server.ts runs the route first). The primary limit is also a budget
 * (`state.rateLimit`): once `remaining` is 0, every request is refused until `resetAt`. And the
 * `x-ratelimit-*` headers every answer carries.
 */
import { docs, type Answer } from './http.ts';
import type { FakeGitHubState, Fault } from './types.ts';

export const addFault = (state: FakeGitHubState, fault: Fault): void => void state.faults.push({ ...fault, times: fault.times ?? 1 });

export const rateHeaders = (state: FakeGitHubState) => ({
  'x-ratelimit-limit': state.rateLimit.limit,
  'x-ratelimit-remaining': state.rateLimit.remaining,
  'x-ratelimit-reset': Math.ceil(state.rateLimit.resetAt / 1000),
  'x-ratelimit-used': state.rateLimit.limit - state.rateLimit.remaining,
  'x-ratelimit-resource': 'core',
});

/**
 * A limit in force refuses the request (a primary limit whose budget is spent and not yet reset,
 * a secondary limit's window): the refusal, not counted against the limit. A primary limit past
 * its reset starts a new budget.
 */
export const limitInForce = (state: FakeGitHubState): Fault | undefined => {
  const now = Date.now();
  if (now < state.secondaryUntil) return { kind: 'secondary_rate_limit', retryAfter: Math.ceil((state.secondaryUntil - now) / 1000) };
  const limit = state.rateLimit;
  if (now >= limit.resetAt) Object.assign(limit, { remaining: limit.limit, resetAt: now + 3_600_000 });
  // The reset header is in whole seconds, rounded up: a client that waits for it is never early.
  if (limit.remaining === 0) return { kind: 'rate_limit', retryAfter: (Math.ceil(limit.resetAt / 1000) * 1000 - now) / 1000 };
  return undefined;
};

/** The first fault that matches the request, counted down (and dropped when used up). */
export const takeFault = (state: FakeGitHubState, method: string, path: string, query = ''): Fault | undefined => {
  const matches = (pattern: string | RegExp | undefined, text: string, prefix: boolean) =>
    pattern === undefined || (typeof pattern === 'string' ? (prefix ? text.startsWith(pattern) : text.includes(pattern)) : pattern.test(text));
  const index = state.faults.findIndex(
    (f) => (f.method === undefined || f.method.toUpperCase() === method) && matches(f.path, path, true) && matches(f.query, query, false),
  );
  if (index < 0) return undefined;
  const fault = state.faults[index]!;
  fault.times -= 1;
  if (fault.times <= 0) state.faults.splice(index, 1);
  if (fault.kind === 'secondary_rate_limit' && fault.window) state.secondaryUntil = Date.now() + (fault.retryAfter ?? 1) * 1000;
  return fault;
};

export const faultAnswer = (state: FakeGitHubState, fault: Fault): Answer => {
  switch (fault.kind) {
    case 'server_error':
      return { status: fault.status ?? 500, body: { message: 'Server Error' } };
    case 'secondary_rate_limit':
      return {
        status: 403,
        headers: { 'retry-after': fault.retryAfter ?? 1 },
        body: {
          message:
            'You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID 0000:0000:0000000:0000000:00000000.',
          documentation_url: `${docs}/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits`,
          status: '403',
        },
      };
    case 'rate_limit':
      return {
        status: 403,
        headers: {
          'x-ratelimit-remaining': 0,
          // GitHub's reset is the epoch second the window opens again: never in the past.
          'x-ratelimit-reset': Math.ceil((Date.now() + (fault.retryAfter ?? 0) * 1000) / 1000),
        },
        body: {
          message: `API rate limit exceeded for user ID ${state.viewer.id}. If you reach out to GitHub Support for help, please include the request ID 0000:0000:0000000:0000000:00000000.`,
          documentation_url: `${docs}/overview/rate-limits-for-the-rest-api#about-the-primary-rate-limit`,
          status: '403',
        },
      };
    case 'forbidden':
      return {
        status: 403,
        headers: fault.acceptedPermissions ? { 'x-accepted-github-permissions': fault.acceptedPermissions } : {},
        body: { message: 'Resource not accessible by personal access token', documentation_url: docs, status: '403' },
      };
    case 'network':
    case 'answer_lost':
    case 'slow':
      // Not answered from here: server.ts drops the connection, or runs the route (late, or first).
      return { status: 0 };
  }
};
