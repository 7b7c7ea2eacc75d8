/**
 * What the bus reports as it works, for metrics. A plain interface so that the bus imports no
 * metrics library: the metrics module implements it (prom-client counters) and passes it in.
 * Every method is called synchronously on the bus's hot path: keep implementations cheap and
 * non-throwing (a throw is caught and logged, and never changes what happens to a message).
 */
export interface BusObserver {
  /** A publish was stored by JetStream (not counted: duplicates the stream dropped). */
  published(subject: string): void;
  /** A consumer acknowledged a message after its handler succeeded. */
  acked(subject: string): void;
  /** A message arrived for the second time or later. */
  redelivered(subject: string): void;
  /** A message went to the dead-letter stream; `reason` is a DeadLetterReason code. */
  deadLettered(subject: string, reason: string): void;
  /** A sender's sequence skipped `missing` numbers. */
  sequenceGap(sender: string, missing: number): void;
  /** A sender's sequence number arrived again (or late). */
  duplicate(sender: string): void;
  /** A consumer started reading `subject` (its filter, wildcards and all): what it will count can be known from 0. */
  consuming(subject: string): void;
}

export const noopBusObserver: BusObserver = {
  published() {},
  acked() {},
  redelivered() {},
  deadLettered() {},
  sequenceGap() {},
  duplicate() {},
  consuming() {},
};

/** Wraps an observer so that a throwing method is logged once per method and otherwise ignored. */
export function guardObserver(observer: BusObserver, onError: (method: string, error: unknown) => void): BusObserver {
  const reported = new Set<string>();
  const guard =
    <A extends unknown[]>(method: keyof BusObserver, call: (...args: A) => void) =>
    (...args: A): void => {
      try {
        call(...args);
      } catch (error) {
        if (!reported.has(method)) {
          reported.add(method);
          onError(method, error);
        }
      }
    };
  return {
    published: guard('published', (s: string) => observer.published(s)),
    acked: guard('acked', (s: string) => observer.acked(s)),
    redelivered: guard('redelivered', (s: string) => observer.redelivered(s)),
    deadLettered: guard('deadLettered', (s: string, r: string) => observer.deadLettered(s, r)),
    sequenceGap: guard('sequenceGap', (s: string, n: number) => observer.sequenceGap(s, n)),
    duplicate: guard('duplicate', (s: string) => observer.duplicate(s)),
    consuming: guard('consuming', (s: string) => observer.consuming(s)),
  };
}
