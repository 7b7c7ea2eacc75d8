/**
 * The leader lease's decisions (src/machines/leader-lease.ts), without a store or a clock: what a
 * node writes for each lease it can read, what it becomes after each outcome of its write, when it
 * is leading, and when a writer of an epoch is let through the fence. Run against the store played
 * by hand (`Store` below: conditional writes on a revision, as JetStream KV does them), three
 * candidates never lead at once and their epochs only rise.
 */
import { describe, expect, it } from 'vitest';
import {
  decideLease,
  fenceWrite,
  FOLLOWER,
  leaseAfter,
  leading,
  parseLeaseRecord,
  type LeaseDecision,
  type LeaseRecord,
  type LeaseState,
  type LeaseView,
  type WriteOutcome,
} from '../../src/machines/leader-lease.ts';

const TTL = 1_000;
const a = { node: 'a', ttlMs: TTL };
const b = { node: 'b', ttlMs: TTL };

describe('decideLease', () => {
  it('seeds a vacant entry where there is none (a lease is never created directly)', () => {
    expect(decideLease(FOLLOWER, { revision: 0 }, a, 100)).toEqual({ kind: 'seed' });
  });

  it('takes a vacant, deleted or unreadable entry by its revision, above every epoch it could have held', () => {
    expect(decideLease(FOLLOWER, { revision: 41 }, a, 100)).toEqual({
      kind: 'update',
      record: { holder: 'a', epoch: 42, expiresAt: 1_100 },
      expectedRevision: 41,
    });
  });

  it('follows a live lease of another node until its expiry, then takes it with the next epoch', () => {
    const view: LeaseView = { revision: 7, record: { holder: 'b', epoch: 3, expiresAt: 1_000 } };
    expect(decideLease(FOLLOWER, view, a, 999)).toEqual({ kind: 'follow', leader: view.record });
    expect(decideLease(FOLLOWER, view, a, 1_000)).toEqual({
      kind: 'update',
      record: { holder: 'a', epoch: 4, expiresAt: 2_000 },
      expectedRevision: 7,
    });
  });

  it('renews its own lease with the same epoch, even a little late, when nobody took it', () => {
    const state: LeaseState = { role: 'leader', epoch: 3, revision: 7, expiresAt: 1_000 };
    const view: LeaseView = { revision: 7, record: { holder: 'a', epoch: 3, expiresAt: 1_000 } };
    expect(decideLease(state, view, a, 1_200)).toEqual({ kind: 'update', record: { holder: 'a', epoch: 3, expiresAt: 2_200 }, expectedRevision: 7 });
  });

  it('does not renew a lease of its name it does not remember winning (a restarted node, a twin): it waits for the expiry', () => {
    const view: LeaseView = { revision: 7, record: { holder: 'a', epoch: 3, expiresAt: 1_000 } };
    expect(decideLease(FOLLOWER, view, a, 500)).toEqual({ kind: 'follow', leader: view.record });
    expect(decideLease({ role: 'leader', epoch: 2, revision: 5, expiresAt: 1_000 }, view, a, 500)).toMatchObject({ kind: 'follow' });
    expect(decideLease(FOLLOWER, view, a, 1_000)).toMatchObject({ kind: 'update', record: { epoch: 4 } });
  });
});

describe('leaseAfter', () => {
  const take: LeaseDecision = { kind: 'update', record: { holder: 'a', epoch: 4, expiresAt: 2_000 }, expectedRevision: 7 };
  const leader: LeaseState = { role: 'leader', epoch: 4, revision: 8, expiresAt: 2_000 };

  it('is elected by a write that lands, and renews by the next one', () => {
    expect(leaseAfter(FOLLOWER, take, { kind: 'written', revision: 8 }, 1_000)).toEqual({ state: leader, change: { kind: 'elected', epoch: 4 } });
    const renew: LeaseDecision = { kind: 'update', record: { holder: 'a', epoch: 4, expiresAt: 2_500 }, expectedRevision: 8 };
    expect(leaseAfter(leader, renew, { kind: 'written', revision: 9 }, 1_500)).toEqual({
      state: { role: 'leader', epoch: 4, revision: 9, expiresAt: 2_500 },
      change: { kind: 'renewed', epoch: 4 },
    });
  });

  it('is deposed by a lost write, or by reading another holder', () => {
    expect(leaseAfter(leader, take, { kind: 'conflict' }, 1_500)).toEqual({ state: FOLLOWER, change: { kind: 'deposed', epoch: 4 } });
    const other: LeaseRecord = { holder: 'b', epoch: 5, expiresAt: 3_000 };
    expect(leaseAfter(leader, { kind: 'follow', leader: other }, undefined, 1_500)).toEqual({
      state: { role: 'follower', leader: other },
      change: { kind: 'deposed', epoch: 4, leader: other },
    });
    // A follower that loses a race or reads a holder stays a follower, and nothing changed for it.
    expect(leaseAfter(FOLLOWER, take, { kind: 'conflict' }, 1_000)).toEqual({ state: FOLLOWER });
  });

  it('keeps a leader whose write had no answer until its own expiry, and not a moment longer', () => {
    expect(leaseAfter(leader, take, { kind: 'failed' }, 1_999)).toEqual({ state: leader });
    expect(leaseAfter(leader, take, { kind: 'failed' }, 2_000)).toEqual({ state: FOLLOWER, change: { kind: 'deposed', epoch: 4 } });
    expect(leaseAfter(FOLLOWER, take, { kind: 'failed' }, 1_000)).toEqual({ state: FOLLOWER });
  });

  it('gives nobody the lease by a seed, and deposes a leader that finds no entry at all', () => {
    expect(leaseAfter(FOLLOWER, { kind: 'seed' }, { kind: 'written', revision: 1 }, 1_000)).toEqual({ state: FOLLOWER });
    expect(leaseAfter(leader, { kind: 'seed' }, { kind: 'written', revision: 1 }, 1_000)).toEqual({ state: FOLLOWER, change: { kind: 'deposed', epoch: 4 } });
  });
});

describe('leading and fenceWrite', () => {
  const leader: LeaseState = { role: 'leader', epoch: 4, revision: 8, expiresAt: 2_000 };

  it('lead only before the expiry the leader wrote', () => {
    expect(leading(leader, 1_999)).toBe(true);
    expect(leading(leader, 2_000)).toBe(false);
    expect(leading(FOLLOWER, 0)).toBe(false);
  });

  it('let a writer of the current epoch through with a renewal on its last revision, and refuse any other', () => {
    expect(fenceWrite(leader, 4, a, 1_500)).toEqual({ kind: 'update', record: { holder: 'a', epoch: 4, expiresAt: 2_500 }, expectedRevision: 8 });
    expect(fenceWrite(leader, 3, a, 1_500)).toEqual({ kind: 'refused', reason: 'epoch 3 is over; this node leads epoch 4' });
    expect(fenceWrite(FOLLOWER, 4, a, 1_500)).toEqual({ kind: 'refused', reason: 'not the leader (epoch 4 is over)' });
  });
});

describe('parseLeaseRecord', () => {
  it('reads a record and nothing else', () => {
    expect(parseLeaseRecord({ holder: 'a', epoch: 2, expiresAt: 5 })).toEqual({ holder: 'a', epoch: 2, expiresAt: 5 });
    for (const bad of [null, 'x', {}, { holder: '', epoch: 1, expiresAt: 1 }, { holder: 'a', epoch: 0, expiresAt: 1 }, { holder: 'a', epoch: 1.5, expiresAt: 1 }, { holder: 'a', epoch: 1, expiresAt: 'soon' }]) {
      expect(parseLeaseRecord(bad), JSON.stringify(bad)).toBeUndefined();
    }
  });
});

/** The KV entry as JetStream keeps it: a conditional write lands only on the revision it expects. */
class Store {
  revision = 0;
  record: LeaseRecord | undefined;
  view(): LeaseView {
    return { revision: this.revision, ...(this.record ? { record: this.record } : {}) };
  }
  write(decision: LeaseDecision): WriteOutcome | undefined {
    if (decision.kind === 'follow') return undefined;
    const expected = decision.kind === 'seed' ? 0 : decision.expectedRevision;
    if (expected !== this.revision) return { kind: 'conflict' };
    this.record = decision.kind === 'seed' ? undefined : decision.record;
    return { kind: 'written', revision: ++this.revision };
  }
}

describe('three candidates on one store', () => {
  it('never lead at once, hand over only after the expiry, and raise the epoch at every new holder', () => {
    const store = new Store();
    const nodes = ['a', 'b', 'c'].map((node) => ({ candidate: { node, ttlMs: TTL }, state: FOLLOWER as LeaseState }));
    const elected: Array<{ node: string; epoch: number; at: number }> = [];
    // Every node polls every 250 ms, in turns; from 3 s on, whoever leads stops (it died), so the others take over in turn.
    for (let now = 0; now <= 8_000; now += 50) {
      for (const node of nodes) {
        if ((now / 50 + nodes.indexOf(node)) % 5 !== 0) continue;
        const dead = now >= 3_000 && elected.at(-1)?.node === node.candidate.node && now - elected.at(-1)!.at >= 2_000;
        if (dead) continue;
        const decision = decideLease(node.state, store.view(), node.candidate, now);
        const after = leaseAfter(node.state, decision, store.write(decision), now);
        node.state = after.state;
        if (after.change?.kind === 'elected') elected.push({ node: node.candidate.node, epoch: after.change.epoch, at: now });
        expect(nodes.filter((other) => leading(other.state, now)).length, `leaders at ${now} ms`).toBeLessThanOrEqual(1);
      }
    }
    expect(elected.length).toBeGreaterThan(2);
    // The first above the vacant entry's revision (1), then one more per holder.
    expect(elected.map((entry) => entry.epoch)).toEqual(elected.map((_, i) => i + 2));
    for (let i = 1; i < elected.length; i++) expect(elected[i]!.node).not.toBe(elected[i - 1]!.node);
  });
});
