import { describe, expect, it } from 'vitest';
import {
  TaskQueue,
  compareTasks,
  effectivePriority,
  slaDeadline,
  type QueuedTask,
} from '../../src/machines/scheduler.ts';

const hour = 3_600_000;

function task(id: string, fields: Partial<QueuedTask> = {}): QueuedTask {
  return { id, issue: Number(id.replace(/\D/g, '')) || 1, role: 'codegen', priority: 2, enqueuedAt: 0, deadline: Infinity, ...fields };
}

const ids = (tasks: QueuedTask[]) => tasks.map((each) => each.id);

describe('ordering', () => {
  it('priority first under contention: P0 before P1 before P3, whatever the arrival order', () => {
    const queue = new TaskQueue({ capacity: { codegen: 2 }, agingMs: 0 });
    queue.enqueue(task('p3', { priority: 3, enqueuedAt: 0 }));
    queue.enqueue(task('p1', { priority: 1, enqueuedAt: 1 }));
    queue.enqueue(task('p0', { priority: 0, enqueuedAt: 2 }));
    expect(ids(queue.take(10))).toEqual(['p0', 'p1']);
    expect(ids(queue.queued(10))).toEqual(['p3']);
  });

  it('at equal priority, the earlier SLA deadline goes first, then the older task, then the id', () => {
    const a = task('a', { deadline: 5 * hour, enqueuedAt: 3 });
    const b = task('b', { deadline: 4 * hour, enqueuedAt: 9 });
    const c = task('c', { deadline: Infinity, enqueuedAt: 1 });
    const d = task('d', { deadline: Infinity, enqueuedAt: 2 });
    const e = task('e', { deadline: Infinity, enqueuedAt: 2 });
    const sorted = [e, d, c, a, b].sort((x, y) => compareTasks(x, y, 10, 0));
    expect(ids(sorted)).toEqual(['b', 'a', 'c', 'd', 'e']);
  });

  it('equal priority, deadline and age: the lower id first, whatever the order they came in', () => {
    const queue = new TaskQueue({ capacity: { codegen: 2 }, agingMs: 0 });
    for (const id of ['t3', 't2', 't1']) queue.enqueue(task(id, { enqueuedAt: 5 }));
    expect(ids(queue.queued(10))).toEqual(['t1', 't2', 't3']);
    expect(ids(queue.take(10))).toEqual(['t1', 't2']);
    // The comparator itself, both ways and on a tie: Array.prototype.sort needs it consistent.
    const [first, second] = [task('t1'), task('t2')];
    expect(compareTasks(first, second, 10, 0)).toBeLessThan(0);
    expect(compareTasks(second, first, 10, 0)).toBeGreaterThan(0);
    expect(compareTasks(first, task('t1'), 10, 0)).toBe(0);
  });

  it('the earlier deadline goes first even when the other task is older and has the lower id', () => {
    const older = task('a', { deadline: 5 * hour, enqueuedAt: 1 });
    const urgent = task('b', { deadline: 4 * hour, enqueuedAt: 9 });
    expect(compareTasks(urgent, older, 10, 0)).toBeLessThan(0);
    expect(compareTasks(older, urgent, 10, 0)).toBeGreaterThan(0);
  });

  it('the queue listing is in start order, not in the order the tasks came in', () => {
    const queue = new TaskQueue({ capacity: {}, agingMs: 0 });
    queue.enqueue(task('p3', { priority: 3, enqueuedAt: 0 }));
    queue.enqueue(task('p0-late', { priority: 0, enqueuedAt: 2 }));
    queue.enqueue(task('p1', { priority: 1, enqueuedAt: 1 }));
    queue.enqueue(task('p0-early', { priority: 0, enqueuedAt: 1 }));
    expect(ids(queue.queued(10))).toEqual(['p0-early', 'p0-late', 'p1', 'p3']);
  });

  it('the SLA deadline comes from the config list, the last entry past it', () => {
    const slaMs = [hour, 4 * hour];
    expect(slaDeadline(0, 100, slaMs)).toBe(100 + hour);
    expect(slaDeadline(3, 100, slaMs)).toBe(100 + 4 * hour);
    expect(slaDeadline(0, 100, [])).toBe(Infinity);
  });
});

describe('aging', () => {
  it('a task gains one level per aging period, past P0; a clock that steps back changes nothing', () => {
    const p3 = task('p3', { priority: 3, enqueuedAt: 0 });
    expect(effectivePriority(p3, hour - 1, hour)).toBe(3);
    expect(effectivePriority(p3, hour, hour)).toBe(2);
    expect(effectivePriority(p3, 5 * hour, hour)).toBe(-2);
    expect(effectivePriority(p3, -hour, hour)).toBe(3);
    expect(effectivePriority(p3, 5 * hour, 0)).toBe(3);
  });

  it('nothing starves: a waiting P3 runs before a constant stream of newer P0s', () => {
    const agingMs = 10 * 60_000;
    const slaMs = [hour, 4 * hour, 24 * hour, 72 * hour];
    const queue = new TaskQueue({ capacity: { codegen: 1 }, agingMs });
    queue.enqueue(task('p3', { priority: 3, enqueuedAt: 0, deadline: slaDeadline(3, 0, slaMs) }));
    let ranAt: number | undefined;
    for (let minute = 0; minute < 24 * 60 && ranAt === undefined; minute += 1) {
      const now = minute * 60_000;
      queue.enqueue(task(`p0-${minute}`, { priority: 0, enqueuedAt: now, deadline: slaDeadline(0, now, slaMs) }));
      const [started] = queue.take(now);
      if (started?.id === 'p3') ranAt = now;
      queue.finished(started!.id);
    }
    // A floor at P0 would leave it tied with each fresh P0 and losing on its 72 h deadline: it would wait 71 h.
    expect(ranAt).toBeDefined();
    expect(ranAt!).toBeLessThanOrEqual(4 * agingMs);
  });
});

describe('capacity', () => {
  it('per role: a full role does not hold back another role', () => {
    const queue = new TaskQueue({ capacity: { codegen: 1, review: 2 }, agingMs: 0 });
    queue.enqueue(task('c1', { priority: 0 }));
    queue.enqueue(task('c2', { priority: 0 }));
    queue.enqueue(task('r1', { role: 'review', priority: 3 }));
    queue.enqueue(task('x1', { role: 'deploy', priority: 0 }));
    expect(ids(queue.take(0))).toEqual(['c1', 'r1']);
    expect(queue.running('codegen')).toBe(1);
    expect(queue.running('review')).toBe(1);
    expect(queue.running()).toBe(2);
    queue.enqueue(task('r2', { role: 'review' }));
    expect(ids(queue.take(1))).toEqual(['r2']);
    expect(ids(queue.queued(1))).toEqual(['c2', 'x1']);
  });

  it('finished frees the slot; remove takes a cancelled task out', () => {
    const queue = new TaskQueue({ capacity: { codegen: 1 }, agingMs: 0 });
    queue.enqueue(task('a', { enqueuedAt: 0 }));
    queue.enqueue(task('b', { enqueuedAt: 1 }));
    queue.enqueue(task('c', { enqueuedAt: 2 }));
    expect(ids(queue.take(5))).toEqual(['a']);
    expect(queue.take(5)).toEqual([]);
    expect(queue.remove('b')).toBe(true);
    expect(queue.remove('b')).toBe(false);
    queue.finished('a');
    queue.finished('a');
    expect(queue.running('codegen')).toBe(0);
    expect(ids(queue.take(5))).toEqual(['c']);
  });

  it('a task restored as running takes its slot; enqueue replaces by id and waits for a running one', () => {
    const queue = new TaskQueue({ capacity: { codegen: 1 }, agingMs: 0 });
    queue.markRunning(task('a'));
    queue.enqueue(task('b', { priority: 3 }));
    queue.enqueue(task('b', { priority: 0 }));
    expect(queue.queued(0)).toHaveLength(1);
    expect(queue.queued(0)[0]!.priority).toBe(0);
    expect(queue.take(0)).toEqual([]);
    queue.enqueue(task('a'));
    queue.finished('b');
    queue.finished('a');
    expect(ids(queue.take(0))).toEqual(['b']);
    queue.finished('b');
    expect(ids(queue.take(0))).toEqual(['a']);
  });

  it('a task marked running twice (restored twice) takes one slot, not two', () => {
    const queue = new TaskQueue({ capacity: { codegen: 1 }, agingMs: 0 });
    queue.markRunning(task('a'));
    queue.markRunning(task('a'));
    expect(queue.running('codegen')).toBe(1);
    expect(queue.running()).toBe(1);
    queue.enqueue(task('b'));
    queue.finished('a');
    expect(queue.running('codegen')).toBe(0);
    expect(ids(queue.take(0))).toEqual(['b']);
  });

  it('a role at or past its capacity takes nothing until enough of its tasks finish', () => {
    // Past it: tasks restored as running after a restart with a lowered maximum.
    const queue = new TaskQueue({ capacity: { codegen: 1 }, agingMs: 0 });
    queue.markRunning(task('a'));
    queue.markRunning(task('b'));
    queue.markRunning(task('c'));
    queue.enqueue(task('d'));
    expect(queue.take(0)).toEqual([]);
    queue.finished('a');
    expect(queue.take(0)).toEqual([]);
    queue.finished('b');
    expect(queue.take(0)).toEqual([]);
    expect(ids(queue.queued(0))).toEqual(['d']);
    queue.finished('c');
    expect(ids(queue.take(0))).toEqual(['d']);
  });

  it('a role takes only its free slots: capacity minus what already runs', () => {
    const queue = new TaskQueue({ capacity: { codegen: 3 }, agingMs: 0 });
    queue.markRunning(task('running'));
    for (const id of ['q1', 'q2', 'q3', 'q4']) queue.enqueue(task(id));
    expect(ids(queue.take(0))).toEqual(['q1', 'q2']);
    expect(queue.running('codegen')).toBe(3);
    expect(ids(queue.queued(0))).toEqual(['q3', 'q4']);
  });
});
