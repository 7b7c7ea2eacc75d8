import { describe, expect, it } from 'vitest';
import { runTimeoutMs, taskOverBudget } from '../../src/agents/task-budget.ts';
import { parseRunningCost } from '../../src/agents/task.ts';
import { admission, budgetDay, emptySpend, heldBack, mayDispatch, restricts, spendPerRole, type BudgetPolicy, type DaySpend, type Spend } from '../../src/machines/budget.ts';
import { TaskQueue, type QueuedTask } from '../../src/machines/scheduler.ts';

const policy: BudgetPolicy = {
  timeZone: 'UTC',
  task: {},
  issue: {},
  daily: { usd: 100, roles: { review: { usd: 10 } } },
  admission: [
    { share: 0.7, maxPriority: 2 },
    { share: 0.9, maxPriority: 0 },
  ],
};
const spend = (usd: number): Spend => ({ ...emptySpend(), usd, tasks: 1 });
const day = (roles: Record<string, number>): DaySpend => ({ day: '2026-12-02', roles: Object.fromEntries(Object.entries(roles).map(([role, usd]) => [role, spend(usd)])) });
const may = (spent: DaySpend, priority: number, role = 'codegen', resumed = false) => mayDispatch(admission(policy, spent, resumed), priority, role);

describe('admission control', () => {
  it('dispatches every priority under the first share', () => {
    expect([0, 1, 2, 3].map((p) => may(day({ codegen: 69 }), p))).toEqual([true, true, true, true]);
  });

  it('past 70 % of the daily budget P3 stops first; past 90 % everything but P0', () => {
    expect([0, 1, 2, 3].map((p) => may(day({ codegen: 70 }), p))).toEqual([true, true, true, false]);
    expect([0, 1, 2, 3].map((p) => may(day({ codegen: 50, review: 1 }), p))).toEqual([true, true, true, true]);
    expect([0, 1, 2, 3].map((p) => may(day({ codegen: 91 }), p))).toEqual([true, false, false, false]);
  });

  it('at 100 % nothing is dispatched, and says why and how it resumes', () => {
    const admitted = admission(policy, day({ codegen: 60, review: 40 }));
    expect(admitted.paused).toMatch(/^daily budget used up \(usd 100\.00 of 100\.00\); resumes on the next budget day or by `miyabi-orchestra budget resume`/);
    expect(mayDispatch(admitted, 0, 'codegen')).toBe(false);
  });

  it("a role's own daily cap counts as a share too, and closes that role alone at 100 %", () => {
    expect([0, 3].map((p) => may(day({ review: 7.5 }), p, 'codegen'))).toEqual([true, false]);
    const admitted = admission(policy, day({ review: 10 }));
    expect(admitted.closedRoles).toEqual(['review']);
    expect(mayDispatch(admitted, 0, 'review')).toBe(false);
    expect(mayDispatch(admitted, 0, 'codegen')).toBe(true);
  });

  it("says why a task is held back (its issue's budget_hold label), and whether anything is", () => {
    expect(heldBack(admission(policy, day({ codegen: 70 })), 3, 'codegen')).toBe('past a share of the daily budget only P0–P2 are dispatched, not P3');
    expect(heldBack(admission(policy, day({ codegen: 91 })), 1, 'codegen')).toBe('past a share of the daily budget only P0 is dispatched, not P1');
    expect(heldBack(admission(policy, day({ review: 10 })), 0, 'review')).toBe('the daily budget of role review is used up');
    expect(heldBack(admission(policy, day({ codegen: 100 })), 0, 'codegen')).toMatch(/^daily budget used up/);
    expect(heldBack(admission(policy, day({ codegen: 70 })), 2, 'codegen')).toBeUndefined();
    expect([day({ codegen: 69 }), day({ codegen: 70 }), day({ review: 10 }), day({ codegen: 100 })].map((spent) => restricts(admission(policy, spent)))).toEqual([false, true, true, true]);
    expect(restricts(admission(policy, day({ codegen: 150 }), true))).toBe(false);
  });

  it('an operator who resumed lets everything go for the rest of the budget day', () => {
    expect([0, 3].map((p) => may(day({ codegen: 150 }), p, 'codegen', true))).toEqual([true, true]);
  });

  it('a wall-clock daily cap counts the same way', () => {
    const timed: BudgetPolicy = { ...policy, daily: { wallClockMs: 1000, roles: {} } };
    expect(admission(timed, { day: 'd', roles: { codegen: { ...emptySpend(), wallClockMs: 1000 } } }).paused).toMatch(/wall-clock 1000 ms of 1000 ms/);
  });

  it('the scheduler keeps what admission holds back queued, in order, and takes it once admitted', () => {
    const task = (id: string, priority: number): QueuedTask => ({ id, issue: priority, role: 'codegen', priority, enqueuedAt: 0, deadline: Infinity });
    const queue = new TaskQueue({ capacity: { codegen: 4 }, agingMs: 0 });
    for (const p of [0, 1, 2, 3]) queue.enqueue(task(`p${p}`, p));
    expect(queue.take(0, { maxPriority: 0 }).map((t) => t.id)).toEqual(['p0']);
    expect(queue.queued(0).map((t) => t.id)).toEqual(['p1', 'p2', 'p3']);
    expect(queue.take(0, { paused: 'used up' })).toEqual([]);
    expect(queue.take(0).map((t) => t.id)).toEqual(['p1', 'p2', 'p3']);
  });
});

describe('budget days', () => {
  it('a day is a calendar day in the configured time zone', () => {
    const at = Date.parse('2026-12-02T20:00:00Z');
    expect(budgetDay(at, 'UTC')).toBe('2026-12-02');
    expect(budgetDay(at, 'Asia/Tokyo')).toBe('2026-12-03');
  });

  it('spend per role for a period sums the days within it, for reports', () => {
    const days: DaySpend[] = [
      { day: '2026-12-01', roles: { codegen: spend(1) } },
      { day: '2026-12-02', roles: { codegen: spend(2), review: spend(0.5) } },
      { day: '2026-12-03', roles: { codegen: spend(4) } },
    ];
    expect(spendPerRole(days, '2026-12-01', '2026-12-02')).toEqual({ codegen: { ...emptySpend(), usd: 3, tasks: 2 }, review: spend(0.5) });
  });
});

describe("a task's caps", () => {
  it('the wall-clock cap is the run timeout when it is lower than the role\'s', () => {
    expect(runTimeoutMs(60_000, { wallClockMs: 1_000 })).toEqual({ timeoutMs: 1_000, atCap: true });
    expect(runTimeoutMs(60_000, { wallClockMs: 90_000 })).toEqual({ timeoutMs: 60_000, atCap: false });
    expect(runTimeoutMs(60_000, {})).toEqual({ timeoutMs: 60_000, atCap: false });
  });

  it('a run stopped at the cap, or that reports more dollars than it, is budget_exceeded', () => {
    expect(taskOverBudget({ wallClockMs: 1_000 }, { timedOutAtCap: true })).toMatch(/^budget_exceeded: the task's wall-clock cap of 1000 ms/);
    expect(taskOverBudget({ usd: 1 }, { usd: 1.5, timedOutAtCap: false })).toMatch(/^budget_exceeded: the task cost usd 1\.50, above its cap of 1\.00/);
    expect(taskOverBudget({ usd: 1 }, { usd: 0.5, timedOutAtCap: false })).toBeUndefined();
    expect(taskOverBudget({ usd: 1 }, { timedOutAtCap: false })).toBeUndefined();
    expect(taskOverBudget({ usd: 1 }, { usd: 1.25, timedOutAtCap: false, stoppedOverCost: true })).toMatch(/^budget_exceeded: the task's cost reached usd 1\.25 while it ran, above its cap of 1\.00; the agent was stopped/);
  });

  it('the cost so far an agent keeps while it runs: its fields as in a result, a bad one ignored with a warning, half-written text skipped', () => {
    expect(parseRunningCost('{"usd": 1.5, "inputTokens": 10}')).toEqual({ cost: { usd: 1.5, inputTokens: 10 }, warnings: [] });
    expect(parseRunningCost('{"usd": "lots", "outputTokens": 3}')).toEqual({ cost: { outputTokens: 3 }, warnings: ['cost.usd: expected a non-negative number, got "lots"; ignored'] });
    expect(parseRunningCost('[1]')).toEqual({ cost: {}, warnings: ['cost: expected an object of numbers, got [1]; ignored'] });
    expect(parseRunningCost('{"usd": 1.')).toBeUndefined();
  });
});
