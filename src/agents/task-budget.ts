/**
 * One task's budget, as the runner applies it (docs/BUDGETS.md): the agent is stopped at the
 * task's wall-clock cap, or once the cost it reports while it runs is above the task's cap; a
 * run whose result reports more dollars than the cap fails. Either
 * is a failure with the code `budget_exceeded`, which the workflow never retries. Pure.
 */
import { AgentErrorCodes } from './errors.ts';

/** Caps of a spend; an absent one is no cap. */
export interface Caps {
  usd?: number | undefined;
  wallClockMs?: number | undefined;
}

/** The wall-clock limit of one run: the role's timeout, or the task's cap when that is lower. */
export function runTimeoutMs(taskTimeoutMs: number, caps: Caps): { timeoutMs: number; atCap: boolean } {
  return caps.wallClockMs !== undefined && caps.wallClockMs < taskTimeoutMs ? { timeoutMs: caps.wallClockMs, atCap: true } : { timeoutMs: taskTimeoutMs, atCap: false };
}

/**
 * A task's caps against what its run cost: why it failed with `budget_exceeded`, or undefined.
 * `timedOutAtCap`: the runner stopped the agent at the task's wall-clock cap; `stoppedOverCost`:
 * it stopped the agent because its cost so far was above the task's cap.
 */
export function taskOverBudget(caps: Caps, run: { usd?: number | undefined; timedOutAtCap: boolean; stoppedOverCost?: boolean }): string | undefined {
  if (run.timedOutAtCap) return `${AgentErrorCodes.BudgetExceeded}: the task's wall-clock cap of ${caps.wallClockMs} ms was reached; the agent was stopped`;
  if (run.stoppedOverCost) {
    return `${AgentErrorCodes.BudgetExceeded}: the task's cost reached usd ${(run.usd ?? 0).toFixed(2)} while it ran, above its cap of ${(caps.usd ?? 0).toFixed(2)}; the agent was stopped`;
  }
  if (caps.usd !== undefined && run.usd !== undefined && run.usd > caps.usd) {
    return `${AgentErrorCodes.BudgetExceeded}: the task cost usd ${run.usd.toFixed(2)}, above its cap of ${caps.usd.toFixed(2)}`;
  }
  return undefined;
}

/** True when `timeZone` is one Intl knows (`UTC`, `Asia/Tokyo`). */
export function isTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone });
    return true;
  } catch {
    return false;
  }
}
