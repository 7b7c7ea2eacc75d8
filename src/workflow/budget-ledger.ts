/**
 * What the agents have spent, durably, in the KV bucket (docs/BUDGETS.md):
 *
 *   budget.day.<YYYY-MM-DD>     one budget day's spend by role, and the results counted in it
 *   budget.issue.<issue-N.gG>   one issue generation's spend (all its attempts and rounds)
 *   budget.resumed              the budget day an operator said `miyabi-orchestra budget resume`
 *
 * Each task result is counted once (by task and attempt: a result redelivered after a crash is
 * not spent twice), and so is a cancelled run's spend (`task.cancelled`, keyed the same way). The day's spend decides admission (src/machines/budget.ts, asked by the
 * dispatcher before each dispatch); an issue past its cap has its result turned into a
 * `budget_exceeded` failure. The decisions are pure; this file only keeps the numbers.
 */
import type { KV } from '@nats-io/kv';
import type { Logger } from 'pino';
import { AgentErrorCodes } from '../agents/errors.ts';
import { addSpend, admission, budgetDay, capReached, emptySpend, totalSpend, type Admission, type BudgetPolicy, type DaySpend, type Spend } from '../machines/budget.ts';
import type { TaskResult } from '../runner/task-message.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const DAY_PREFIX = 'budget.day.';
const RESUMED_KEY = 'budget.resumed';

interface DayRecord extends DaySpend {
  /** `taskId:attempt` of each result counted this day. */
  counted: string[];
}

interface IssueRecord {
  spend: Spend;
  counted: string[];
}

/** What `status` and the metrics show. */
export interface BudgetStatus {
  day: string;
  roles: Record<string, Spend>;
  total: Spend;
  admission: Admission;
  resumed: boolean;
}

/** One run as the ledger counts it: a result, or the spend of a cancelled run (`task.cancelled`). */
export type SpentRun = Pick<TaskResult, 'taskId' | 'issue' | 'role' | 'attempt' | 'durationMs' | 'cost'>;

/** What one result spent: its dollars and tokens as reported, its wall-clock always. */
export function spendOf(result: Pick<TaskResult, 'durationMs' | 'cost'>): Spend {
  return {
    usd: result.cost?.usd ?? 0,
    wallClockMs: Math.max(0, result.durationMs),
    inputTokens: result.cost?.inputTokens ?? 0,
    outputTokens: result.cost?.outputTokens ?? 0,
    tasks: 1,
  };
}

/** `issue-<n>.g<generation>` of a task id, so a `/miyabi retry` (a new generation) starts a fresh issue budget. */
export function issueBudgetKey(result: Pick<TaskResult, 'taskId' | 'issue'>): string {
  return /^issue-\d+\.g\d+/.exec(result.taskId)?.[0] ?? `issue-${result.issue}`;
}

export class BudgetLedger {
  #day: DayRecord;
  #resumed: string | undefined;
  #writes: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly kv: KV,
    private readonly policy: BudgetPolicy,
    private readonly now: () => number,
    private readonly logger: Logger,
    day: DayRecord,
    resumed: string | undefined,
  ) {
    this.#day = day;
    this.#resumed = resumed;
  }

  /** The ledger as the KV bucket has it: today's spend and an operator's resume survive a restart. */
  static async open(kv: KV, policy: BudgetPolicy, logger: Logger, now: () => number = Date.now): Promise<BudgetLedger> {
    const day = budgetDay(now(), policy.timeZone);
    const record = (await getJson<DayRecord>(kv, `${DAY_PREFIX}${day}`)) ?? { day, roles: {}, counted: [] };
    const resumed = (await getJson<{ day: string }>(kv, RESUMED_KEY))?.day;
    return new BudgetLedger(kv, policy, now, logger, record, resumed);
  }

  /**
   * Counts a result's spend (once) and returns it as the workflow should see it: past its issue's
   * cap, a `budget_exceeded` failure.
   */
  async record(result: TaskResult): Promise<TaskResult> {
    const issueSpend = await this.count(result);
    const reached = result.code === undefined ? capReached(issueSpend, this.policy.issue) : undefined;
    if (reached === undefined) return result;
    this.logger.warn({ issue: result.issue, taskId: result.taskId, reached }, 'issue past its budget; failed with budget_exceeded');
    return { ...result, status: 'failure', code: AgentErrorCodes.BudgetExceeded, reason: `${AgentErrorCodes.BudgetExceeded}: the issue's cap was reached (${reached})` };
  }

  /**
   * Counts a run's spend into its budget day and its issue, once by task and attempt (a report
   * redelivered, or a result and a cancel of the same run, is not spent twice); returns the
   * issue's spend so far.
   */
  async count(run: SpentRun): Promise<Spend> {
    const spent = spendOf(run);
    const id = `${run.taskId}:${run.attempt}`;
    const day = this.#today();
    if (!day.counted.includes(id)) {
      day.roles[run.role] = addSpend(day.roles[run.role] ?? emptySpend(), spent);
      day.counted.push(id);
      await this.#write(`${DAY_PREFIX}${day.day}`, day);
    }
    const key = issueBudgetKey(run);
    const issue = (await getJson<IssueRecord>(this.kv, `budget.${key}`)) ?? { spend: emptySpend(), counted: [] };
    if (!issue.counted.includes(id)) {
      issue.spend = addSpend(issue.spend, spent);
      issue.counted.push(id);
      await this.#write(`budget.${key}`, issue);
    }
    return issue.spend;
  }

  /** Whether a run's spend is in today's count already (a retry's result came before its redelivery's report). */
  counted(run: Pick<SpentRun, 'taskId' | 'attempt'>): boolean {
    return this.#today().counted.includes(`${run.taskId}:${run.attempt}`);
  }

  /** What may be dispatched now (the dispatcher asks before each dispatch). */
  admission(): Admission {
    const day = this.#today();
    return admission(this.policy, day, this.#resumed === day.day);
  }

  /** An operator's `budget resume`: the daily caps hold nothing back until the next budget day. */
  async resume(): Promise<BudgetStatus> {
    this.#resumed = this.#today().day;
    await this.#write(RESUMED_KEY, { day: this.#resumed, at: new Date(this.now()).toISOString() });
    this.logger.warn({ day: this.#resumed }, 'budget resumed by the operator for the rest of the budget day');
    return this.status();
  }

  status(): BudgetStatus {
    const day = this.#today();
    return { day: day.day, roles: structuredClone(day.roles), total: totalSpend(day), admission: this.admission(), resumed: this.#resumed === day.day };
  }

  /** Waits for the writes started so far. */
  flush(): Promise<unknown> {
    return this.#writes;
  }

  /** Today's record: a new budget day starts from 0. */
  #today(): DayRecord {
    const day = budgetDay(this.now(), this.policy.timeZone);
    if (this.#day.day !== day) this.#day = { day, roles: {}, counted: [] };
    return this.#day;
  }

  /** Writes in order: a later spend never lands under an earlier one. */
  #write(key: string, value: unknown): Promise<unknown> {
    const text = JSON.stringify(value);
    this.#writes = this.#writes.catch(() => undefined).then(() => this.kv.put(key, encoder.encode(text)));
    return this.#writes;
  }
}

async function getJson<T>(kv: KV, key: string): Promise<T | undefined> {
  const entry = await kv.get(key);
  if (entry === null || entry.operation !== 'PUT' || entry.value.length === 0) return undefined;
  return JSON.parse(decoder.decode(entry.value)) as T;
}

/**
 * Spend per role over the budget days `from`..`to` (`YYYY-MM-DD`, inclusive), read from the KV
 * bucket: for reports (src/machines/budget.ts `spendPerRole` is the pure part).
 */
export async function readDaySpends(kv: KV, from: string, to: string): Promise<DaySpend[]> {
  const days: DaySpend[] = [];
  for await (const key of await kv.keys(`${DAY_PREFIX}*`)) {
    const day = key.slice(DAY_PREFIX.length);
    if (day < from || day > to) continue;
    const record = await getJson<DayRecord>(kv, key);
    if (record) days.push({ day: record.day, roles: record.roles });
  }
  return days.sort((a, b) => a.day.localeCompare(b.day));
}
