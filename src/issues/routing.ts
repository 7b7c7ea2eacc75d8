/**
 * Routing: from an issue's labels to its route (the stages it goes through and the role that
 * runs each) and its priority. Pure.
 */
import type { OrchestraConfig } from '../config/schema.ts';
import { ORCHESTRA_ROLE, ORCHESTRA_STAGES } from '../config/sections/workflow.ts';

export type WorkflowPolicy = OrchestraConfig['workflow'];

export interface RouteStage {
  stage: string;
  role: string;
}

export interface IssueRoute {
  stages: RouteStage[];
  /** 0 is the most urgent. */
  priority: number;
  /** The label that chose the route, or undefined for the default route. */
  matched: string | undefined;
}

export function routeIssue(labels: readonly string[], policy: WorkflowPolicy): IssueRoute {
  const route = policy.routes.find((candidate) => labels.includes(candidate.label));
  const names = [...(route?.stages ?? policy.defaultRoute)];
  for (const extra of policy.extraStages) {
    if (labels.includes(extra.label) && !names.includes(extra.stage)) names.push(extra.stage);
  }
  const stages = names.map((stage) => ({ stage, role: ORCHESTRA_STAGES.has(stage) ? ORCHESTRA_ROLE : (policy.stageRoles[stage] ?? stage) }));
  const forced = labels.find((label) => label.startsWith(policy.forceRolePrefix));
  if (forced !== undefined && stages[0]) stages[0] = { ...stages[0], role: forced.slice(policy.forceRolePrefix.length) };
  return { stages, priority: priorityOf(labels, policy), matched: route?.label };
}

export function priorityOf(labels: readonly string[], policy: WorkflowPolicy): number {
  const levels = labels.map((label) => policy.priority.labels[label]).filter((level) => level !== undefined);
  return levels.length === 0 ? policy.priority.default : Math.min(...levels);
}

/** The SLA of a priority: a priority past the configured list takes the last entry. */
export function slaMsOf(priority: number, policy: WorkflowPolicy): number {
  const { slaMs } = policy.priority;
  return slaMs[Math.min(priority, slaMs.length - 1)] ?? Number.POSITIVE_INFINITY;
}

/** The roles a route's stages need that the config does not define: an issue routed there cannot run. */
export function missingRoles(stages: readonly RouteStage[], roles: readonly string[]): string[] {
  return stages.map((stage) => stage.role).filter((role) => role !== ORCHESTRA_ROLE && !roles.includes(role));
}
