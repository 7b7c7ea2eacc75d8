/**
 * An issue's node state in the dependency graph, from its record and lifecycle (live, or as
 * persisted in the KV bucket): what readiness follows and what a finished issue's summary keeps
 * (./finished.ts). When a dependency counts as satisfied depends on `workflow.dependencies.mode`
 * (./readiness.ts says how).
 */
import type { NodeState } from '../machines/dag.ts';
import type { LifecycleContext } from '../machines/issue-lifecycle.ts';
import type { IssueRecord } from './record.ts';

const PAST_PR = new Set(['merging', 'merge_blocked', 'done']);

export type DependencyMode = 'merged' | 'stacked';

export function nodeStateOf(
  record: Pick<IssueRecord, 'mergedOutside' | 'pullRequest'>,
  snapshot: { value: unknown; context: Pick<LifecycleContext, 'merged' | 'results' | 'route'> },
  mode: DependencyMode,
): NodeState {
  const { context } = snapshot;
  switch (snapshot.value) {
    case 'failed':
      return 'failed';
    case 'released':
      return 'cancelled';
  }
  if (context.merged || record.mergedOutside) return 'done';
  if (mode === 'stacked') return PAST_PR.has(String(snapshot.value)) || context.results.pr?.status === 'success' ? 'done' : 'pending';
  // merged: done without a merge stage; satisfied once its pull request is merged, or when it has
  // none. Asked by its route, not by the record: the pull request is opened just after the step
  // that ends the pr stage, and a dependent freed in between would start without its work.
  return snapshot.value === 'done' && record.pullRequest === undefined && !context.route.some((stage) => stage.stage === 'pr') ? 'done' : 'pending';
}
