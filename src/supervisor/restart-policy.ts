/**
 * The restart decision in three small pure pieces, after OTP's supervisor.erl:
 * `shouldRestart` (do_restart: restart type × exit reason), `withinIntensity` (add_restart: a
 * sliding window of restart times) and `childrenToRestart` (one clause per strategy), plus the
 * backoff delay (Akka's restartWithBackoff, through the shared src/backoff.ts). No timers, no
 * actors: each is tested on its own.
 */
import { backoffDelayMs } from '../backoff.ts';

export type RestartType = 'permanent' | 'transient' | 'temporary';
export type Strategy = 'one_for_one' | 'one_for_all' | 'rest_for_one' | 'simple_one_for_one';

/**
 * How a child ended. `normal` and `shutdown` are the clean exits OTP's transient children are
 * not restarted after; `crash` is an error the child raised; `killed` is a death the child did
 * not choose (a signal, or an actor stopped from outside its supervisor).
 */
export type ExitReason =
  | { kind: 'normal' }
  | { kind: 'shutdown' }
  | { kind: 'crash'; error: unknown }
  | { kind: 'killed'; error?: unknown };

export function isAbnormal(exit: ExitReason): boolean {
  return exit.kind === 'crash' || exit.kind === 'killed';
}

export function shouldRestart(restart: RestartType, exit: ExitReason): boolean {
  switch (restart) {
    case 'permanent':
      return true;
    case 'transient':
      return isAbnormal(exit);
    case 'temporary':
      return false;
  }
}

export interface Intensity {
  /** Restarts allowed within `periodMs`; one more and the supervisor gives up and escalates. */
  restartIntensity: number;
  restartPeriodMs: number;
}

/**
 * Adds a restart at `now` to the window and says whether the supervisor is still within its
 * budget. Returns the pruned window so the caller keeps only what can still matter.
 */
export function withinIntensity(
  restartTimes: readonly number[],
  now: number,
  { restartIntensity, restartPeriodMs }: Intensity,
): { ok: boolean; restartTimes: number[] } {
  const window = restartTimes.filter((time) => now - time < restartPeriodMs);
  window.push(now);
  return { ok: window.length <= restartIntensity, restartTimes: window };
}

/**
 * Which children a strategy restarts when `failedId` exits, in start order. The caller stops the
 * ones still running (in reverse order) before starting them all again (in order).
 */
export function childrenToRestart(strategy: Strategy, childIds: readonly string[], failedId: string): string[] {
  const index = childIds.indexOf(failedId);
  if (index < 0) return [];
  switch (strategy) {
    case 'one_for_one':
    case 'simple_one_for_one':
      return [failedId];
    case 'one_for_all':
      return [...childIds];
    case 'rest_for_one':
      return childIds.slice(index);
  }
}

export interface Backoff {
  minMs: number;
  maxMs: number;
  /** 0.2 adds up to 20 % random delay on top of the exponential one, so restarts don't align. */
  randomFactor: number;
}

/**
 * Delay before restart number `attempt` (0 for the first restart in the current window):
 * min × 2^attempt, capped at max, then stretched by up to `randomFactor` (Akka's formula).
 */
export function backoffDelay(attempt: number, backoff: Backoff, random: () => number = Math.random): number {
  return backoffDelayMs(attempt, { baseMs: backoff.minMs, maxMs: backoff.maxMs, jitter: backoff.randomFactor }, random);
}
