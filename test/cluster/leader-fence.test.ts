/**
 * The fence in front of the leader's writes (src/actors/leader-fence.ts), without a store:
 *
 * - writes asking while no confirmation is in flight share one; a write asking while one is in
 *   flight waits for the next (never rides on one that began before it asked);
 * - a refused fence keeps the workflow store's writes and the tracker's writes from being made,
 *   while their reads go through; an accepted one lets them through.
 */
import type { KV } from '@nats-io/kv';
import { describe, expect, it } from 'vitest';
import { FencedWorkflowStore, FenceGate, fencedIssueSource } from '../../src/actors/leader-fence.ts';
import { ErrorCodes, MiyabiError } from '../../src/errors.ts';
import type { IssueSource } from '../../src/issues/source.ts';
import type { IssueRecord } from '../../src/workflow/record.ts';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

describe('the leader fence', () => {
  it('shares one confirmation among the writes asking at once, and starts a new one for a write asking during it', async () => {
    const pending: Array<() => void> = [];
    const gate = new FenceGate(() => {
      const step = deferred();
      pending.push(step.resolve);
      return step.promise;
    });
    const first = [gate.confirm(), gate.confirm(), gate.confirm()];
    await new Promise((resolve) => setImmediate(resolve));
    expect(pending).toHaveLength(1);
    const late = gate.confirm(); // asks while the first is in flight
    pending[0]!();
    await Promise.all(first);
    await new Promise((resolve) => setImmediate(resolve));
    expect(pending).toHaveLength(2); // its own confirmation, begun after it asked
    pending[1]!();
    await late;
    expect(gate.confirmations).toBe(2);
  });

  it('makes no write of the store or the tracker behind a refused fence, and lets reads through', async () => {
    const lost = new MiyabiError(ErrorCodes.LeaseLost, 'deposed');
    let refused = true;
    const fence = async () => {
      if (refused) throw lost;
    };
    const puts: string[] = [];
    const kv = { put: async (key: string) => void puts.push(key), get: async () => null } as unknown as KV;
    const store = new FencedWorkflowStore(kv, fence);
    const writes: string[] = [];
    const source = {
      kind: 'local',
      listOpen: async () => ({ issues: [] }),
      comment: async () => (writes.push('comment'), { posted: true }),
      setExclusiveLabel: async () => void writes.push('label'),
    } as unknown as IssueSource;
    const tracker = fencedIssueSource(source, fence);
    // An open issue's record (its state not finished): one put of `issue.1` once the fence lets it.
    const record = { number: 1, snapshot: { value: 'running', context: {} }, outbox: [] } as unknown as IssueRecord;
    await expect(store.putRecord(record)).rejects.toBe(lost);
    await expect(store.markEffect('comment.1')).rejects.toBe(lost);
    await expect(tracker.comment(1, 'k', 'body')).rejects.toBe(lost);
    await expect(tracker.setExclusiveLabel(1, [], 'x')).rejects.toBe(lost);
    expect(puts).toEqual([]);
    expect(writes).toEqual([]);
    await expect(tracker.listOpen()).resolves.toEqual({ issues: [] });
    expect(await store.effect('comment.1')).toBeUndefined();
    refused = false;
    await store.putRecord(record);
    await tracker.comment(1, 'k', 'body');
    expect(puts).toEqual(['issue.1']);
    expect(writes).toEqual(['comment']);
  });
});
