/**
 * This node's part in the cluster's leader lease: the decisions of src/machines/leader-lease.ts
 * given a store and a clock. Every `pollMs` the node reads the lease and writes what the decision
 * says (create, take, renew) or follows; listeners hear `elected`, `renewed` and `deposed`.
 *
 *   const store = kvLeaseStore(nc, await bus.lease(), { bucket: bus.topology.leaseBucket });
 *   const lease = new LeaderLease({ store, node: 'host-a', ttlMs: 10_000 });
 *   lease.onChange((change) => …);
 *   lease.start();
 *   const epoch = lease.epoch();                // undefined unless leading
 *   await lease.fence(epoch);                   // before a write only the leader may make
 *   await lease.stop(); await lease.release();  // a clean shutdown hands over at once
 *
 * `fence(epoch)` is one conditional write on the revision of this node's last write: it lands only
 * if nobody wrote the lease since, so a leader that was paused past its lease (and replaced) is
 * refused with `lease_lost` and becomes a follower; without an answer it is refused with
 * `lease_unconfirmed` (the write must wait). Polls and fences run one at a time, so each writes on
 * the revision the other left. docs/CLUSTER.md says what this guarantees and what it does not.
 */
import { jetstream, JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import pino, { type Logger } from 'pino';
import { leasePollMs } from '../config/sections/cluster.ts';
import { describeError, ErrorCodes, MiyabiError } from '../errors.ts';
import {
  decideLease,
  fenceWrite,
  FOLLOWER,
  leaseAfter,
  leaseUnknown,
  leading,
  parseLeaseRecord,
  type Candidate,
  type LeaseChange,
  type LeaseState,
  type LeaseView,
  type LeaseWrite,
  type WriteOutcome,
} from '../machines/leader-lease.ts';

/** The lease's key in its bucket (`KV_miyabi-cluster`). */
export const LEADER_KEY = 'leader';

/** Where the lease is kept: one entry, read, and written only on the revision expected. */
export interface LeaseStore {
  /** Throws when the store cannot be read. */
  read(): Promise<LeaseView>;
  /** Never throws: a write that did not land says whether another write won (`conflict`) or nothing is known (`failed`). */
  write(write: LeaseWrite): Promise<WriteOutcome>;
}

function isWrongRevision(error: unknown): boolean {
  return (
    error instanceof JetStreamApiError &&
    (error.code === JetStreamApiCodes.StreamWrongLastSequence || error.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

/** What a vacant entry holds: no holder, so no lease (parseLeaseRecord reads nothing from it). */
const VACANT = JSON.stringify({ vacant: true });

/**
 * The lease as the one key of a JetStream KV bucket of its own (`Bus.lease()`); a write not
 * answered within `timeoutMs` is `failed`.
 *
 * An update expects the revision as the last sequence of the bucket's *stream*, not of the key's
 * subject (what `kv.update` sends): on a clustered stream nats-server before 2.9.21 checks the
 * subject's last sequence before proposing the write, not as part of it, so two updates on the
 * same revision can both land (nats-io/nats-server#4320; seen here on 2.9.10). The stream's last
 * sequence is checked against the writes already proposed, so only one of them lands; and with one
 * key in the bucket, the stream's last sequence is that key's revision.
 */
export function kvLeaseStore(nc: NatsConnection, kv: KV, options: { bucket: string; key?: string; timeoutMs?: number }): LeaseStore {
  const key = options.key ?? LEADER_KEY;
  const subject = `$KV.${options.bucket}.${key}`;
  const timeout = options.timeoutMs ?? 2_000;
  const js = jetstream(nc);
  return {
    async read() {
      const entry = await kv.get(key);
      if (entry === null) return { revision: 0 };
      let value: unknown;
      try {
        value = entry.operation === 'PUT' ? entry.json() : undefined;
      } catch {
        // Not JSON: no lease anyone holds; the next holder overwrites it on its revision.
      }
      const record = parseLeaseRecord(value);
      return { revision: entry.revision, ...(record ? { record } : {}) };
    },
    async write(write) {
      try {
        // A seed expects no entry for the key; two seeds at once may both land, which is harmless (vacant).
        if (write.kind === 'seed') return { kind: 'written', revision: await kv.put(key, VACANT, { previousSeq: 0, timeout }) };
        const ack = await js.publish(subject, JSON.stringify(write.record), { expect: { lastSequence: write.expectedRevision }, timeout });
        return { kind: 'written', revision: ack.seq };
      } catch (error) {
        return isWrongRevision(error) ? { kind: 'conflict' } : { kind: 'failed', reason: describeError(error) };
      }
    },
  };
}

export interface LeaderLeaseOptions {
  store: LeaseStore;
  /** This node's name (`cluster.node`): the holder the lease names. */
  node: string;
  ttlMs: number;
  /** Default: a third of the TTL (src/config/sections/cluster.ts). */
  pollMs?: number;
  /** Wall-clock ms; the expiry in the lease is on this clock. */
  now?: () => number;
  logger?: Logger;
  /** Whether this node may take the lease now (default: always); when not, it follows. A leader keeps renewing whatever this says. */
  mayTake?: () => boolean;
}

export class LeaderLease {
  readonly #store: LeaseStore;
  readonly #candidate: Candidate;
  readonly #pollMs: number;
  readonly #now: () => number;
  readonly #log: Logger;
  readonly #mayTake: () => boolean;
  readonly #listeners = new Set<(change: LeaseChange) => void>();
  #state: LeaseState = FOLLOWER;
  /** Polls and fences, one at a time. */
  #queue: Promise<unknown> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  /** Which start() the poll loop belongs to, or undefined when stopped: a poll still running from before a stop() and start() must not arm a second loop. */
  #run: object | undefined;

  constructor(options: LeaderLeaseOptions) {
    this.#store = options.store;
    this.#candidate = { node: options.node, ttlMs: options.ttlMs };
    this.#pollMs = options.pollMs ?? leasePollMs(options.ttlMs);
    this.#now = options.now ?? Date.now;
    this.#mayTake = options.mayTake ?? (() => true);
    this.#log = (options.logger ?? pino({ level: 'silent' })).child({ component: 'leader-lease', node: options.node });
  }

  get node(): string {
    return this.#candidate.node;
  }

  get state(): LeaseState {
    return this.#state;
  }

  /** Leading now: this node won the lease and its expiry has not come. */
  isLeader(): boolean {
    return leading(this.#state, this.#now());
  }

  /** The epoch this node leads, or undefined. */
  epoch(): number | undefined {
    return this.isLeader() && this.#state.role === 'leader' ? this.#state.epoch : undefined;
  }

  /** Told of every change (elected, renewed, deposed); returns how to stop being told. */
  onChange(listener: (change: LeaseChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Polls now, then `pollMs` after each poll ends, until `stop()`. */
  start(): void {
    if (this.#run !== undefined) return;
    const run = (this.#run = {});
    const tick = (): void => {
      void this.poll()
        .catch((error: unknown) => this.#log.error({ err: describeError(error) }, 'leader lease poll failed'))
        .finally(() => {
          if (this.#run === run) this.#timer = setTimeout(tick, this.#pollMs);
        });
    };
    tick();
  }

  /** No more polls (the lease is kept until it expires: see `release`); resolves when the one running is done. */
  async stop(): Promise<void> {
    this.#run = undefined;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#queue;
  }

  /** One poll: read the lease, write what the decision says, become what the outcome makes this node. */
  poll(): Promise<LeaseState> {
    return this.#serially(async () => {
      // Twice at most: a vacant entry just seeded is taken in the same poll.
      for (let pass = 0; pass < 2; pass++) {
        let view: LeaseView;
        try {
          view = await this.#store.read();
        } catch (error) {
          this.#log.warn({ err: describeError(error) }, 'leader lease unreadable');
          this.#apply(leaseUnknown(this.#state, this.#now()));
          return this.#state;
        }
        const now = this.#now();
        const decision = decideLease(this.#state, view, this.#candidate, now);
        // A take (an update by a node not leading) by a node that may not take: it stays a follower.
        if (decision.kind === 'update' && this.#state.role !== 'leader' && !this.#mayTake()) break;
        const outcome = decision.kind === 'follow' ? undefined : await this.#store.write(decision);
        if (outcome?.kind === 'failed') this.#log.warn({ err: outcome.reason }, 'leader lease write without an answer');
        this.#apply(leaseAfter(this.#state, decision, outcome, now));
        if (decision.kind !== 'seed') break;
      }
      return this.#state;
    });
  }

  /**
   * Resolves when this node still leads `epoch`, proven by a write of the lease that nobody could
   * have made stale; throws MiyabiError `lease_lost` (and steps down) when it does not, or
   * `lease_unconfirmed` when the store gave no answer.
   */
  fence(epoch: number): Promise<void> {
    return this.#serially(async () => {
      const now = this.#now();
      const write = fenceWrite(this.#state, epoch, this.#candidate, now);
      if (write.kind === 'refused') throw new MiyabiError(ErrorCodes.LeaseLost, `write of epoch ${epoch} refused on ${this.node}: ${write.reason}`);
      const outcome = await this.#store.write(write);
      this.#apply(leaseAfter(this.#state, write, outcome, now));
      if (outcome.kind === 'conflict') {
        throw new MiyabiError(ErrorCodes.LeaseLost, `write of epoch ${epoch} refused on ${this.node}: another node wrote the lease since (deposed)`);
      }
      if (outcome.kind === 'failed') {
        throw new MiyabiError(ErrorCodes.LeaseUnconfirmed, `write of epoch ${epoch} held back on ${this.node}: the lease could not be confirmed (${outcome.reason ?? 'no answer'})`);
      }
    });
  }

  /** Hands the lease over at once (expires it now) when this node leads; then it is a follower. Call after `stop()`. */
  release(): Promise<void> {
    return this.#serially(async () => {
      const state = this.#state;
      if (state.role !== 'leader') return;
      const outcome = await this.#store.write({
        kind: 'update',
        record: { holder: this.node, epoch: state.epoch, expiresAt: this.#now() },
        expectedRevision: state.revision,
      });
      this.#log.info({ epoch: state.epoch, outcome: outcome.kind }, 'leader lease released');
      this.#apply({ state: FOLLOWER, change: { kind: 'deposed', epoch: state.epoch } });
    });
  }

  #serially<T>(step: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(step);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  #apply(after: { state: LeaseState; change?: LeaseChange }): void {
    this.#state = after.state;
    const { change } = after;
    if (change === undefined) return;
    if (change.kind !== 'renewed') this.#log.info({ change: change.kind, epoch: change.epoch, leader: change.kind === 'deposed' ? change.leader?.holder : this.node }, `leader lease: ${change.kind}`);
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch (error) {
        this.#log.error({ err: describeError(error) }, 'leader lease listener threw; ignored');
      }
    }
  }
}
