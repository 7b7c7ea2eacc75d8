/**
 * The backlog as the tracker has it, without running anything: which issues are in scope (the
 * trust gate), their dependencies (bodies, the tracker and its "blocked by", the dependency file)
 * and the graph, with each issue's state as far as it can be known statically. `dag check` and
 * `dag show` use it; the running orchestra's own states (from the KV bucket) can be laid over it.
 */
import type { OrchestraConfig } from '../config/schema.ts';
import type { IssueSource } from '../issues/source.ts';
import { judgeIssue } from '../issues/trust.ts';
import { DependencyGraph } from '../machines/dag.ts';
import { dependenciesOf, trackerRepository } from './issue-dependencies.ts';

export interface PlannedIssue {
  number: number;
  title: string;
  dependsOn: number[];
}

export interface BacklogPlan {
  graph: DependencyGraph;
  issues: Map<number, PlannedIssue>;
  /** Open issues the trust gate keeps out, with why. */
  ignored: Array<{ number: number; reason: string }>;
}

export async function planBacklog(
  config: OrchestraConfig,
  source: IssueSource,
  extraDependencies?: ReadonlyMap<number, readonly number[]>,
): Promise<BacklogPlan> {
  const { issues: open } = await source.listOpen();
  const graph = new DependencyGraph();
  const issues = new Map<number, PlannedIssue>();
  const ignored: BacklogPlan['ignored'] = [];
  const { triggerLabel, trust } = config.workflow;
  for (const issue of open ?? []) {
    const labeler = issue.labels.includes(triggerLabel) ? await source.labeler(issue.number, triggerLabel) : undefined;
    const verdict = judgeIssue(issue, labeler, triggerLabel, trust);
    if (!verdict.trusted) {
      ignored.push({ number: issue.number, reason: verdict.detail });
      continue;
    }
    // As the watcher reads them: the body, the tracker's field and its "blocked by" relationships.
    const blockedBy = source.blockedBy ? await source.blockedBy(issue.number) : undefined;
    const { dependsOn } = dependenciesOf(issue, { repository: trackerRepository(config), blockedBy });
    const all = [...new Set([...dependsOn, ...(extraDependencies?.get(issue.number) ?? [])])].sort((a, b) => a - b);
    issues.set(issue.number, { number: issue.number, title: issue.title, dependsOn: all });
  }
  for (const issue of issues.values()) graph.setNode(issue.number, issue.dependsOn);
  // Dependencies outside the scope: done when closed on the tracker, missing when it has no such issue.
  for (const id of graph.nodes()) {
    if (!graph.isExternal(id)) continue;
    const tracked = await source.get(id);
    graph.setState(id, tracked === undefined ? 'missing' : tracked.state === 'closed' ? 'done' : 'pending');
  }
  return { graph, issues, ignored };
}

/** An issue's state as `dag show` prints it: the orchestra's when known, else what the graph says. */
export function staticState(plan: BacklogPlan, id: number): string {
  const { graph } = plan;
  if (graph.isExternal(id)) {
    const state = graph.state(id);
    return state === 'done' ? 'closed (outside the scope)' : state === 'missing' ? 'missing' : 'open (outside the scope)';
  }
  if (graph.blockedReason(id) !== undefined) return 'blocked';
  return graph.isReady(id) ? 'ready' : 'waiting';
}
