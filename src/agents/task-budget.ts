/**
 * One task's budget, as the runner applies it (docs/BUDGETS.md): the agent is stopped at the
 * task's wall-clock cap, and a run that reports more dollars than the task's cap fails. Either
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
 * `timedOutAtCap`: the runner stopped the agent at the task's wall-clock cap.
 */
export function taskOverBudget(caps: Caps, run: { usd?: number | undefined; timedOutAtCap: boolean }): string | undefined {
  if (run.timedOutAtCap) return `${AgentErrorCodes.BudgetExceeded}: the task's wall-clock cap of ${caps.wallClockMs} ms was reached; the agent was stopped`;
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
