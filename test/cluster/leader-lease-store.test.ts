/**
 * LeaderLease (src/cluster/leader-lease.ts) over a store and a clock of the test's own, one poll
 * at a time, for what the real cluster cannot be made to do on cue: a store that cannot be read
 * or gives no answer to a write, a fence without an answer, a release, and a listener that throws.
 */
import { describe, expect, it } from 'vitest';
import { LeaderLease, type LeaseStore } from '../../src/cluster/leader-lease.ts';
import { ErrorCodes } from '../../src/errors.ts';
import type { LeaseChange, LeaseRecord, LeaseView, LeaseWrite, WriteOutcome } from '../../src/machines/leader-lease.ts';

/** The one entry, written only on the revision expected; `down` makes every call fail as a lost connection would. */
class MemoryStore implements LeaseStore {
  revision = 0;
  record: LeaseRecord | undefined;
  down = false;
  async read(): Promise<LeaseView> {
    if (this.down) throw new Error('no connection');
    return { revision: this.revision, ...(this.record ? { record: this.record } : {}) };
  }
  async write(write: LeaseWrite): Promise<WriteOutcome> {
    if (this.down) return { kind: 'failed', reason: 'no connection' };
    if ((write.kind === 'seed' ? 0 : write.expectedRevision) !== this.revision) return { kind: 'conflict' };
    this.record = write.kind === 'seed' ? undefined : write.record;
    return { kind: 'written', revision: ++this.revision };
  }
}

function lease(store: LeaseStore, node: string, clock: { now: number }, mayTake?: () => boolean) {
  const lease = new LeaderLease({ store, node, ttlMs: 1_000, now: () => clock.now, ...(mayTake ? { mayTake } : {}) });
  const changes: LeaseChange[] = [];
  lease.onChange((change) => changes.push(change));
  return { lease, changes };
}

describe('LeaderLease over a store of the test', () => {
  it('seeds and takes an empty store in one poll, then renews', async () => {
    const store = new MemoryStore();
    const clock = { now: 0 };
    const a = lease(store, 'a', clock);
    expect(await a.lease.poll()).toEqual({ role: 'leader', epoch: 2, revision: 2, expiresAt: 1_000 });
    expect(a.lease.epoch()).toBe(2);
    clock.now = 300;
    await a.lease.poll();
    expect(a.changes).toEqual([{ kind: 'elected', epoch: 2 }, { kind: 'renewed', epoch: 2 }]);
    expect(store.record).toEqual({ holder: 'a', epoch: 2, expiresAt: 1_300 });
  });

  it('does not take a vacant or expired lease while it may not (a node the leader refused), and takes it once it may', async () => {
    const store = new MemoryStore();
    const clock = { now: 0 };
    let may = false;
    const b = lease(store, 'b', clock, () => may);
    expect(await b.lease.poll()).toEqual({ role: 'follower' });
    expect(store.record).toBeUndefined();
    const a = lease(store, 'a', clock);
    await a.lease.poll();
    clock.now = 5_000; // a's lease long expired
    expect(await b.lease.poll()).toEqual({ role: 'follower' });
    expect(store.record?.holder).toBe('a');
    may = true;
    expect((await b.lease.poll()).role).toBe('leader');
    expect(b.changes).toEqual([{ kind: 'elected', epoch: 3 }]);
  });

  it('keeps leading through an unreadable store until its own expiry, then steps down', async () => {
    const store = new MemoryStore();
    const clock = { now: 0 };
    const a = lease(store, 'a', clock);
    await a.lease.poll();
    store.down = true;
    clock.now = 999;
    await a.lease.poll();
    expect(a.lease.isLeader()).toBe(true);
    clock.now = 1_000;
    expect(a.lease.isLeader()).toBe(false);
    await a.lease.poll();
    expect(a.lease.state).toEqual({ role: 'follower' });
    expect(a.changes.at(-1)).toEqual({ kind: 'deposed', epoch: 2 });
  });

  it('holds a fenced write back when the store gives no answer, and lets it through once it does', async () => {
    const store = new MemoryStore();
    const clock = { now: 0 };
    const a = lease(store, 'a', clock);
    await a.lease.poll();
    store.down = true;
    await expect(a.lease.fence(2)).rejects.toMatchObject({ code: ErrorCodes.LeaseUnconfirmed });
    store.down = false;
    await expect(a.lease.fence(2)).resolves.toBeUndefined();
    await expect(a.lease.fence(1)).rejects.toMatchObject({ code: ErrorCodes.LeaseLost, message: expect.stringContaining('leads epoch 2') });
  });

  it('hands over at once on release: a follower takes the lease at its next poll, not after the TTL', async () => {
    const store = new MemoryStore();
    const clock = { now: 0 };
    const a = lease(store, 'a', clock);
    const b = lease(store, 'b', clock);
    await a.lease.poll();
    await b.lease.poll();
    expect(b.lease.state).toMatchObject({ role: 'follower', leader: { holder: 'a' } });
    clock.now = 10;
    await a.lease.release();
    expect(a.changes.at(-1)).toEqual({ kind: 'deposed', epoch: 2 });
    await b.lease.poll();
    expect(b.changes).toEqual([{ kind: 'elected', epoch: 3 }]);
    await a.lease.poll();
    expect(a.lease.state).toMatchObject({ role: 'follower', leader: { holder: 'b', epoch: 3 } });
  });

  it('tells every listener even when one throws', async () => {
    const store = new MemoryStore();
    const a = new LeaderLease({ store, node: 'a', ttlMs: 1_000, now: () => 0 });
    const heard: string[] = [];
    a.onChange(() => {
      throw new Error('listener bug');
    });
    a.onChange((change) => heard.push(change.kind));
    await a.poll();
    expect(heard).toEqual(['elected']);
  });
});
