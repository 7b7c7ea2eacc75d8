/**
 * Which critical health problems become tracker issues, pure (`notify.githubIssues`): a critical
 * problem (kind and subject) that appears is opened once; while it lasts, a change of its message
 * is commented, at most once per `commentIntervalMs`; when a check no longer finds it, its issue
 * is closed. Warnings never open an issue. Unlike the webhooks' notices there is no storm summary:
 * each problem has its own issue, and critical problems are few.
 */
import type { HealthProblem } from './health-judge.ts';
import { problemKey } from './health-notices.ts';

export interface TrackedProblem {
  problem: HealthProblem;
  /** When it was opened or last commented (ms). */
  saidAt: number;
}

export type HealthIssueStep =
  | { kind: 'open'; key: string; problem: HealthProblem }
  | { kind: 'comment'; key: string; problem: HealthProblem }
  | { kind: 'close'; key: string; problem: HealthProblem };

export function healthIssueSteps(
  tracked: ReadonlyMap<string, TrackedProblem>,
  findings: readonly HealthProblem[],
  now: number,
  commentIntervalMs: number,
): { steps: HealthIssueStep[]; tracked: Map<string, TrackedProblem> } {
  const steps: HealthIssueStep[] = [];
  const next = new Map<string, TrackedProblem>();
  for (const problem of findings) {
    if (problem.severity !== 'critical') continue;
    const key = problemKey(problem);
    if (next.has(key)) continue;
    const before = tracked.get(key);
    if (before === undefined) {
      steps.push({ kind: 'open', key, problem });
      next.set(key, { problem, saidAt: now });
    } else if (before.problem.message !== problem.message && now - before.saidAt >= commentIntervalMs) {
      steps.push({ kind: 'comment', key, problem });
      next.set(key, { problem, saidAt: now });
    } else {
      next.set(key, before);
    }
  }
  for (const [key, before] of tracked) if (!next.has(key)) steps.push({ kind: 'close', key, problem: before.problem });
  return { steps, tracked: next };
}
