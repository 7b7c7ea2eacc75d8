/**
 * Which critical health problems become tracker issues, pure (`notify.githubIssues`): a critical
 * problem (kind and subject) that appears is opened once; while it lasts, a change of its message
 * is commented, at most once per `commentIntervalMs`; when a check no longer finds it, its issue
 * is closed. Warnings never open an issue.
 *
 * A storm is one issue: more new critical problems in one check than `maxPerCheck` open a single
 * issue (key `storm`) listing them, and new ones that come while it is open are commented on it
 * rather than opened; it is closed when none of its problems is left. A storm issue found open at
 * start (adopted, its problems unknown) is closed at the first check: if the storm goes on, its
 * problems are new again and open a new one.
 */
import type { HealthProblem } from './health-judge.ts';
import { problemKey } from './health-notices.ts';

export const STORM_KEY = 'storm';

export interface TrackedProblem {
  /** Undefined for the storm issue itself and for issues adopted at start. */
  problem: HealthProblem | undefined;
  /** When it was opened or last commented (ms). */
  saidAt: number;
  /** The key of the issue it is told in: its own, or STORM_KEY. */
  issue: string;
}

/** One thing to do on the tracker, on the issue of `key`. */
export interface HealthIssueStep {
  kind: 'open' | 'comment' | 'close';
  key: string;
  title: string;
  text: string;
}

const titleOf = (problem: HealthProblem) => `Miyabi health: ${problem.kind.replaceAll('_', ' ')} (${problem.subject})`;
const list = (problems: readonly HealthProblem[]) => problems.map((problem) => `- ${problem.message}`).join('\n');

export function healthIssueSteps(
  tracked: ReadonlyMap<string, TrackedProblem>,
  findings: readonly HealthProblem[],
  now: number,
  options: { commentIntervalMs: number; maxPerCheck: number },
): { steps: HealthIssueStep[]; tracked: Map<string, TrackedProblem> } {
  const critical = new Map(findings.filter((problem) => problem.severity === 'critical').map((problem) => [problemKey(problem), problem]));
  const steps: HealthIssueStep[] = [];
  const next = new Map<string, TrackedProblem>();
  const fresh: HealthProblem[] = [];
  for (const [key, problem] of critical) {
    const before = tracked.get(key);
    if (key === STORM_KEY) continue;
    if (before === undefined) fresh.push(problem);
    else if (before.problem?.message !== problem.message && now - before.saidAt >= options.commentIntervalMs) {
      steps.push({ kind: 'comment', key: before.issue, title: titleOf(problem), text: `Still critical:\n\n> ${problem.message}` });
      next.set(key, { ...before, problem, saidAt: now });
    } else {
      next.set(key, before);
    }
  }
  const stormOpen = tracked.has(STORM_KEY) && [...next.values()].some((entry) => entry.issue === STORM_KEY);
  if (fresh.length > options.maxPerCheck || (stormOpen && fresh.length > 0)) {
    const title = `Miyabi health: ${fresh.length} critical problems`;
    steps.push(stormOpen
      ? { kind: 'comment', key: STORM_KEY, title, text: `New critical problems:\n\n${list(fresh)}` }
      : { kind: 'open', key: STORM_KEY, title, text: `The health monitor found ${fresh.length} critical problems at once:\n\n${list(fresh)}` });
    for (const problem of fresh) next.set(problemKey(problem), { problem, saidAt: now, issue: STORM_KEY });
  } else {
    for (const problem of fresh) {
      const key = problemKey(problem);
      steps.push({ kind: 'open', key, title: titleOf(problem), text: `The health monitor found a critical problem:\n\n> ${problem.message}` });
      next.set(key, { problem, saidAt: now, issue: key });
    }
  }
  const storm = [...next.values()].some((entry) => entry.issue === STORM_KEY);
  if (storm) next.set(STORM_KEY, tracked.get(STORM_KEY) ?? { problem: undefined, saidAt: now, issue: STORM_KEY });
  for (const [key, before] of tracked) {
    if (next.has(key) || (before.issue === STORM_KEY && key !== STORM_KEY)) continue;
    steps.push({ kind: 'close', key, title: before.problem ? titleOf(before.problem) : key, text: 'Resolved: the health monitor no longer finds it.' });
  }
  return { steps, tracked: next };
}
