/**
 * Issues stuck outside a running task, pure: each non-terminal state of the lifecycle
 * (src/machines/issue-lifecycle.ts) has a bound (`health.stuckIssues`), and an issue in it for
 * longer is a finding of the health monitor (src/machines/health-judge.ts). A running issue is
 * judged by its task instead (`task_stuck`); done, failed and released issues are finished.
 *
 *   issue_stuck       warning   in a state past its bound: discovered (the graph never placed it),
 *                               waiting for its dependencies, blocked (on a dependency that failed
 *                               or was released, a cycle, a missing role: a person must act), queued
 *                               with no agent free (a backlog), retrying (its backoff long over),
 *                               waiting for a person's answer, merging (CI, review, mergeability) or
 *                               its merge refused until the pull request changes
 *   dispatch_stalled  warning   queued, and an agent of its role idle, both for longer than
 *                               `queuedWhileIdleMs`, with nothing holding dispatch back (budget, a
 *                               full disk): the dispatcher is not doing its work
 *
 * How long an issue has been in its state: the lifecycle's own time where it keeps one (the merge
 * stage's start, the question asked), else since the monitor first saw it there
 * (`stateAges`), which an orchestra restart begins again: a bound is then reached later, never
 * sooner.
 */

/** The bounds of `health.stuckIssues` (docs/CONFIGURATION.md), milliseconds. */
export interface StuckIssueLimits {
  discoveredMs: number;
  waitingMs: number;
  blockedMs: number;
  queuedMs: number;
  queuedWhileIdleMs: number;
  retryingMs: number;
  waitingForHumanMs: number;
  mergingMs: number;
  mergeBlockedMs: number;
}

/** The lifecycle states with a bound, and its field. */
const BOUND_OF: Readonly<Record<string, Exclude<keyof StuckIssueLimits, 'queuedWhileIdleMs'>>> = {
  discovered: 'discoveredMs',
  waiting: 'waitingMs',
  blocked: 'blockedMs',
  queued: 'queuedMs',
  retrying: 'retryingMs',
  waiting_for_human: 'waitingForHumanMs',
  merging: 'mergingMs',
  merge_blocked: 'mergeBlockedMs',
};

/** Whether the health monitor bounds the time an issue may spend in `state`. */
export function isBoundedState(state: string): boolean {
  return Object.hasOwn(BOUND_OF, state);
}

/** An issue not running a task and not finished, as the health monitor saw it. */
export interface IssueStateObservation {
  issue: number;
  state: string;
  /** How long it has been in that state. */
  ageMs: number;
  /** The role of the stage it is queued for. */
  role?: string;
  /** Why it is where it is (the lifecycle's reason: what blocks it, what its merge waits for). */
  reason?: string;
  /** Queued, and the budget or a full disk holds its dispatch back. */
  dispatchHeld?: boolean;
}

export interface StuckIssueFinding {
  kind: 'issue_stuck' | 'dispatch_stalled';
  severity: 'warning';
  subject: string;
  message: string;
}

const duration = (ms: number) => (ms >= 7_200_000 ? `${Math.round(ms / 3_600_000)} h` : ms >= 120_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round(ms / 1000)} s`);

/**
 * `idleForMs`: per role, the longest one of its agents has been idle without a break (an agent
 * freed a moment ago has not yet been passed over).
 */
export function judgeStuckIssues(
  issues: readonly IssueStateObservation[],
  idleForMs: ReadonlyMap<string, number>,
  limits: StuckIssueLimits,
): StuckIssueFinding[] {
  const findings: StuckIssueFinding[] = [];
  for (const issue of issues) {
    const field = BOUND_OF[issue.state];
    if (field === undefined) continue;
    const subject = `#${issue.issue}`;
    const why = issue.reason ? ` (${issue.reason})` : '';
    const idleMs = issue.state === 'queued' && issue.role !== undefined && issue.dispatchHeld !== true ? (idleForMs.get(issue.role) ?? 0) : 0;
    if (Math.min(idleMs, issue.ageMs) > limits.queuedWhileIdleMs) {
      findings.push({
        kind: 'dispatch_stalled',
        severity: 'warning',
        subject,
        message: `issue #${issue.issue} has been queued for ${issue.role} for ${duration(issue.ageMs)}, and an agent of that role idle for ${duration(idleMs)} (past ${duration(limits.queuedWhileIdleMs)})`,
      });
    } else if (issue.ageMs > limits[field]) {
      findings.push({
        kind: 'issue_stuck',
        severity: 'warning',
        subject,
        message: `issue #${issue.issue} has been ${issue.state.replaceAll('_', ' ')} for ${duration(issue.ageMs)}, past the ${duration(limits[field])} allowed${why}`,
      });
    }
  }
  return findings;
}

/**
 * Since when each thing (an issue, an agent) has been in its state: the time `enteredAt` says
 * where its owner keeps one, else the time of the check that first saw it there (`seen`, from
 * the last check). Things gone from `current` are forgotten.
 */
export function stateAges<K>(
  seen: ReadonlyMap<K, { state: string; since: number }>,
  current: ReadonlyArray<{ key: K; state: string; enteredAt?: number | undefined }>,
  now: number,
): Map<K, { state: string; since: number }> {
  const next = new Map<K, { state: string; since: number }>();
  for (const { key, state, enteredAt } of current) {
    const before = seen.get(key);
    const since = enteredAt ?? (before?.state === state ? before.since : now);
    next.set(key, { state, since: Math.min(since, now) });
  }
  return next;
}
