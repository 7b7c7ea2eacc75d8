import { describe, expect, it } from 'vitest';
import { backoffDelayMs } from '../src/backoff.ts';

describe('backoffDelayMs', () => {
  const backoff = { baseMs: 100, maxMs: 1_000 };

  it('doubles from the base per retry and stops at the cap', () => {
    expect([-1, 0, 1, 2, 3, 4, 10, 2_000].map((retry) => backoffDelayMs(retry, backoff))).toEqual([
      100, 100, 200, 400, 800, 1_000, 1_000, 1_000,
    ]);
  });

  it('a negative jitter only shortens, a positive one only lengthens', () => {
    expect(backoffDelayMs(3, { ...backoff, jitter: -0.5 }, () => 0)).toBe(800);
    expect(backoffDelayMs(3, { ...backoff, jitter: -0.5 }, () => 1)).toBe(400);
    expect(backoffDelayMs(4, { ...backoff, jitter: 0.5 }, () => 0)).toBe(1_000);
    expect(backoffDelayMs(4, { ...backoff, jitter: 0.5 }, () => 1)).toBe(1_500);
  });

  it('rounds to whole milliseconds, is never negative, and asks for no randomness without jitter', () => {
    expect(backoffDelayMs(0, { baseMs: 100, maxMs: 1_000, jitter: 0.333 }, () => 0.5)).toBe(117);
    expect(backoffDelayMs(0, { baseMs: 100, maxMs: 1_000, jitter: -2 }, () => 1)).toBe(0);
    expect(backoffDelayMs(2, backoff, () => {
      throw new Error('random called');
    })).toBe(400);
  });
});
