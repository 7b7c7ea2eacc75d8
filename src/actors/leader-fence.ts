/**
 * The fence in front of the leader's writes (docs/CLUSTER.md, "Leader-only work"): in cluster
 * mode every write of the leader-only actors — the workflow's KV records, ledger and cache, the
 * tasks it publishes and the cancels it sends, the issue events the watcher publishes, and every
 * write to the tracker — first waits for a confirmed lease of the epoch this node was elected
 * with (`LeaderLease.fence`). A leader paused past its lease and replaced fails that confirmation
 * (`lease_lost`), steps down, and its write is never made.
 *
 * One confirmation covers a batch: the writes that ask while none is in flight share the next
 * one (a commit of 256 records costs one lease write, not 256). A write never rides on a
 * confirmation that began before it asked: a pause between the two would go unseen.
 */
import type { IssueSource } from '../issues/source.ts';
import { WorkflowStore } from '../workflow/store.ts';
import type { StageResult } from '../agents/task.ts';
import type { DagSnapshot } from '../machines/dag.ts';
import type { IssueRecord } from '../workflow/record.ts';
import type { KV } from '@nats-io/kv';

/** Resolves when this node still leads the epoch it was elected with; throws `lease_lost` / `lease_unconfirmed`. */
export type Fence = () => Promise<void>;

/** Coalesces the writes asking at once into one confirmation, never into one that began before they asked. */
export class FenceGate {
  readonly #confirm: () => Promise<void>;
  /** The confirmation in flight. */
  #running: Promise<void> | undefined;
  /** The one that starts after it, shared by everyone asking meanwhile. */
  #next: Promise<void> | undefined;
  /** Confirmations made (lease writes), for the tests and the log. */
  confirmations = 0;

  constructor(confirm: () => Promise<void>) {
    this.#confirm = confirm;
  }

  readonly confirm: Fence = () => {
    if (this.#next) return this.#next;
    const after = this.#running ?? Promise.resolve();
    const next = after.catch(() => undefined).then(() => {
      if (this.#next === next) this.#next = undefined;
      this.#running = next;
      this.confirmations += 1;
      return this.#confirm();
    });
    this.#next = next;
    void next.catch(() => undefined).finally(() => {
      if (this.#running === next) this.#running = undefined;
    });
    return next;
  };
}

/** The workflow's KV store with every write behind the fence; its reads as they were. */
export class FencedWorkflowStore extends WorkflowStore {
  readonly #fence: Fence;

  constructor(kv: KV, fence: Fence) {
    super(kv);
    this.#fence = fence;
  }

  override async putRecord(record: IssueRecord): Promise<unknown> {
    await this.#fence();
    return super.putRecord(record);
  }

  override async putDag(snapshot: DagSnapshot): Promise<unknown> {
    await this.#fence();
    return super.putDag(snapshot);
  }

  override async markEffect(key: string, detail?: unknown): Promise<unknown> {
    await this.#fence();
    return super.markEffect(key, detail);
  }

  override async putCache(key: string, result: StageResult): Promise<unknown> {
    await this.#fence();
    return super.putCache(key, result);
  }
}

/** The tracker's writes (comments, labels, pull requests, merges, retargets, label sync). */
const TRACKER_WRITES = new Set<PropertyKey>(['comment', 'setExclusiveLabel', 'openPullRequest', 'mergePullRequest', 'retargetPullRequest', 'syncLabels']);

/** The issue source with the tracker's writes behind the fence; its reads pass as they were. */
export function fencedIssueSource(source: IssueSource, fence: Fence): IssueSource {
  return new Proxy(source, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      // Bound to the source itself: its methods may use private fields.
      const method = (value as (...args: unknown[]) => unknown).bind(target);
      return TRACKER_WRITES.has(property) ? behindFence(fence, method as (...args: unknown[]) => Promise<unknown>) : method;
    },
  });
}

/** `write` behind the fence when there is one (cluster mode), as it was otherwise. */
export function behindFence<A extends unknown[], R>(fence: Fence | undefined, write: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  if (!fence) return write;
  return async (...args: A) => {
    await fence();
    return write(...args);
  };
}
