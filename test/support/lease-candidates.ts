/**
 * Candidates for the leader lease on a test NATS cluster: each its own NATS connection (to every
 * server of the cluster, reconnecting), its own LeaderLease over one shared bucket of three
 * replicas, and a record of everything it did — each read of the lease (what it saw, when) and
 * each write (what, and how it ended), each change (elected, renewed, deposed).
 *
 * Tests wait on what happens, never on time: `until(condition)` is checked again after every read,
 * write and change of any candidate. Every step of every candidate also checks that no two lead at
 * once; a breach is kept in `overlaps` for the test to assert empty.
 */
import type { KV } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { kvLeaseStore, LeaderLease, type LeaseStore } from '../../src/cluster/leader-lease.ts';
import { describeError } from '../../src/errors.ts';
import { Bus } from '../../src/infra/bus/bus.ts';
import type { LeaseChange, LeaseView, LeaseWrite, WriteOutcome } from '../../src/machines/leader-lease.ts';
import { uniqueTopology } from '../bus/helpers.ts';

export type LeaseOp =
  | { node: string; at: number; kind: 'read'; view?: LeaseView; error?: string }
  | { node: string; at: number; kind: 'write'; write: LeaseWrite; outcome: WriteOutcome };

export interface Candidate {
  name: string;
  nc: NatsConnection;
  kv: KV;
  lease: LeaderLease;
  /** The lease's store as the lease uses it, unrecorded. */
  store: LeaseStore;
  changes: Array<LeaseChange & { at: number }>;
}

export interface LeaseCandidates {
  nodes: Candidate[];
  ops: LeaseOp[];
  /** Times at which more than one candidate was leading. */
  overlaps: Array<{ at: number; leaders: string[] }>;
  /** Every `elected`, in order, across the candidates. */
  elections(): Array<{ node: string; epoch: number; at: number }>;
  leaders(): Candidate[];
  until(condition: () => boolean, what: string, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** A store that records what it is asked and answers, then tells `notify`. */
function recorded(store: LeaseStore, node: string, ops: LeaseOp[], notify: () => void): LeaseStore {
  return {
    async read() {
      try {
        const view = await store.read();
        ops.push({ node, at: Date.now(), kind: 'read', view });
        return view;
      } catch (error) {
        ops.push({ node, at: Date.now(), kind: 'read', error: describeError(error) });
        throw error;
      } finally {
        notify();
      }
    },
    async write(write) {
      const outcome = await store.write(write);
      ops.push({ node, at: Date.now(), kind: 'write', write, outcome });
      notify();
      return outcome;
    },
  };
}

export async function leaseCandidates(urls: string[], options: { names?: string[]; ttlMs: number; pollMs: number }): Promise<LeaseCandidates> {
  const topology = { ...uniqueTopology('file'), replicas: 3 };
  const ops: LeaseOp[] = [];
  const overlaps: LeaseCandidates['overlaps'] = [];
  const waiters = new Set<() => void>();
  const nodes: Candidate[] = [];
  const leaders = (): Candidate[] => nodes.filter((node) => node.lease.isLeader());
  const notify = (): void => {
    const now = leaders();
    if (now.length > 1) overlaps.push({ at: Date.now(), leaders: now.map((node) => node.name) });
    for (const waiter of [...waiters]) waiter();
  };
  for (const name of options.names ?? ['a', 'b', 'c']) {
    const nc = await connect({ servers: urls, name, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    const bus = new Bus(nc, { sender: name, topology });
    const kv = await bus.lease();
    const store = kvLeaseStore(nc, kv, { bucket: bus.topology.leaseBucket, timeoutMs: 1_000 });
    const lease = new LeaderLease({
      store: recorded(store, name, ops, notify),
      node: name,
      ttlMs: options.ttlMs,
      pollMs: options.pollMs,
    });
    const changes: Candidate['changes'] = [];
    lease.onChange((change) => {
      changes.push({ ...change, at: Date.now() });
      notify();
    });
    nodes.push({ name, nc, kv, lease, store, changes });
  }
  return {
    nodes,
    ops,
    overlaps,
    elections: () =>
      nodes
        .flatMap((node) => node.changes.filter((change) => change.kind === 'elected').map((change) => ({ node: node.name, epoch: change.epoch, at: change.at })))
        .sort((x, y) => x.epoch - y.epoch),
    leaders,
    until(condition, what, timeoutMs = 20_000) {
      return new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (!condition()) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    async close() {
      for (const node of nodes) await node.lease.stop();
      await Promise.all(nodes.map((node) => (node.nc.isClosed() ? undefined : node.nc.close())));
    },
  };
}
