/**
 * The data of one issue's lifecycle (src/machines/issue-lifecycle.ts): its input and context,
 * the events it takes, the effects it asks for (plain-data params), and the pure helpers that
 * name things (task ids, comment keys). Everything here is serialisable: the context is the
 * issue's durable state in the KV bucket.
 */
import type { AnswerRecord, ConflictReport, GitPlan, StageResult } from '../agents/task.ts';
import { backoffDelayMs } from '../backoff.ts';
import { ORCHESTRA_STAGES } from '../config/sections/workflow.ts';

export interface RouteStage {
  stage: string;
  role: string;
}

export { ORCHESTRA_ROLE, ORCHESTRA_STAGES } from '../config/sections/workflow.ts';

export function isOrchestraStage(stage: string): boolean {
  return ORCHESTRA_STAGES.has(stage);
}

/** Whether a route keeps the first `keep` stages of another, and has a stage where the issue stands. */
export function keepsStages(current: readonly RouteStage[], next: readonly RouteStage[], keep: number, stageIndex: number): boolean {
  if (next.length <= stageIndex) return false;
  return current.slice(0, keep).every((stage, index) => next[index]?.stage === stage.stage && next[index]?.role === stage.role);
}

export type StateLabel =
  | 'pending'
  | 'implementing'
  | 'reviewing'
  | 'deploying'
  | 'merging'
  | 'merge_blocked'
  | 'waiting_for_human'
  | 'done'
  | 'failed'
  | 'blocked'
  | 'budget_hold';

export interface LifecycleInput {
  number: number;
  route: RouteStage[];
  priority: number;
  discoveredAt: number;
  maxAttempts: number;
  maxReviewRounds: number;
  /** Red CI verdicts that send the issue back to its first stage before it fails (default 3). */
  maxCiRounds?: number;
  /** Merge conflicts that send the issue back to its first stage before it fails (default 2). */
  maxConflictRounds?: number;
  retryInitialDelayMs: number;
  retryMaxDelayMs: number;
  /** State label of each stage while it runs; `implementing` when absent. */
  stageStates: Readonly<Record<string, 'implementing' | 'reviewing' | 'deploying'>>;
  /** Generation to start at: a released issue that comes back starts after its last one. Default 1. */
  generation?: number;
}

export interface StageRun {
  stage: string;
  role: string;
  taskId: string;
  attempt: number;
  round: number;
  status: 'success' | 'retry' | 'failure' | 'changes_requested' | 'needs_input' | 'cached';
  reason: string;
  startedAt: number;
  finishedAt: number;
  agentId?: string;
}

export interface LifecycleContext extends Omit<LifecycleInput, 'generation' | 'maxCiRounds' | 'maxConflictRounds'> {
  maxCiRounds: number;
  maxConflictRounds: number;
  /** Bumped by each reset, so the comments of a second run are new comments. */
  generation: number;
  stageIndex: number;
  /** Attempt of the current stage run, from 1. */
  attempt: number;
  /** Returns to the first stage so far, for any reason (review, CI, conflict): the `r` of a task id. */
  round: number;
  /** changes_requested answers so far. */
  reviewRounds: number;
  /** Red CI verdicts so far. */
  ciRounds: number;
  /** Merge conflicts so far. */
  conflictRounds: number;
  taskId: string | undefined;
  dispatchedAt: number | undefined;
  retryAt: number | undefined;
  /** Latest result of each stage, handed to the next runs as `previous`. */
  results: Record<string, StageResult>;
  history: StageRun[];
  /** Why the issue is blocked, failed, released, or why its merge waits. */
  reason: string | undefined;
  startedAt: number | undefined;
  finishedAt: number | undefined;
  /** Issues this one still waits for (shown in `dag show` and the summary). */
  waitingOn: number[];
  /** What the branch was made from and what its pull request targets, as last dispatched. */
  git: GitPlan | undefined;
  /** A merge conflict the first stage must resolve; cleared when a run of it succeeded (it is resolved) or the issue merges. */
  conflict: ConflictReport | undefined;
  /** The agent's question while the issue waits for a person. */
  question: string | undefined;
  /** Every question answered in this generation, handed to the next runs. */
  answers: AnswerRecord[];
  /** The merge, once done. */
  merged: { sha: string; method: string; at: number } | undefined;
  /** When the merge stage began (for the time a merge took). */
  mergingSince: number | undefined;
  /** Queued, and held back with the state label `budget_hold` while the budget holds it back (used up, or its priority or role not admitted). */
  budgetHeld?: boolean;
  /** Runs stopped because the daily budget ran out (`budget.atLimit: stop`): the `s` of a task id. */
  budgetStops?: number;
}

/** What a new generation starts with: no stage run, no round, nothing asked, nothing merged. */
export const FRESH_GENERATION = {
  stageIndex: 0,
  attempt: 1,
  round: 0,
  reviewRounds: 0,
  ciRounds: 0,
  conflictRounds: 0,
  taskId: undefined,
  retryAt: undefined,
  reason: undefined,
  results: {},
  conflict: undefined,
  question: undefined,
  answers: [],
  merged: undefined,
  mergingSince: undefined,
} satisfies Partial<LifecycleContext>;

export interface TaskOutcome {
  taskId: string;
  status: 'success' | 'retry' | 'failure' | 'changes_requested' | 'needs_input';
  reason: string;
  attempt: number;
  /** `budget_exceeded`: the task or the issue is past its budget, failed at once, never retried. */
  code?: string;
  summary?: string;
  /** With `needs_input`: what the agent asks. */
  question?: string;
  outputs?: Record<string, unknown>;
  agentId?: string;
}

export type LifecycleEvent =
  | { type: 'deps.waiting'; on: number[] }
  | { type: 'deps.blocked'; reason: string }
  | { type: 'deps.ready' }
  /** The budget holds a queued issue back (reason: used up, its priority or role not admitted): held with its state label; a running one, the daily budget used up with `budget.atLimit: stop`, stopped. */
  | { type: 'budget.hold'; reason: string; now: number }
  | { type: 'budget.stop'; reason: string; now: number }
  /** The budget lets a held issue go (the next budget day, `budget resume`, a more urgent priority): it shows `pending` again. */
  | { type: 'budget.release'; now: number }
  /** `git`: the branch as the orchestra prepared it for this run (absent: as before); `conflict`: one met making it. */
  | { type: 'stage.dispatch'; now: number; git?: GitPlan; conflict?: ConflictReport }
  /** Restacking the branch before a later stage conflicted: back to the first stage to resolve it. */
  | { type: 'branch.conflict'; conflict: ConflictReport; now: number }
  /** The stage already succeeded with the same idempotency key: skip it. */
  | { type: 'stage.cached'; result: StageResult; now: number }
  | { type: 'stage.result'; outcome: TaskOutcome; now: number }
  | { type: 'retry.due'; now: number }
  /** The merge stage looked and must wait (CI running, a dependency not merged, no auto-merge). */
  | { type: 'merge.waiting'; reason: string; now: number }
  | { type: 'merge.done'; sha: string; method: string; now: number }
  | { type: 'merge.ci_failed'; check: string; excerpt: string[]; now: number }
  | { type: 'merge.conflict'; conflict: ConflictReport; now: number }
  /** The tracker refuses the merge (a protected branch, the head changed): wait for the pull request to change. */
  | { type: 'merge.blocked'; reason: string; now: number }
  /** The pull request changed since the merge was refused: try again. */
  | { type: 'merge.retry'; now: number }
  | { type: 'merge.failed'; reason: string; now: number }
  /** A trusted person answered the agent's question. */
  | { type: 'issue.answer'; answer: string; by: string; now: number }
  | { type: 'issue.released'; reason: string; now: number }
  | { type: 'issue.reset'; reason: string; route: RouteStage[]; priority: number; now: number }
  /**
   * The labels now say another route or priority (a route label added a moment after the
   * trigger label): taken when the first `keep` stages — those run or running — stay as they were.
   */
  | { type: 'issue.relabeled'; route: RouteStage[]; priority: number; keep: number; now: number };

export interface DispatchParams {
  taskId: string;
  stage: string;
  role: string;
  attempt: number;
  round: number;
  generation: number;
  previous: Record<string, StageResult>;
  git?: GitPlan;
  conflict?: ConflictReport;
  answers?: AnswerRecord[];
}

export type CommentKind =
  | 'started'
  | 'changes_requested'
  | 'ci_failed'
  | 'conflict'
  | 'merge_blocked'
  | 'needs_input'
  | 'done'
  | 'failed'
  | 'blocked';

export interface CommentParams {
  kind: CommentKind;
  /** Idempotency key of the comment: the same event never comments twice. */
  key: string;
  reason?: string;
  stage?: string;
  taskId?: string;
}

/**
 * How long a failed stage waits before its attempt `attempt + 1` (workflow.retry): doubles from
 * the initial delay, capped, and no jitter — the lifecycle is a pure machine, and the time it
 * records (`retryAt`) must be the same on every replay.
 */
export function stageRetryDelayMs(attempt: number, initialMs: number, maxMs: number): number {
  return backoffDelayMs(attempt - 1, { baseMs: initialMs, maxMs });
}

/**
 * `issue-<n>.g<generation>.<stage>.r<round>.a<attempt>`, and `.q<k>` before the attempt once k
 * questions were answered in this generation: the run an answer resumes is a new dispatch of the
 * same stage, round and attempt, and must not take the id (the bus's message id, the dispatch
 * ledger, the task directory) of the run that asked.
 */
export function taskIdOf(context: Pick<LifecycleContext, 'number' | 'generation' | 'stageIndex' | 'route' | 'round' | 'attempt' | 'answers' | 'budgetStops'>): string {
  const stage = context.route[context.stageIndex]?.stage ?? 'none';
  // `?.`: a record written before answers existed has none.
  const answered = context.answers?.length ? `.q${context.answers.length}` : '';
  // A run the daily budget stopped is run again under a new id: its own was cancelled.
  const stopped = context.budgetStops ? `.s${context.budgetStops}` : '';
  return `issue-${context.number}.g${context.generation}.${stage}.r${context.round}${answered}${stopped}.a${context.attempt}`;
}

export const stageOf = (context: LifecycleContext): RouteStage => context.route[context.stageIndex]!;
export const commentKey = (context: LifecycleContext, kind: string): string => `issue-${context.number}.g${context.generation}.${kind}`;

export function runOf(context: LifecycleContext, status: StageRun['status'], reason: string, now: number, agentId?: string): StageRun {
  const { stage, role } = stageOf(context);
  return {
    stage,
    role,
    taskId: context.taskId ?? taskIdOf(context),
    attempt: context.attempt,
    round: context.round,
    status,
    reason,
    startedAt: context.dispatchedAt ?? now,
    finishedAt: now,
    ...(agentId === undefined ? {} : { agentId }),
  };
}

export function stageResultOf(outcome: TaskOutcome): StageResult {
  const status = outcome.status === 'retry' ? 'failure' : outcome.status;
  return {
    status,
    ...(outcome.summary === undefined ? {} : { summary: outcome.summary }),
    ...(outcome.outputs === undefined ? {} : { outputs: outcome.outputs }),
  };
}

/** A short stable hash of a reason, so a new blocking reason is a new comment and the same one is not. */
export function hashReason(reason: string): string {
  let hash = 0x811c9dc5;
  for (let index = 0; index < reason.length; index += 1) {
    hash ^= reason.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(36);
}
