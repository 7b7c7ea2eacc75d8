/**
 * The ready queue: which ready tasks start now. Pure; the caller passes the time.
 *
 * Order: effective priority (P0 before P1 …), then the SLA deadline, then age (the earlier
 * `enqueuedAt`), then the task id so that the order is total. Aging: a task gains one priority
 * level for every `agingMs` it has waited, without a floor at P0 — a P3 that has waited four
 * periods goes ahead of a fresh P0. With a floor at P0 it would only tie with the fresh P0s and
 * then lose on its later SLA deadline, for as long as P0s keep coming.
 *
 * Capacity is per role: a role at its limit holds back its own tasks only, never another role's.
 * Admission (the budget's, ./budget.ts) holds back tasks by their own priority and role: they
 * stay queued, in order, until it lets them go.
 */
import { mayDispatch, type Admission } from './budget.ts';

export interface QueuedTask {
  id: string;
  issue: number;
  role: string;
  /** 0 is P0, the most urgent. */
  priority: number;
  /** When the task became ready (ms since the epoch): its age counts from here. */
  enqueuedAt: number;
  /** SLA deadline (ms since the epoch); Infinity when there is none. */
  deadline: number;
}

export interface SchedulerPolicy {
  /** Tasks each role may have dispatched at once (at work or waiting on the bus for an agent); a role not listed runs none. */
  capacity: Readonly<Record<string, number>>;
  /** A waiting task gains one priority level each time it has waited this long; 0 disables aging. */
  agingMs: number;
}

/** The deadline of a task of `priority` that became ready at `since`: `slaMs[priority]`, the last entry past the list. */
export function slaDeadline(priority: number, since: number, slaMs: readonly number[]): number {
  if (slaMs.length === 0) return Infinity;
  return since + slaMs[Math.min(priority, slaMs.length - 1)]!;
}

export function effectivePriority(task: QueuedTask, now: number, agingMs: number): number {
  if (agingMs <= 0) return task.priority;
  // A clock that stepped back never makes a task less urgent than its own priority.
  return task.priority - Math.floor(Math.max(0, now - task.enqueuedAt) / agingMs);
}

/** Negative when `a` goes first. */
export function compareTasks(a: QueuedTask, b: QueuedTask, now: number, agingMs: number): number {
  return (
    effectivePriority(a, now, agingMs) - effectivePriority(b, now, agingMs) ||
    compareNumbers(a.deadline, b.deadline) ||
    compareNumbers(a.enqueuedAt, b.enqueuedAt) ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
}

/** Infinity-safe (`Infinity - Infinity` is NaN). */
function compareNumbers(a: number, b: number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export class TaskQueue {
  readonly #policy: SchedulerPolicy;
  readonly #queued = new Map<string, QueuedTask>();
  /** Task id → its role. */
  readonly #running = new Map<string, string>();
  readonly #runningPerRole = new Map<string, number>();

  constructor(policy: SchedulerPolicy) {
    this.#policy = policy;
  }

  /** Queues `task`, replacing a queued task with the same id. A task whose id still runs waits for it to finish. */
  enqueue(task: QueuedTask): void {
    this.#queued.set(task.id, task);
  }

  /** Takes a queued task out (it was cancelled); false when it was not queued. */
  remove(id: string): boolean {
    return this.#queued.delete(id);
  }

  /** The task stopped running, whatever its outcome: its role's slot is free again. */
  finished(id: string): void {
    const role = this.#running.get(id);
    if (role === undefined) return;
    this.#running.delete(id);
    this.#runningPerRole.set(role, this.#runningPerRole.get(role)! - 1);
  }

  /** A task found running (state restored after a restart) takes its slot, even past the role's capacity. */
  markRunning(task: QueuedTask): void {
    this.#queued.delete(task.id);
    if (this.#running.has(task.id)) return;
    this.#running.set(task.id, task.role);
    this.#runningPerRole.set(task.role, this.running(task.role) + 1);
  }

  /** Every task that may start now (and that `admitted` lets go), in order, within each role's free capacity; they count as running from here. */
  take(now: number, admitted: Omit<Admission, 'share'> = {}): QueuedTask[] {
    const free = new Map<string, number>();
    for (const [role, capacity] of Object.entries(this.#policy.capacity)) {
      if (capacity - this.running(role) > 0) free.set(role, capacity - this.running(role));
    }
    if (free.size === 0) return [];
    const candidates = [...this.#queued.values()].filter(
      (task) => free.has(task.role) && !this.#running.has(task.id) && mayDispatch(admitted, task.priority, task.role),
    );
    candidates.sort((a, b) => compareTasks(a, b, now, this.#policy.agingMs));
    const taken: QueuedTask[] = [];
    for (const task of candidates) {
      const slots = free.get(task.role)!;
      if (slots === 0) continue;
      free.set(task.role, slots - 1);
      taken.push(task);
      this.markRunning(task);
    }
    return taken;
  }

  /** The queued tasks in the order they would start at `now`. */
  queued(now: number): QueuedTask[] {
    return [...this.#queued.values()].sort((a, b) => compareTasks(a, b, now, this.#policy.agingMs));
  }

  /** Running tasks, of one role or of all. */
  running(role?: string): number {
    return role === undefined ? this.#running.size : (this.#runningPerRole.get(role) ?? 0);
  }
}
