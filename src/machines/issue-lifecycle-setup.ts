/**
 * The lifecycle machine's vocabulary: its effects (named actions with plain-data params, run by
 * the workflow engine, never here), its guards, and the assignments shared by several states.
 * The states themselves are in issue-lifecycle.ts (the agents' stages) and
 * issue-lifecycle-merge.ts (the merge stage and the wait for a person).
 */
import { BUDGET_EXCEEDED } from './budget.ts';
import { assign, setup } from 'xstate';
import type { StageResult } from '../agents/task.ts';
import {
  commentKey,
  FRESH_GENERATION,
  isOrchestraStage,
  runOf,
  stageOf,
  taskIdOf,
  type CommentParams,
  type DispatchParams,
  type LifecycleContext,
  type LifecycleEvent,
  type LifecycleInput,
  type StateLabel,
} from './issue-lifecycle-types.ts';

type ResultEvent = Extract<LifecycleEvent, { type: 'stage.result' }>;

export const lifecycleSetup = setup({
  types: {
    input: {} as LifecycleInput,
    context: {} as LifecycleContext,
    events: {} as LifecycleEvent,
  },
  actions: {
    setStateLabel: (_, _params: { label: StateLabel | undefined }) => {},
    comment: (_, _params: CommentParams) => {},
    dispatchTask: (_, _params: DispatchParams) => {},
    cancelTask: (_, _params: { taskId: string }) => {},
    /** Records the stage's success (the idempotency cache); the pull-request stage opens its pull request here. */
    stageSucceeded: (_, _params: { stage: string; generation: number; result: StageResult }) => {},
    finished: (_, _params: { outcome: 'done' | 'failed' | 'released'; reason?: string }) => {},
    /** Stacked mode: the issue merged, so the pull requests stacked on its branch now target the base branch. */
    retargetStacked: (_, _params: { generation: number }) => {},
    recordCached: assign(({ context, event }) => {
      const { result, now } = event as Extract<LifecycleEvent, { type: 'stage.cached' }>;
      return {
        results: { ...context.results, [stageOf(context).stage]: result },
        history: [...context.history, runOf(context, 'cached', 'already succeeded with the same content and dependencies (cache)', now)],
      };
    }),
    recordMerge: assign(({ context, event }) => {
      const { sha, method, now } = event as Extract<LifecycleEvent, { type: 'merge.done' }>;
      return {
        merged: { sha, method, at: now },
        results: { ...context.results, [stageOf(context).stage]: { status: 'success' as const, summary: `merged as ${sha.slice(0, 12)} (${method})` } },
        history: [...context.history, runOf({ ...context, dispatchedAt: context.mergingSince }, 'success', `merged as ${sha}`, now)],
        conflict: undefined,
        reason: undefined,
      };
    }),
    /** A conflict for the first stage to resolve, met merging (merge.conflict) or restacking (branch.conflict): kept for its task, counted. */
    recordConflict: assign(({ context, event }) => {
      const { type, conflict, now } = event as Extract<LifecycleEvent, { type: 'merge.conflict' | 'branch.conflict' }>;
      const dispatchedAt = type === 'merge.conflict' ? context.mergingSince : now;
      return {
        reason: `merge conflict with ${conflict.theirs.ref} in ${conflict.files.join(', ') || 'the branch'}`,
        conflict,
        conflictRounds: context.conflictRounds + 1,
        history: [...context.history, runOf({ ...context, dispatchedAt }, 'failure', `merge conflict in ${conflict.files.join(', ') || 'the branch'}`, now)],
      };
    }),
    failConflict: assign(({ context, event }) => {
      const { conflict } = event as Extract<LifecycleEvent, { type: 'merge.conflict' | 'branch.conflict' }>;
      return {
        reason: `merge conflict with ${conflict.theirs.ref} in ${conflict.files.join(', ') || 'the branch'} still there after ${context.conflictRounds} round(s) (workflow.maxConflictRounds ${context.maxConflictRounds})`,
      };
    }),
    /**
     * The budget holding a queued issue back (docs/BUDGETS.md: used up, or its priority or role
     * not admitted): it is held, its state label `budget_hold` instead of `pending` until the
     * budget lets it go. The daily budget used up, with `budget.atLimit: stop`, a
     * running one is stopped: its task cancelled (the runner stops the agent), recorded as a
     * `budget_exceeded` failure, held queued with a new task id for the run after the resume (the
     * cancelled id never runs again). Not the run's fault: no attempt is spent.
     */
    holdForBudget: assign({ budgetHeld: true }),
    releaseFromBudget: assign({ budgetHeld: false }),
    stopForBudget: assign(({ context, event }) => {
      const { reason, now } = event as Extract<LifecycleEvent, { type: 'budget.stop' }>;
      return {
        history: [...context.history, runOf(context, 'failure', `${BUDGET_EXCEEDED}: ${reason}; the agent was stopped`, now)],
        budgetStops: (context.budgetStops ?? 0) + 1,
        taskId: undefined,
        budgetHeld: true,
      };
    }),
    /** Back to the first stage for another round (review feedback, a red CI, a conflict). */
    toFirstStage: assign(({ context }) => ({ round: context.round + 1, stageIndex: 0, attempt: 1, taskId: undefined, retryAt: undefined })),
    reset: assign(({ context, event }) => {
      const { route, priority } = event as Extract<LifecycleEvent, { type: 'issue.reset' }>;
      return { ...FRESH_GENERATION, route, priority, generation: context.generation + 1, finishedAt: undefined };
    }),
  },
  guards: {
    budgetHeld: ({ context }) => context.budgetHeld === true,
    notBudgetHeld: ({ context }) => context.budgetHeld !== true,
    succeeded: ({ event }) => (event as ResultEvent).outcome.status === 'success',
    changesRequested: ({ event }) => (event as ResultEvent).outcome.status === 'changes_requested',
    needsInput: ({ event }) => (event as ResultEvent).outcome.status === 'needs_input',
    reviewRoundsLeft: ({ context }) => context.reviewRounds < context.maxReviewRounds,
    ciRoundsLeft: ({ context }) => context.ciRounds < context.maxCiRounds,
    conflictRoundsLeft: ({ context }) => context.conflictRounds < context.maxConflictRounds,
    // Past its budget a task is not tried again: another attempt would spend more (src/machines/budget.ts).
    attemptsLeft: ({ context, event }) =>
      (event as ResultEvent).outcome.code !== BUDGET_EXCEEDED && Math.max(context.attempt, (event as ResultEvent).outcome.attempt) < context.maxAttempts,
    retryDue: ({ context, event }) => (event as { now: number }).now >= (context.retryAt ?? 0),
    isLastStage: ({ context }) => context.stageIndex === context.route.length - 1,
    nextIsOrchestraStage: ({ context }) => isOrchestraStage(context.route[context.stageIndex + 1]?.stage ?? ''),
  },
});

/** The dispatch of the current stage, with what the agent needs to know besides the issue. */
export function dispatchParams(context: LifecycleContext): DispatchParams {
  return {
    taskId: context.taskId ?? taskIdOf(context),
    stage: stageOf(context).stage,
    role: stageOf(context).role,
    attempt: context.attempt,
    round: context.round,
    generation: context.generation,
    previous: context.results,
    ...(context.git ? { git: context.git } : {}),
    ...(context.conflict ? { conflict: context.conflict } : {}),
    ...(context.answers.length > 0 ? { answers: context.answers } : {}),
  };
}

/** The comment that says why the issue goes back to its first stage. */
export function roundComment(context: LifecycleContext, kind: CommentParams['kind'], counter: number): CommentParams {
  const names: Partial<Record<CommentParams['kind'], string>> = { changes_requested: 'changes-requested', ci_failed: 'ci-failed', conflict: 'conflict' };
  return { kind, key: commentKey(context, `${names[kind] ?? kind}.r${counter}`), reason: context.reason ?? '', stage: stageOf(context).stage };
}
