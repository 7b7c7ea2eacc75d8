/**
 * Notices gaps and duplicates in what senders publish. Pure: fed (source, seq), it says how the
 * message relates to the last one seen from the same source, and counts.
 *
 * A source is (sender, incarnation, subject): see envelope.ts for why the sequence is kept per
 * incarnation and per subject. The first message seen from a source sets its baseline and is
 * never a gap (the receiver may have started after the sender). Then:
 *
 * - seq = last + 1 → in order;
 * - seq > last + 1 → gap, `missing` = seq − last − 1 (they never reached the stream, or the stream
 *   dropped them); the sequence continues from seq;
 * - seq ≤ last → duplicate or old (the same message stored twice, or a late one).
 *
 * Feed it first deliveries only: a JetStream redelivery is the same stored message again, not a
 * duplicate from the sender.
 *
 * Memory is bounded: beyond `maxSources`, the source seen least recently is forgotten (a message
 * from it later sets a new baseline).
 */
export interface SequenceSource {
  sender: string;
  incarnation: string;
  subject: string;
}

export type SequenceVerdict =
  | { kind: 'first' }
  | { kind: 'in_order' }
  | { kind: 'gap'; missing: number }
  | { kind: 'duplicate' };

export interface SequenceCounts {
  first: number;
  inOrder: number;
  /** Gap events, and the messages missing in all of them. */
  gaps: number;
  missing: number;
  duplicates: number;
}

export class SequenceTracker {
  readonly #last = new Map<string, number>();
  readonly #maxSources: number;
  readonly #counts: SequenceCounts = { first: 0, inOrder: 0, gaps: 0, missing: 0, duplicates: 0 };

  constructor(options: { maxSources?: number } = {}) {
    this.#maxSources = Math.max(1, options.maxSources ?? 10_000);
  }

  observe(source: SequenceSource, seq: number): SequenceVerdict {
    const key = `${source.sender}\u0000${source.incarnation}\u0000${source.subject}`;
    const last = this.#last.get(key);
    if (last !== undefined && seq <= last) {
      this.#counts.duplicates++;
      return { kind: 'duplicate' };
    }
    this.#remember(key, seq);
    if (last === undefined) {
      this.#counts.first++;
      return { kind: 'first' };
    }
    if (seq === last + 1) {
      this.#counts.inOrder++;
      return { kind: 'in_order' };
    }
    const missing = seq - last - 1;
    this.#counts.gaps++;
    this.#counts.missing += missing;
    return { kind: 'gap', missing };
  }

  counts(): SequenceCounts {
    return { ...this.#counts };
  }

  /** How many sources are remembered now. */
  get size(): number {
    return this.#last.size;
  }

  #remember(key: string, seq: number): void {
    // Delete then set: Map keeps insertion order, so the first key is the least recently seen.
    this.#last.delete(key);
    this.#last.set(key, seq);
    if (this.#last.size > this.#maxSources) {
      const oldest = this.#last.keys().next().value;
      if (oldest !== undefined) this.#last.delete(oldest);
    }
  }
}
