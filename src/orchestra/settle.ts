/**
 * Batch mode: the orchestra has done all it can with the backlog when the watcher has read the
 * tracker, the workflow has consumed every event on the bus, and no issue can move by itself
 * (each is done, failed, blocked, released, or waits on an issue outside the orchestra's scope).
 * Checked twice in a row, so an event in flight between the checks is not missed.
 */
import type { OrchestraResources } from '../actors/resources.ts';
import { workflowBacklog } from '../actors/workflow.ts';

export async function isSettled(resources: OrchestraResources): Promise<boolean> {
  const { watcher, workflow } = resources;
  if (!watcher || !workflow || watcher.polls < 1) return false;
  if (!workflow.settled()) return false;
  return (await workflowBacklog(resources)) === 0;
}

/** Resolves when settled (twice, `intervalMs` apart); rejects when `abort` fires first. */
export function waitUntilSettled(resources: OrchestraResources, options: { intervalMs?: number; signal?: AbortSignal } = {}): Promise<void> {
  const intervalMs = options.intervalMs ?? 250;
  return new Promise((resolve, reject) => {
    let streak = 0;
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      clearTimeout(timer);
      reject(options.signal?.reason ?? new Error('aborted'));
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const check = async () => {
      const settled = await isSettled(resources).catch(() => false);
      streak = settled ? streak + 1 : 0;
      if (streak >= 2) {
        options.signal?.removeEventListener('abort', onAbort);
        return resolve();
      }
      if (!options.signal?.aborted) timer = setTimeout(() => void check(), intervalMs);
    };
    void check();
  });
}
