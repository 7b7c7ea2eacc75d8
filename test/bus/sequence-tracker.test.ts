import { describe, expect, it } from 'vitest';
import { SequenceTracker } from '../../src/infra/bus/sequence-tracker.ts';

const a = { sender: 'a', incarnation: '1', subject: 'x' };

describe('SequenceTracker', () => {
  it('takes the first message as the baseline, then counts in-order messages', () => {
    const tracker = new SequenceTracker();
    expect(tracker.observe(a, 5)).toEqual({ kind: 'first' });
    expect(tracker.observe(a, 6)).toEqual({ kind: 'in_order' });
    expect(tracker.counts()).toEqual({ first: 1, inOrder: 1, gaps: 0, missing: 0, duplicates: 0 });
  });

  it('reports a gap with the number missing and continues from the new number', () => {
    const tracker = new SequenceTracker();
    tracker.observe(a, 1);
    expect(tracker.observe(a, 4)).toEqual({ kind: 'gap', missing: 2 });
    expect(tracker.observe(a, 5)).toEqual({ kind: 'in_order' });
    expect(tracker.observe(a, 9)).toEqual({ kind: 'gap', missing: 3 });
    expect(tracker.counts()).toMatchObject({ gaps: 2, missing: 5 });
  });

  it('reports a repeated or older number as a duplicate without moving back', () => {
    const tracker = new SequenceTracker();
    tracker.observe(a, 1);
    tracker.observe(a, 2);
    expect(tracker.observe(a, 2)).toEqual({ kind: 'duplicate' });
    expect(tracker.observe(a, 1)).toEqual({ kind: 'duplicate' });
    expect(tracker.observe(a, 3)).toEqual({ kind: 'in_order' });
    expect(tracker.counts().duplicates).toBe(2);
  });

  it('keeps senders, incarnations and subjects apart: a restarted sender starts over cleanly', () => {
    const tracker = new SequenceTracker();
    tracker.observe(a, 1);
    tracker.observe(a, 2);
    expect(tracker.observe({ ...a, incarnation: '2' }, 1)).toEqual({ kind: 'first' });
    expect(tracker.observe({ ...a, incarnation: '2' }, 2)).toEqual({ kind: 'in_order' });
    expect(tracker.observe({ ...a, subject: 'y' }, 1)).toEqual({ kind: 'first' });
    expect(tracker.observe({ ...a, sender: 'b' }, 1)).toEqual({ kind: 'first' });
    expect(tracker.observe(a, 3)).toEqual({ kind: 'in_order' });
    expect(tracker.counts()).toMatchObject({ gaps: 0, duplicates: 0 });
  });

  it('forgets the least recently seen source beyond its bound', () => {
    const tracker = new SequenceTracker({ maxSources: 2 });
    tracker.observe({ ...a, sender: '1' }, 1);
    tracker.observe({ ...a, sender: '2' }, 1);
    tracker.observe({ ...a, sender: '1' }, 2);
    tracker.observe({ ...a, sender: '3' }, 1);
    expect(tracker.size).toBe(2);
    expect(tracker.observe({ ...a, sender: '1' }, 3)).toEqual({ kind: 'in_order' });
    expect(tracker.observe({ ...a, sender: '2' }, 7)).toEqual({ kind: 'first' });
  });
});
