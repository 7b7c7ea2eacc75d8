/**
 * The consumer contract as a pure decision: given how a handler finished and how many times the
 * message has been delivered, what happens to the message.
 *
 * | handler                         | delivery < maxDeliver     | delivery ≥ maxDeliver          |
 * | ------------------------------- | ------------------------- | ------------------------------ |
 * | resolves (nothing)              | ack                       | ack                            |
 * | resolves `{ retryInMs }`        | nak, redeliver after that | dead letter (delivery_limit)   |
 * | throws / rejects                | nak with backoff          | dead letter (delivery_limit)   |
 *
 * and before the handler runs: a delivery beyond maxDeliver (the last attempt never answered:
 * its process died or it hung past the ack wait) is dead-lettered without calling the handler;
 * a malformed message is dead-lettered at once, whatever its delivery count.
 */
import { describeError } from '../../errors.ts';
import { jitteredRetryDelayMs, type RetryBackoff } from '../backoff.ts';
import { DeadLetterReasons, type DeadLetterReason } from './dead-letter.ts';

export type HandlerOutcome =
  | { kind: 'resolved' }
  | { kind: 'retry'; delayMs: number }
  | { kind: 'threw'; error: unknown };

export type DeliveryAction =
  | { action: 'ack' }
  | { action: 'nak'; delayMs: number }
  | { action: 'dead_letter'; reason: DeadLetterReason; error: string };

export interface DeliveryLimits {
  maxDeliver: number;
  backoff: RetryBackoff;
}

/** What to do before calling the handler; undefined means: call it. */
export function beforeHandling(deliveryCount: number, limits: Pick<DeliveryLimits, 'maxDeliver'>): DeliveryAction | undefined {
  if (deliveryCount <= limits.maxDeliver) return undefined;
  return {
    action: 'dead_letter',
    reason: DeadLetterReasons.DeliveryLimit,
    error: `delivered ${deliveryCount} times (limit ${limits.maxDeliver}); the last delivery was never acknowledged (handler crashed, hung or exceeded the ack wait)`,
  };
}

export function afterHandling(
  outcome: HandlerOutcome,
  deliveryCount: number,
  limits: DeliveryLimits,
  random: () => number = Math.random,
): DeliveryAction {
  if (outcome.kind === 'resolved') return { action: 'ack' };
  const last = deliveryCount >= limits.maxDeliver;
  if (outcome.kind === 'retry') {
    if (!last) return { action: 'nak', delayMs: Math.max(0, Math.round(outcome.delayMs)) };
    return {
      action: 'dead_letter',
      reason: DeadLetterReasons.DeliveryLimit,
      error: `handler asked to retry on delivery ${deliveryCount} of ${limits.maxDeliver}`,
    };
  }
  if (!last) return { action: 'nak', delayMs: jitteredRetryDelayMs(deliveryCount, limits.backoff, random) };
  return {
    action: 'dead_letter',
    reason: DeadLetterReasons.DeliveryLimit,
    error: `handler failed on delivery ${deliveryCount} of ${limits.maxDeliver}: ${describeError(outcome.error)}`,
  };
}

/** A handler's return value, checked: anything but `{ retryInMs: number }` counts as done. */
export function outcomeOf(returned: unknown): HandlerOutcome {
  if (returned && typeof returned === 'object' && 'retryInMs' in returned) {
    const delayMs = (returned as { retryInMs: unknown }).retryInMs;
    if (typeof delayMs === 'number' && Number.isFinite(delayMs)) return { kind: 'retry', delayMs };
  }
  return { kind: 'resolved' };
}
