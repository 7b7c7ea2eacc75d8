/**
 * One row per issue: route, state, attempts, duration and why — what `up --once` prints and
 * `issues` shows, from a live lifecycle or one persisted in the KV bucket.
 */
import type { LifecycleContext } from '../machines/issue-lifecycle.ts';
import type { IssueRecord } from './record.ts';

export interface SummaryRow {
  issue: number;
  title: string;
  route: string;
  state: string;
  reason: string | undefined;
  attempts: number;
  durationMs: number | undefined;
  pullRequest: string | undefined;
  /** The merge commit on the base branch, once merged. */
  merged: string | undefined;
}

/** One issue's row of the summary, from its record and lifecycle snapshot (live or as persisted). */
export function summaryRow(
  record: Pick<IssueRecord, 'number' | 'issue' | 'pullRequest' | 'mergedOutside'>,
  snapshot: { value: unknown; context: Pick<LifecycleContext, 'route' | 'reason' | 'waitingOn' | 'history' | 'startedAt' | 'finishedAt'> & { merged?: LifecycleContext['merged'] } },
  isExternal: (issue: number) => boolean = () => false,
): SummaryRow {
  const { value, context } = snapshot;
  const waitingOn = context.waitingOn.map((id) => `#${id}${isExternal(id) ? ' (open on the tracker, outside the scope)' : ''}`);
  return {
    issue: record.number,
    title: record.issue.title,
    route: context.route.map((stage) => stage.stage).join(' → '),
    state: String(value),
    reason: context.reason ?? (value === 'waiting' ? `waits for ${waitingOn.join(', ')}` : undefined),
    attempts: context.history.filter((run) => run.status !== 'cached').length,
    durationMs: context.startedAt !== undefined && context.finishedAt !== undefined ? context.finishedAt - context.startedAt : undefined,
    pullRequest: record.pullRequest?.url,
    merged: context.merged?.sha ?? record.mergedOutside,
  };
}
