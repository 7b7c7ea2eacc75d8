import { describe, expect, it } from 'vitest';
import { jitteredRetryDelayMs } from '../../src/infra/backoff.ts';
import { afterHandling, beforeHandling, outcomeOf } from '../../src/infra/bus/delivery-policy.ts';

const limits = { maxDeliver: 3, backoff: { initialMs: 100, maxMs: 1_000, jitter: 0 } };

describe('delivery policy', () => {
  it('acks a resolved handler on any delivery', () => {
    expect(afterHandling({ kind: 'resolved' }, 1, limits)).toEqual({ action: 'ack' });
    expect(afterHandling({ kind: 'resolved' }, 3, limits)).toEqual({ action: 'ack' });
  });

  it('naks with the asked delay, until the last delivery, which dead-letters', () => {
    expect(afterHandling({ kind: 'retry', delayMs: 250 }, 2, limits)).toEqual({ action: 'nak', delayMs: 250 });
    expect(afterHandling({ kind: 'retry', delayMs: 250 }, 3, limits)).toMatchObject({
      action: 'dead_letter',
      reason: 'delivery_limit',
      error: 'handler asked to retry on delivery 3 of 3',
    });
  });

  it('naks a thrown handler with exponential backoff, then dead-letters with the error', () => {
    expect(afterHandling({ kind: 'threw', error: new Error('x') }, 1, limits)).toEqual({ action: 'nak', delayMs: 100 });
    expect(afterHandling({ kind: 'threw', error: new Error('x') }, 2, limits)).toEqual({ action: 'nak', delayMs: 200 });
    const last = afterHandling({ kind: 'threw', error: new Error('disk full') }, 3, limits);
    expect(last).toMatchObject({ action: 'dead_letter', reason: 'delivery_limit' });
    expect(last.action === 'dead_letter' && last.error).toContain('disk full');
  });

  it('dead-letters before the handler a delivery beyond the limit (the last one never answered)', () => {
    expect(beforeHandling(3, limits)).toBeUndefined();
    expect(beforeHandling(4, limits)).toMatchObject({
      action: 'dead_letter',
      reason: 'delivery_limit',
      error: expect.stringMatching(/^delivered 4 times \(limit 3\); the last delivery was never acknowledged/),
    });
  });

  it('reads a handler result: only { retryInMs: number } asks for a retry', () => {
    expect(outcomeOf(undefined)).toEqual({ kind: 'resolved' });
    expect(outcomeOf({ retryInMs: 50 })).toEqual({ kind: 'retry', delayMs: 50 });
    expect(outcomeOf({ retryInMs: 'soon' })).toEqual({ kind: 'resolved' });
    expect(outcomeOf(42)).toEqual({ kind: 'resolved' });
  });

  it('backoff doubles to its ceiling and jitter only shortens', () => {
    const policy = { initialMs: 100, maxMs: 1_000, jitter: 0.5 };
    expect([1, 2, 3, 4, 5, 50].map((n) => jitteredRetryDelayMs(n, policy, () => 0))).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    expect(jitteredRetryDelayMs(2, policy, () => 1)).toBe(100);
    expect(jitteredRetryDelayMs(0, policy, () => 0)).toBe(100);
  });
});
