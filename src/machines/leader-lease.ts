/**
 * The leader lease of a cluster, as pure decisions: what a node does with the lease it read, what
 * it is after its write, and whether a write of its own may go ahead. No I/O and no clock here:
 * the lease's key-value store and the time are the caller's (src/cluster/leader-lease.ts).
 *
 * The lease is one KV entry holding `{ holder, epoch, expiresAt }`. nats-server 2.9 has no per-key
 * TTL, so the expiry is inside the value; every lease write is an update conditional on the
 * revision read, so of two nodes writing on the same revision exactly one wins and the other
 * learns it lost. At each poll a node:
 *
 *   - holds the lease (it won the last write it knows of, and the entry still names it with that
 *     epoch): renews it, same epoch, expiry pushed on;
 *   - sees no entry at all: seeds a vacant one (no holder), to take at once like any other;
 *   - sees no lease (a vacant entry, a deleted one, a value it cannot read): takes it;
 *   - sees an expired lease of another holder (or of its own name from a life it does not
 *     remember: a restarted node waits like anyone else): takes it, epoch + 1;
 *   - else follows.
 *
 * The epoch is the fencing token: it rises at every change of holder and never goes back (a
 * lease taken after its entry was deleted starts above that entry's revision, which no earlier
 * epoch can exceed: every epoch was one write). A leader is leading only while its own clock is
 * before the expiry it wrote; `fence` makes a writer prove it still holds the lease with one more
 * conditional write, which fails for a deposed leader (another holder wrote since).
 */

export interface LeaseRecord {
  /** The node holding the lease. */
  holder: string;
  /** The fencing token: +1 at every change of holder. */
  epoch: number;
  /** Wall-clock time (ms since the epoch, the holder's clock) from which anyone may take the lease. */
  expiresAt: number;
}

/** What the store holds: the entry's revision (0: none, not even a deleted one) and its record, if readable. */
export interface LeaseView {
  revision: number;
  record?: LeaseRecord;
}

export type LeaseState =
  | { role: 'follower'; /** The holder last seen, if any. */ leader?: LeaseRecord }
  | { role: 'leader'; epoch: number; /** The revision of our last write: the next one expects it. */ revision: number; expiresAt: number };

/**
 * `seed`: a vacant entry where there is none. A lease is never created directly: the revision of
 * an empty bucket (0) is one no conditional write can be made safely on (docs/CLUSTER.md), while
 * a vacant entry, even written twice by two nodes at once, gives nobody the lease.
 */
export type LeaseWrite = { kind: 'seed' } | { kind: 'update'; record: LeaseRecord; expectedRevision: number };

export type LeaseDecision = LeaseWrite | { kind: 'follow'; leader: LeaseRecord };

/** How a conditional write ended: done (its revision), lost to another write, or unknown (timeout, no connection). */
export type WriteOutcome = { kind: 'written'; revision: number } | { kind: 'conflict' } | { kind: 'failed'; reason?: string };

export type LeaseChange =
  | { kind: 'elected'; epoch: number }
  | { kind: 'renewed'; epoch: number }
  /** `leader`: who holds it now, when known. */
  | { kind: 'deposed'; epoch: number; leader?: LeaseRecord };

export interface Candidate {
  node: string;
  ttlMs: number;
}

export const FOLLOWER: LeaseState = { role: 'follower' };

/** A stored value as a record, or undefined for anything else (it is then taken as no lease). */
export function parseLeaseRecord(value: unknown): LeaseRecord | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { holder, epoch, expiresAt } = value as Record<string, unknown>;
  if (typeof holder !== 'string' || holder === '') return undefined;
  if (typeof epoch !== 'number' || !Number.isSafeInteger(epoch) || epoch < 1) return undefined;
  if (typeof expiresAt !== 'number' || !Number.isFinite(expiresAt)) return undefined;
  return { holder, epoch, expiresAt };
}

/** What a node does at a poll, given what it is and what it read. */
export function decideLease(state: LeaseState, view: LeaseView, candidate: Candidate, now: number): LeaseDecision {
  const { record, revision } = view;
  const expiresAt = now + candidate.ttlMs;
  if (record === undefined) {
    if (revision === 0) return { kind: 'seed' };
    return { kind: 'update', record: { holder: candidate.node, epoch: revision + 1, expiresAt }, expectedRevision: revision };
  }
  const mine = state.role === 'leader' && record.holder === candidate.node && record.epoch === state.epoch;
  if (mine) return { kind: 'update', record: { ...record, expiresAt }, expectedRevision: revision };
  if (now < record.expiresAt) return { kind: 'follow', leader: record };
  return { kind: 'update', record: { holder: candidate.node, epoch: record.epoch + 1, expiresAt }, expectedRevision: revision };
}

/** What a node is after its decision (and its write, if it wrote), and what changed for it. */
export function leaseAfter(
  state: LeaseState,
  decision: LeaseDecision,
  outcome: WriteOutcome | undefined,
  now: number,
): { state: LeaseState; change?: LeaseChange } {
  const deposed = (leader?: LeaseRecord): { state: LeaseState; change?: LeaseChange } =>
    state.role === 'leader'
      ? { state: { role: 'follower', ...(leader ? { leader } : {}) }, change: { kind: 'deposed', epoch: state.epoch, ...(leader ? { leader } : {}) } }
      : { state: { role: 'follower', ...(leader ? { leader } : {}) } };
  if (decision.kind === 'follow') return deposed(decision.leader);
  // No entry at all: whatever this node held is gone (the bucket was made again).
  if (decision.kind === 'seed') return deposed();
  if (outcome === undefined || outcome.kind === 'failed') return leaseUnknown(state, now);
  if (outcome.kind === 'conflict') return deposed();
  const { epoch, expiresAt } = decision.record;
  const next: LeaseState = { role: 'leader', epoch, revision: outcome.revision, expiresAt };
  const renewed = state.role === 'leader' && state.epoch === epoch;
  return { state: next, change: { kind: renewed ? 'renewed' : 'elected', epoch } };
}

/**
 * After a poll that learnt nothing (the lease unreadable, a write without an answer: it may have
 * landed): a leader stays one until its own expiry, and not a moment longer.
 */
export function leaseUnknown(state: LeaseState, now: number): { state: LeaseState; change?: LeaseChange } {
  if (state.role === 'leader' && now >= state.expiresAt) return { state: { role: 'follower' }, change: { kind: 'deposed', epoch: state.epoch } };
  return { state };
}

/** Leading now: the last write won, and its expiry (by this node's clock) has not come. */
export function leading(state: LeaseState, now: number): boolean {
  return state.role === 'leader' && now < state.expiresAt;
}

/**
 * The write that proves a writer of `epoch` still holds the lease (a renewal on the revision of
 * its own last write), or why it may not write at all: it is no leader, or not of that epoch.
 */
export function fenceWrite(
  state: LeaseState,
  epoch: number,
  candidate: Candidate,
  now: number,
): { kind: 'refused'; reason: string } | Extract<LeaseWrite, { kind: 'update' }> {
  if (state.role !== 'leader') return { kind: 'refused', reason: `not the leader (epoch ${epoch} is over)` };
  if (state.epoch !== epoch) return { kind: 'refused', reason: `epoch ${epoch} is over; this node leads epoch ${state.epoch}` };
  return {
    kind: 'update',
    record: { holder: candidate.node, epoch, expiresAt: now + candidate.ttlMs },
    expectedRevision: state.revision,
  };
}
