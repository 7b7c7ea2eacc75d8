/**
 * The lifecycle of one issue, as a pure XState machine. Its snapshot is the issue's durable
 * state (kept in the KV bucket by the workflow engine); it is stepped with xstate's pure
 * `transition()`, which answers the next snapshot and the effects to run, never running them:
 *
 *   discovered ─► waiting (dependencies not satisfied) ─► queued ─► running <stage> ─► … ─► done
 *        └──────► blocked (a cycle, a failed or missing dependency, a missing role)
 *   running ─ failure ─► retrying (backoff) ─► queued (≤ maxAttempts, then failed)
 *   running ─ changes_requested ─► queued at the first stage (≤ maxReviewRounds, then failed)
 *   running ─ needs_input ─► waiting_for_human ─ a trusted answer ─► queued at the same stage
 *   running (the stage before `merge`) ─► merging ─► done (or the stages after it)
 *       merging ─ red CI ─► queued at the first stage (≤ maxCiRounds, then failed)
 *       merging ─ conflict ─► queued at the first stage (≤ maxConflictRounds, then failed)
 *       merging ─ refused by the tracker ─► merge_blocked ─ the pull request changed ─► merging
 *   queued at a later stage ─ its branch's restack conflicts ─► queued at the first stage (the same count)
 *   any state ─ issue.released (closed, unlabelled) ─► released
 *   any state ─ issue.relabeled ─► the same state on the labels' route and priority, when the
 *       stages run so far stay as they were
 *   done / failed ─ issue.reset (edited, /miyabi retry) ─► discovered, a new generation
 *
 * Time comes in on the events (`now`), so the machine is deterministic and a restored snapshot
 * behaves as the one that was saved. The effects (state label, comment, task, pull request …) are
 * named actions with plain-data params (issue-lifecycle-setup.ts); the engine runs them, each
 * exactly once by key. The merge stage's own checks (CI, approval, mergeability) are the
 * engine's; it tells the machine what it found with the `merge.*` events.
 */
import { assign } from 'xstate';
import { dispatchParams, lifecycleSetup, roundComment } from './issue-lifecycle-setup.ts';
import { conflictRound, mergeStates } from './issue-lifecycle-merge.ts';
import {
  commentKey,
  FRESH_GENERATION,
  hashReason,
  keepsStages,
  stageRetryDelayMs,
  runOf,
  stageOf,
  stageResultOf,
  taskIdOf,
  type LifecycleContext,
} from './issue-lifecycle-types.ts';

export * from './issue-lifecycle-types.ts';

const runLabel = (context: LifecycleContext) => context.stageStates[stageOf(context).stage] ?? 'implementing';

export const issueLifecycleMachine = lifecycleSetup.createMachine({
  id: 'issue-lifecycle',
  context: ({ input }) => ({
    ...input,
    maxCiRounds: input.maxCiRounds ?? 3,
    maxConflictRounds: input.maxConflictRounds ?? 2,
    ...FRESH_GENERATION,
    generation: input.generation ?? 1,
    dispatchedAt: undefined,
    history: [],
    startedAt: undefined,
    finishedAt: undefined,
    waitingOn: [],
    git: undefined,
  }),
  initial: 'discovered',
  on: {
    'issue.released': {
      target: '.released',
      actions: [
        { type: 'cancelTask', params: ({ context }) => ({ taskId: context.taskId ?? '' }) },
        assign({ reason: ({ event }) => event.reason, finishedAt: ({ event }) => event.now, taskId: undefined }),
        { type: 'setStateLabel', params: { label: undefined } },
        { type: 'finished', params: ({ event }) => ({ outcome: 'released' as const, reason: event.reason }) },
      ],
    },
    // Done and failed take it too, harmlessly: the engine sends it only while the issue is on its way.
    'issue.relabeled': {
      guard: ({ context, event }) => keepsStages(context.route, event.route, event.keep, context.stageIndex),
      actions: assign({ route: ({ event }) => event.route, priority: ({ event }) => event.priority }),
    },
  },
  states: {
    discovered: {
      entry: { type: 'setStateLabel', params: { label: 'pending' } },
      on: {
        'deps.ready': 'queued',
        'deps.waiting': { target: 'waiting', actions: assign({ waitingOn: ({ event }) => event.on }) },
        'deps.blocked': { target: 'blocked', actions: assign({ reason: ({ event }) => event.reason }) },
      },
    },
    waiting: {
      on: {
        'deps.ready': { target: 'queued', actions: assign({ waitingOn: [] }) },
        'deps.waiting': { actions: assign({ waitingOn: ({ event }) => event.on }) },
        'deps.blocked': { target: 'blocked', actions: assign({ reason: ({ event }) => event.reason }) },
      },
    },
    blocked: {
      entry: [
        { type: 'setStateLabel', params: { label: 'blocked' } },
        {
          type: 'comment',
          params: ({ context }) => ({ kind: 'blocked' as const, key: commentKey(context, `blocked.${hashReason(context.reason ?? '')}`), reason: context.reason ?? '' }),
        },
      ],
      on: {
        'deps.ready': { target: 'queued', actions: [assign({ reason: undefined, waitingOn: [] }), { type: 'setStateLabel', params: { label: 'pending' } }] },
        'deps.waiting': {
          target: 'waiting',
          actions: [assign({ reason: undefined, waitingOn: ({ event }) => event.on }), { type: 'setStateLabel', params: { label: 'pending' } }],
        },
        'deps.blocked': {
          guard: ({ context, event }) => event.reason !== context.reason,
          target: 'blocked',
          reenter: true,
          actions: assign({ reason: ({ event }) => event.reason }),
        },
      },
    },
    queued: {
      on: {
        'stage.dispatch': {
          target: 'running',
          actions: [
            assign({
              taskId: ({ context }) => taskIdOf(context),
              dispatchedAt: ({ event }) => event.now,
              startedAt: ({ context, event }) => context.startedAt ?? event.now,
              git: ({ context, event }) => event.git ?? context.git,
              conflict: ({ context, event }) => event.conflict ?? context.conflict,
              budgetHeld: false,
            }),
            { type: 'setStateLabel', params: ({ context }) => ({ label: runLabel(context) }) },
            {
              type: 'comment',
              params: ({ context }) => ({ kind: 'started' as const, key: commentKey(context, 'started'), stage: stageOf(context).stage }),
            },
            { type: 'dispatchTask', params: ({ context }) => dispatchParams(context) },
          ],
        },
        'stage.cached': { target: 'advancing', actions: ['recordCached', assign({ budgetHeld: false })] },
        'branch.conflict': conflictRound,
        'deps.blocked': { target: 'blocked', actions: assign({ reason: ({ event }) => event.reason, budgetHeld: false }) },
        'deps.waiting': {
          target: 'waiting',
          actions: [
            // A held issue that goes back to waiting for its dependencies shows pending again.
            lifecycleSetup.enqueueActions(({ context, enqueue }) => {
              if (context.budgetHeld) enqueue({ type: 'setStateLabel', params: { label: 'pending' } });
            }),
            assign({ waitingOn: ({ event }) => event.on, budgetHeld: false }),
          ],
        },
        // The budget holds the issue back, and lets it go (issue-lifecycle-setup.ts).
        'budget.hold': { guard: 'notBudgetHeld', actions: ['holdForBudget', { type: 'setStateLabel', params: { label: 'budget_hold' } }] },
        'budget.release': { guard: 'budgetHeld', actions: ['releaseFromBudget', { type: 'setStateLabel', params: { label: 'pending' } }] },
      },
    },
    running: {
      on: {
        'budget.stop': {
          target: 'queued',
          actions: [
            { type: 'cancelTask', params: ({ context }) => ({ taskId: context.taskId ?? '' }) },
            'stopForBudget',
            { type: 'setStateLabel', params: { label: 'budget_hold' } },
          ],
        },
        'stage.result': [
          { guard: ({ context, event }) => event.outcome.taskId !== context.taskId },
          {
            guard: 'succeeded',
            target: 'advancing',
            actions: [
              assign({
                // A conflict it was handed is resolved: the next runs are not told to resolve it again.
                conflict: undefined,
                results: ({ context, event }) => ({ ...context.results, [stageOf(context).stage]: stageResultOf(event.outcome) }),
                history: ({ context, event }) => [...context.history, runOf(context, 'success', event.outcome.reason, event.now, event.outcome.agentId)],
              }),
              {
                type: 'stageSucceeded',
                params: ({ context, event }) => ({ stage: stageOf(context).stage, generation: context.generation, result: stageResultOf(event.outcome) }),
              },
            ],
          },
          {
            guard: 'changesRequested',
            target: 'reworking',
            actions: assign({
              results: ({ context, event }) => ({ ...context.results, [stageOf(context).stage]: stageResultOf(event.outcome) }),
              history: ({ context, event }) => [
                ...context.history,
                runOf(context, 'changes_requested', event.outcome.reason, event.now, event.outcome.agentId),
              ],
              reason: ({ event }) => event.outcome.summary ?? event.outcome.reason,
            }),
          },
          {
            guard: 'needsInput',
            target: 'waiting_for_human',
            actions: assign({
              history: ({ context, event }) => [...context.history, runOf(context, 'needs_input', event.outcome.reason, event.now, event.outcome.agentId)],
              question: ({ event }) => event.outcome.question ?? event.outcome.summary ?? event.outcome.reason,
              taskId: undefined,
            }),
          },
          {
            // The runner retries a `retry` itself (the message is redelivered): only the budget is ours.
            guard: ({ context, event }) => event.outcome.status === 'retry' && Math.max(context.attempt, event.outcome.attempt) < context.maxAttempts,
            actions: assign({
              attempt: ({ event }) => event.outcome.attempt + 1,
              taskId: ({ context }) => context.taskId,
              history: ({ context, event }) => [...context.history, runOf(context, 'retry', event.outcome.reason, event.now, event.outcome.agentId)],
            }),
          },
          {
            guard: 'attemptsLeft',
            target: 'retrying',
            actions: [
              assign({
                history: ({ context, event }) => [
                  ...context.history,
                  runOf(context, event.outcome.status === 'retry' ? 'retry' : 'failure', event.outcome.reason, event.now, event.outcome.agentId),
                ],
                retryAt: ({ context, event }) =>
                  event.now + stageRetryDelayMs(Math.max(context.attempt, event.outcome.attempt), context.retryInitialDelayMs, context.retryMaxDelayMs),
                attempt: ({ context, event }) => Math.max(context.attempt, event.outcome.attempt) + 1,
                reason: ({ event }) => event.outcome.reason,
                taskId: undefined,
              }),
            ],
          },
          {
            target: 'failed',
            actions: [
              {
                // A `retry` outcome means the runner would run it again (also one the budget turned into a failure): we have given up on it.
                type: 'cancelTask',
                params: ({ context, event }) => ({ taskId: event.outcome.status === 'retry' || event.outcome.code !== undefined ? context.taskId! : '' }),
              },
              assign({
                history: ({ context, event }) => [
                  ...context.history,
                  runOf(context, event.outcome.status === 'retry' ? 'retry' : 'failure', event.outcome.reason, event.now, event.outcome.agentId),
                ],
                reason: ({ context, event }) =>
                  `${stageOf(context).stage} failed after ${Math.max(context.attempt, event.outcome.attempt)} attempt(s): ${event.outcome.reason}`,
                taskId: undefined,
              }),
            ],
          },
        ],
      },
    },
    advancing: {
      always: [
        { guard: 'isLastStage', target: 'done', actions: assign({ taskId: undefined }) },
        {
          guard: 'nextIsOrchestraStage',
          target: 'merging',
          actions: assign({
            stageIndex: ({ context }) => context.stageIndex + 1,
            attempt: 1,
            taskId: undefined,
            retryAt: undefined,
            mergingSince: ({ event }) => (event as { now?: number }).now,
          }),
        },
        {
          target: 'queued',
          actions: assign({ stageIndex: ({ context }) => context.stageIndex + 1, attempt: 1, taskId: undefined, retryAt: undefined }),
        },
      ],
    },
    reworking: {
      always: [
        {
          guard: 'reviewRoundsLeft',
          target: 'queued',
          actions: [
            { type: 'comment', params: ({ context }) => roundComment(context, 'changes_requested', context.reviewRounds + 1) },
            assign({ reviewRounds: ({ context }) => context.reviewRounds + 1 }),
            'toFirstStage',
            { type: 'setStateLabel', params: { label: 'pending' } },
          ],
        },
        {
          target: 'failed',
          actions: assign({
            reason: ({ context }) =>
              `changes still requested after ${context.reviewRounds} review round(s) (workflow.maxReviewRounds ${context.maxReviewRounds}): ${context.reason ?? ''}`,
            taskId: undefined,
          }),
        },
      ],
    },
    retrying: {
      on: {
        'retry.due': { guard: 'retryDue', target: 'queued', actions: assign({ retryAt: undefined }) },
      },
    },
    ...mergeStates,
    done: {
      entry: [
        assign({ finishedAt: ({ event }) => (event as { now: number }).now, reason: undefined }),
        { type: 'setStateLabel', params: { label: 'done' } },
        { type: 'comment', params: ({ context }) => ({ kind: 'done' as const, key: commentKey(context, 'done') }) },
        { type: 'finished', params: { outcome: 'done' as const } },
      ],
      on: { 'issue.reset': { target: 'discovered', actions: 'reset' } },
    },
    failed: {
      entry: [
        assign({ finishedAt: ({ event }) => (event as { now: number }).now }),
        { type: 'setStateLabel', params: { label: 'failed' } },
        {
          type: 'comment',
          params: ({ context }) => ({
            kind: 'failed' as const,
            key: commentKey(context, 'failed'),
            reason: context.reason ?? '',
            stage: stageOf(context).stage,
            taskId: context.history.at(-1)?.taskId ?? '',
          }),
        },
        { type: 'finished', params: ({ context }) => ({ outcome: 'failed' as const, reason: context.reason ?? '' }) },
      ],
      on: { 'issue.reset': { target: 'discovered', actions: 'reset' } },
    },
    released: { type: 'final' },
  },
});

export type IssueLifecycleMachine = typeof issueLifecycleMachine;
