import { describe, expect, it } from 'vitest';
import { backoffDelay, childrenToRestart, shouldRestart, withinIntensity } from '../../src/supervisor/index.ts';

describe('shouldRestart', () => {
  it.each([
    ['permanent', 'normal', true],
    ['permanent', 'shutdown', true],
    ['permanent', 'crash', true],
    ['permanent', 'killed', true],
    ['transient', 'normal', false],
    ['transient', 'shutdown', false],
    ['transient', 'crash', true],
    ['transient', 'killed', true],
    ['temporary', 'normal', false],
    ['temporary', 'crash', false],
    ['temporary', 'killed', false],
  ] as const)('%s after %s → %s', (restart, kind, expected) => {
    const exit = kind === 'crash' ? { kind, error: new Error('x') } : { kind };
    expect(shouldRestart(restart, exit as never)).toBe(expected);
  });
});

describe('withinIntensity', () => {
  const budget = { restartIntensity: 2, restartPeriodMs: 1_000 };
  it('allows up to the intensity within the period, not one more', () => {
    let times: number[] = [];
    for (const [now, ok] of [[0, true], [100, true], [200, false]] as const) {
      const result = withinIntensity(times, now, budget);
      expect(result.ok).toBe(ok);
      times = result.restartTimes;
    }
  });
  it('drops restarts older than the period', () => {
    const result = withinIntensity([0, 100], 1_100, budget);
    expect(result).toEqual({ ok: true, restartTimes: [1_100] });
  });
  it('measures the age of a restart on a clock far from zero (epoch milliseconds)', () => {
    const epoch = 1_767_225_600_000;
    expect(withinIntensity([epoch], epoch + 500, budget)).toEqual({ ok: true, restartTimes: [epoch, epoch + 500] });
    expect(withinIntensity([epoch, epoch + 100], epoch + 200, budget).ok).toBe(false);
  });
});

describe('childrenToRestart', () => {
  const ids = ['a', 'b', 'c', 'd'];
  it('follows the strategy, in start order', () => {
    expect(childrenToRestart('one_for_one', ids, 'b')).toEqual(['b']);
    expect(childrenToRestart('simple_one_for_one', ids, 'b')).toEqual(['b']);
    expect(childrenToRestart('one_for_all', ids, 'b')).toEqual(['a', 'b', 'c', 'd']);
    expect(childrenToRestart('rest_for_one', ids, 'b')).toEqual(['b', 'c', 'd']);
    expect(childrenToRestart('rest_for_one', ids, 'zz')).toEqual([]);
    // The first child too: index 0 is a child, not "not found".
    expect(childrenToRestart('one_for_one', ids, 'a')).toEqual(['a']);
    expect(childrenToRestart('rest_for_one', ids, 'a')).toEqual(['a', 'b', 'c', 'd']);
  });
});

describe('backoffDelay', () => {
  const backoff = { minMs: 100, maxMs: 1_000, randomFactor: 0.5 };
  it('doubles from min, caps at max, and adds at most randomFactor on top', () => {
    expect([0, 1, 2, 3, 4, 10].map((attempt) => backoffDelay(attempt, backoff, () => 0))).toEqual([
      100, 200, 400, 800, 1_000, 1_000,
    ]);
    expect(backoffDelay(0, backoff, () => 0.999_999)).toBe(150);
    expect(backoffDelay(10, backoff, () => 1)).toBe(1_500);
  });
});
