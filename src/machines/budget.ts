/**
 * Budgets: what the orchestra has spent on agents and what it may still start. Pure: the caller
 * passes the time, the spend (src/workflow/budget-ledger.ts keeps it in the KV bucket) and the
 * `budget` config section (docs/BUDGETS.md).
 *
 * - A **budget day** is a calendar day in `budget.timeZone`; each day's spend starts from 0.
 * - **Admission**: past `share` of a daily cap (the total's or a role's, whichever is the most
 *   used) only tasks of priority ≤ `maxPriority` are dispatched — P3 stops first, P0 last; at
 *   100 % nothing is (`paused`), until the next budget day or an operator's `budget resume`.
 * - **Caps** of one task and of one issue (all its attempts and rounds) fail it with
 *   `budget_exceeded`.
 */

import { AgentErrorCodes } from '../agents/errors.ts';
import type { Caps } from '../agents/task-budget.ts';

export type { Caps } from '../agents/task-budget.ts';

/** What was spent: dollars and tokens as the agents report them, wall-clock always. */
export interface Spend {
  usd: number;
  wallClockMs: number;
  inputTokens: number;
  outputTokens: number;
  tasks: number;
}

export interface AdmissionStep {
  /** Past this share of a daily cap … */
  share: number;
  /** … only priorities up to this one are dispatched (0 is P0). */
  maxPriority: number;
}

/** The `budget` config section as the decisions need it. */
export interface BudgetPolicy {
  timeZone: string;
  task: Caps;
  issue: Caps;
  daily: Caps & { roles: Readonly<Record<string, Caps>> };
  admission: readonly AdmissionStep[];
}

/** One budget day's spend, by role. */
export interface DaySpend {
  day: string;
  roles: Record<string, Spend>;
}

/** What may be dispatched now. */
export interface Admission {
  /** Set when nothing may start: why. */
  paused?: string;
  /** Only tasks of these priorities or more urgent (absent: any). */
  maxPriority?: number;
  /** Roles whose own daily cap is used up: none of their tasks start. */
  closedRoles?: string[];
  /** The most used daily cap, as a share (1 = used up), for status and metrics. */
  share: number;
}

export const BUDGET_EXCEEDED = AgentErrorCodes.BudgetExceeded;

export function emptySpend(): Spend {
  return { usd: 0, wallClockMs: 0, inputTokens: 0, outputTokens: 0, tasks: 0 };
}

export function addSpend(a: Spend, b: Partial<Spend>): Spend {
  return {
    usd: a.usd + (b.usd ?? 0),
    wallClockMs: a.wallClockMs + (b.wallClockMs ?? 0),
    inputTokens: a.inputTokens + (b.inputTokens ?? 0),
    outputTokens: a.outputTokens + (b.outputTokens ?? 0),
    tasks: a.tasks + (b.tasks ?? 0),
  };
}

/** One formatter per time zone: making one costs about a millisecond, and admission asks for the day at every dispatch. */
const dayFormats = new Map<string, Intl.DateTimeFormat>();

/** The budget day of `now` in `timeZone`: `YYYY-MM-DD`. */
export function budgetDay(now: number, timeZone: string): string {
  let format = dayFormats.get(timeZone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    dayFormats.set(timeZone, format);
  }
  const parts = format.formatToParts(now);
  const part = (type: string) => parts.find((each) => each.type === type)?.value ?? '00';
  return `${part('year')}-${part('month')}-${part('day')}`;
}

export function totalSpend(day: DaySpend): Spend {
  return Object.values(day.roles).reduce(addSpend, emptySpend());
}

/** The most used of `caps` by `spend`, as a share (0 without caps). */
export function usedShare(spend: Spend, caps: Caps): number {
  const shares = [caps.usd === undefined ? 0 : share(spend.usd, caps.usd), caps.wallClockMs === undefined ? 0 : share(spend.wallClockMs, caps.wallClockMs)];
  return Math.max(...shares);
}

function share(used: number, cap: number): number {
  return cap <= 0 ? (used > 0 ? Infinity : 0) : used / cap;
}

/** Which cap of `caps` `spend` has reached, named (`usd 2.10 of 2.00`); undefined when none. */
export function capReached(spend: Spend, caps: Caps): string | undefined {
  if (caps.usd !== undefined && spend.usd >= caps.usd) return `usd ${spend.usd.toFixed(2)} of ${caps.usd.toFixed(2)}`;
  if (caps.wallClockMs !== undefined && spend.wallClockMs >= caps.wallClockMs) return `wall-clock ${spend.wallClockMs} ms of ${caps.wallClockMs} ms`;
  return undefined;
}

/**
 * What may be dispatched given the day's spend. `resumed`: an operator said `budget resume` this
 * budget day — nothing is held back by the daily caps until the next one.
 */
export function admission(policy: BudgetPolicy, day: DaySpend, resumed = false): Admission {
  const total = totalSpend(day);
  let used = usedShare(total, policy.daily);
  const closedRoles: string[] = [];
  for (const [role, caps] of Object.entries(policy.daily.roles)) {
    const roleShare = usedShare(day.roles[role] ?? emptySpend(), caps);
    used = Math.max(used, roleShare);
    if (roleShare >= 1) closedRoles.push(role);
  }
  if (resumed) return { share: used };
  const reached = capReached(total, policy.daily);
  if (reached !== undefined) return { share: used, paused: `daily budget used up (${reached}); resumes on the next budget day or by \`miyabi-orchestra budget resume\`` };
  const steps = policy.admission.filter((step) => used >= step.share);
  const maxPriority = steps.length === 0 ? undefined : Math.min(...steps.map((step) => step.maxPriority));
  return { share: used, ...(maxPriority === undefined ? {} : { maxPriority }), ...(closedRoles.length === 0 ? {} : { closedRoles }) };
}

/** Why `admitted` holds back a task of `priority` for `role` (the issue's `budget_hold` label says so); undefined when it may go. */
export function heldBack(admitted: Omit<Admission, 'share'>, priority: number, role: string): string | undefined {
  if (admitted.paused !== undefined) return admitted.paused;
  if (admitted.closedRoles?.includes(role)) return `the daily budget of role ${role} is used up`;
  const { maxPriority } = admitted;
  if (maxPriority !== undefined && priority > maxPriority) return `past a share of the daily budget only ${maxPriority === 0 ? 'P0 is' : `P0–P${maxPriority} are`} dispatched, not P${priority}`;
  return undefined;
}

/** May a task of `priority` for `role` be dispatched under `admitted`? */
export function mayDispatch(admitted: Omit<Admission, 'share'>, priority: number, role: string): boolean {
  return heldBack(admitted, priority, role) === undefined;
}

/** Whether `admitted` holds back anything at all (a pause, a priority, a role). */
export function restricts(admitted: Omit<Admission, 'share'>): boolean {
  return admitted.paused !== undefined || admitted.maxPriority !== undefined || (admitted.closedRoles?.length ?? 0) > 0;
}

/** Spend per role over the budget days `from`..`to` (inclusive, `YYYY-MM-DD`), for reports. */
export function spendPerRole(days: readonly DaySpend[], from: string, to: string): Record<string, Spend> {
  const roles: Record<string, Spend> = {};
  for (const day of days) {
    if (day.day < from || day.day > to) continue;
    for (const [role, spend] of Object.entries(day.roles)) roles[role] = addSpend(roles[role] ?? emptySpend(), spend);
  }
  return roles;
}
