/**
 * Batch mode: the orchestra has done all it can with the backlog when the watcher has read the
 * tracker, the workflow has consumed every event on the bus, and no issue can move by itself
 * (each is done, failed, blocked, released, or waits on an issue outside the orchestra's scope).
 * Checked twice in a row, so an event in flight between the checks is not missed.
 *
 * It has also done all it can when the tracker cannot be read: `BATCH_POLL_FAILURES` polls in a
 * row failed or could not judge every issue (an outage that does not end, a token that may not
 * read what the trust gate needs), and the work it could see is settled. Batch mode then ends
 * with the reason (`tracker`), rather than wait for ever — or say "0 of 0 done" as if the
 * backlog were empty.
 */
import type { OrchestraResources } from '../actors/resources.ts';
import { workflowBacklog } from '../actors/workflow.ts';

/** Polls in a row that failed (or were not complete) before batch mode stops on them. */
export const BATCH_POLL_FAILURES = 3;

export type BatchEnd = { kind: 'settled' } | { kind: 'tracker'; problem: string; failures: number };

/** How the batch ends now; undefined while something may still happen. */
export async function batchEnd(resources: OrchestraResources): Promise<BatchEnd | undefined> {
  const { watcher, workflow } = resources;
  if (!watcher || !workflow) return undefined;
  const failing = watcher.failures >= BATCH_POLL_FAILURES;
  // A poll that failed once may succeed next time: wait for it, or for the failures to add up.
  if (!failing && (watcher.failures > 0 || watcher.polls < 1)) return undefined;
  if (!workflow.settled()) return undefined;
  if ((await workflowBacklog(resources)) !== 0) return undefined;
  return failing ? { kind: 'tracker', problem: watcher.problem ?? 'unknown', failures: watcher.failures } : { kind: 'settled' };
}

/** Resolves with how the batch ended (the same answer twice, `intervalMs` apart); rejects when `abort` fires first. */
export function waitUntilSettled(resources: OrchestraResources, options: { intervalMs?: number; signal?: AbortSignal } = {}): Promise<BatchEnd> {
  const intervalMs = options.intervalMs ?? 250;
  return new Promise((resolve, reject) => {
    let streak = 0;
    let last: BatchEnd['kind'] | undefined;
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      clearTimeout(timer);
      reject(options.signal?.reason ?? new Error('aborted'));
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const check = async () => {
      const end = await batchEnd(resources).catch(() => undefined);
      streak = end !== undefined && end.kind === last ? streak + 1 : end === undefined ? 0 : 1;
      last = end?.kind;
      if (end !== undefined && streak >= 2) {
        options.signal?.removeEventListener('abort', onAbort);
        return resolve(end);
      }
      if (!options.signal?.aborted) timer = setTimeout(() => void check(), intervalMs);
    };
    void check();
  });
}
