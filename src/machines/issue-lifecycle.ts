/**
 * The lifecycle of one issue, as a pure XState machine. Its snapshot is the issue's durable
 * state (kept in the KV bucket by the workflow actor); it is stepped with xstate's pure
 * `transition()`, which answers the next snapshot and the effects to run, never running them:
 *
 *   discovered ─► waiting (dependencies not done) ─► queued ─► running <stage> ─► … ─► done
 *        │            │  ▲                           ▲   │         │
 *        └──────► blocked (can never run: a cycle,   │   │         ├─ failure ─► retrying ─┘ (backoff, ≤ maxAttempts)
 *                 a failed or missing dependency)    │   │         │              └─► failed
 *                                                    │   │         └─ changes_requested ─► queued at the first stage
 *                                                    │   │                                 (≤ maxReviewRounds, then failed)
 *   any state ─ issue.released (closed, unlabelled) ─► released
 *   done / failed ─ issue.reset (edited, /miyabi retry) ─► discovered, a new generation
 *
 * Time comes in on the events (`now`), so the machine is deterministic and a restored snapshot
 * behaves as the one that was saved. The effects (state label, comment, task, pull request …) are
 * named actions with plain-data params; the workflow actor runs them, each exactly once by key.
 */
import { assign, setup } from 'xstate';
import type { StageResult } from '../agents/task.ts';
import { backoffDelayMs } from '../backoff.ts';

export interface RouteStage {
  stage: string;
  role: string;
}

export type StateLabel = 'pending' | 'implementing' | 'reviewing' | 'deploying' | 'done' | 'failed' | 'blocked';

export interface LifecycleInput {
  number: number;
  route: RouteStage[];
  priority: number;
  discoveredAt: number;
  maxAttempts: number;
  maxReviewRounds: number;
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
  status: 'success' | 'retry' | 'failure' | 'changes_requested' | 'cached';
  reason: string;
  startedAt: number;
  finishedAt: number;
  agentId?: string;
}

export interface LifecycleContext extends Omit<LifecycleInput, 'generation'> {
  /** Bumped by each reset, so the comments of a second run are new comments. */
  generation: number;
  stageIndex: number;
  /** Attempt of the current stage run, from 1. */
  attempt: number;
  /** changes_requested answers so far. */
  reviewRounds: number;
  taskId: string | undefined;
  dispatchedAt: number | undefined;
  retryAt: number | undefined;
  /** Latest result of each stage, handed to the next runs as `previous`. */
  results: Record<string, StageResult>;
  history: StageRun[];
  /** Why the issue is blocked, failed or released. */
  reason: string | undefined;
  startedAt: number | undefined;
  finishedAt: number | undefined;
  /** Issues this one still waits for (shown in `dag show` and the summary). */
  waitingOn: number[];
}

export interface TaskOutcome {
  taskId: string;
  status: 'success' | 'retry' | 'failure' | 'changes_requested';
  reason: string;
  attempt: number;
  summary?: string;
  outputs?: Record<string, unknown>;
  agentId?: string;
}

export type LifecycleEvent =
  | { type: 'deps.waiting'; on: number[] }
  | { type: 'deps.blocked'; reason: string }
  | { type: 'deps.ready' }
  | { type: 'stage.dispatch'; now: number }
  /** The stage already succeeded with the same idempotency key: skip it. */
  | { type: 'stage.cached'; result: StageResult; now: number }
  | { type: 'stage.result'; outcome: TaskOutcome; now: number }
  | { type: 'retry.due'; now: number }
  | { type: 'issue.released'; reason: string; now: number }
  | { type: 'issue.reset'; reason: string; route: RouteStage[]; priority: number; now: number };

export interface DispatchParams {
  taskId: string;
  stage: string;
  role: string;
  attempt: number;
  round: number;
  generation: number;
  previous: Record<string, StageResult>;
}

export type CommentKind = 'started' | 'changes_requested' | 'done' | 'failed' | 'blocked';

export interface CommentParams {
  kind: CommentKind;
  /** Idempotency key of the comment: the same event never comments twice. */
  key: string;
  reason?: string;
  stage?: string;
  taskId?: string;
}

/** Delay before attempt `attempt + 1`: doubles from the initial delay, capped. */
export function retryDelayMs(attempt: number, initialMs: number, maxMs: number): number {
  return backoffDelayMs(attempt - 1, { baseMs: initialMs, maxMs });
}

export function taskIdOf(context: Pick<LifecycleContext, 'number' | 'generation' | 'stageIndex' | 'route' | 'reviewRounds' | 'attempt'>): string {
  const stage = context.route[context.stageIndex]?.stage ?? 'none';
  return `issue-${context.number}.g${context.generation}.${stage}.r${context.reviewRounds}.a${context.attempt}`;
}

const stageOf = (context: LifecycleContext) => context.route[context.stageIndex]!;
const runLabel = (context: LifecycleContext): StateLabel => context.stageStates[stageOf(context).stage] ?? 'implementing';
const commentKey = (context: LifecycleContext, kind: string) => `issue-${context.number}.g${context.generation}.${kind}`;

function run(context: LifecycleContext, status: StageRun['status'], reason: string, now: number, agentId?: string): StageRun {
  const { stage, role } = stageOf(context);
  return {
    stage,
    role,
    taskId: context.taskId ?? taskIdOf(context),
    attempt: context.attempt,
    round: context.reviewRounds,
    status,
    reason,
    startedAt: context.dispatchedAt ?? now,
    finishedAt: now,
    ...(agentId === undefined ? {} : { agentId }),
  };
}

function stageResult(outcome: TaskOutcome): StageResult {
  const status = outcome.status === 'changes_requested' ? 'changes_requested' : outcome.status === 'success' ? 'success' : 'failure';
  return {
    status,
    ...(outcome.summary === undefined ? {} : { summary: outcome.summary }),
    ...(outcome.outputs === undefined ? {} : { outputs: outcome.outputs }),
  };
}

type ResultEvent = Extract<LifecycleEvent, { type: 'stage.result' }>;

export const issueLifecycleMachine = setup({
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
    recordCached: assign(({ context, event }) => {
      const { result, now } = event as Extract<LifecycleEvent, { type: 'stage.cached' }>;
      const last = context.stageIndex === context.route.length - 1;
      return {
        results: { ...context.results, [stageOf(context).stage]: result },
        history: [...context.history, run(context, 'cached', 'already succeeded with the same content and dependencies (cache)', now)],
        stageIndex: last ? context.stageIndex : context.stageIndex + 1,
        attempt: 1,
      };
    }),
    reset: assign(({ context, event }) => {
      const { route, priority } = event as Extract<LifecycleEvent, { type: 'issue.reset' }>;
      return {
        route,
        priority,
        generation: context.generation + 1,
        stageIndex: 0,
        attempt: 1,
        reviewRounds: 0,
        taskId: undefined,
        retryAt: undefined,
        reason: undefined,
        finishedAt: undefined,
        results: {},
      };
    }),
    finished: (_, _params: { outcome: 'done' | 'failed' | 'released'; reason?: string }) => {},
  },
  guards: {
    isCurrentTask: ({ context, event }) => (event as ResultEvent).outcome.taskId === context.taskId,
    succeededLastStage: ({ context, event }) =>
      (event as ResultEvent).outcome.status === 'success' && context.stageIndex === context.route.length - 1,
    succeeded: ({ event }) => (event as ResultEvent).outcome.status === 'success',
    changesRequested: ({ event }) => (event as ResultEvent).outcome.status === 'changes_requested',
    reviewRoundsLeft: ({ context }) => context.reviewRounds < context.maxReviewRounds,
    attemptsLeft: ({ context, event }) => Math.max(context.attempt, (event as ResultEvent).outcome.attempt) < context.maxAttempts,
    isRetry: ({ event }) => (event as ResultEvent).outcome.status === 'retry',
    retryDue: ({ context, event }) => (event as { now: number }).now >= (context.retryAt ?? 0),
    isLastStage: ({ context }) => context.stageIndex === context.route.length - 1,
    wasRunning: ({ context }) => context.taskId !== undefined,
  },
}).createMachine({
  id: 'issue-lifecycle',
  context: ({ input }) => ({
    ...input,
    generation: input.generation ?? 1,
    stageIndex: 0,
    attempt: 1,
    reviewRounds: 0,
    taskId: undefined,
    dispatchedAt: undefined,
    retryAt: undefined,
    results: {},
    history: [],
    reason: undefined,
    startedAt: undefined,
    finishedAt: undefined,
    waitingOn: [],
  }),
  initial: 'discovered',
  on: {
    'issue.released': {
      target: '.released',
      actions: [
        {
          type: 'cancelTask',
          params: ({ context }) => ({ taskId: context.taskId ?? '' }),
        },
        assign({ reason: ({ event }) => event.reason, finishedAt: ({ event }) => event.now, taskId: undefined }),
        { type: 'setStateLabel', params: { label: undefined } },
        { type: 'finished', params: ({ event }) => ({ outcome: 'released' as const, reason: event.reason }) },
      ],
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
            }),
            { type: 'setStateLabel', params: ({ context }) => ({ label: runLabel(context) }) },
            {
              type: 'comment',
              params: ({ context }) => ({ kind: 'started' as const, key: commentKey(context, 'started'), stage: stageOf(context).stage }),
            },
            {
              type: 'dispatchTask',
              params: ({ context }) => ({
                taskId: context.taskId!,
                stage: stageOf(context).stage,
                role: stageOf(context).role,
                attempt: context.attempt,
                round: context.reviewRounds,
                generation: context.generation,
                previous: context.results,
              }),
            },
          ],
        },
        'stage.cached': [
          { guard: 'isLastStage', target: 'done', actions: 'recordCached' },
          { target: 'queued', reenter: true, actions: 'recordCached' },
        ],
        'deps.blocked': { target: 'blocked', actions: assign({ reason: ({ event }) => event.reason }) },
        'deps.waiting': { target: 'waiting', actions: assign({ waitingOn: ({ event }) => event.on }) },
      },
    },
    running: {
      on: {
        'stage.result': [
          { guard: ({ context, event }) => event.outcome.taskId !== context.taskId },
          {
            guard: 'succeeded',
            target: 'advancing',
            actions: [
              assign({
                results: ({ context, event }) => ({ ...context.results, [stageOf(context).stage]: stageResult(event.outcome) }),
                history: ({ context, event }) => [...context.history, run(context, 'success', event.outcome.reason, event.now, event.outcome.agentId)],
              }),
              {
                type: 'stageSucceeded',
                params: ({ context, event }) => ({ stage: stageOf(context).stage, generation: context.generation, result: stageResult(event.outcome) }),
              },
            ],
          },
          {
            guard: 'changesRequested',
            target: 'reworking',
            actions: assign({
              results: ({ context, event }) => ({ ...context.results, [stageOf(context).stage]: stageResult(event.outcome) }),
              history: ({ context, event }) => [
                ...context.history,
                run(context, 'changes_requested', event.outcome.reason, event.now, event.outcome.agentId),
              ],
              reason: ({ event }) => event.outcome.summary ?? event.outcome.reason,
            }),
          },
          {
            // The runner retries a `retry` itself (the message is redelivered): only the budget is ours.
            guard: ({ context, event }) => event.outcome.status === 'retry' && Math.max(context.attempt, event.outcome.attempt) < context.maxAttempts,
            actions: assign({
              attempt: ({ event }) => event.outcome.attempt + 1,
              taskId: ({ context }) => context.taskId,
              history: ({ context, event }) => [...context.history, run(context, 'retry', event.outcome.reason, event.now, event.outcome.agentId)],
            }),
          },
          {
            guard: 'attemptsLeft',
            target: 'retrying',
            actions: [
              assign({
                history: ({ context, event }) => [
                  ...context.history,
                  run(context, event.outcome.status === 'retry' ? 'retry' : 'failure', event.outcome.reason, event.now, event.outcome.agentId),
                ],
                retryAt: ({ context, event }) =>
                  event.now + retryDelayMs(Math.max(context.attempt, event.outcome.attempt), context.retryInitialDelayMs, context.retryMaxDelayMs),
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
                // A `retry` outcome means the runner would run it again: we have given up on it.
                type: 'cancelTask',
                params: ({ context, event }) => ({ taskId: event.outcome.status === 'retry' ? context.taskId! : '' }),
              },
              assign({
                history: ({ context, event }) => [
                  ...context.history,
                  run(context, event.outcome.status === 'retry' ? 'retry' : 'failure', event.outcome.reason, event.now, event.outcome.agentId),
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
        {
          guard: 'isLastStage',
          target: 'done',
          actions: assign({ taskId: undefined }),
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
            {
              type: 'comment',
              params: ({ context }) => ({
                kind: 'changes_requested' as const,
                key: commentKey(context, `changes-requested.r${context.reviewRounds + 1}`),
                reason: context.reason ?? '',
                stage: stageOf(context).stage,
              }),
            },
            assign({ reviewRounds: ({ context }) => context.reviewRounds + 1, stageIndex: 0, attempt: 1, taskId: undefined }),
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

/** A short stable hash of a reason, so a new blocking reason is a new comment and the same one is not. */
function hashReason(reason: string): string {
  let hash = 0x811c9dc5;
  for (let index = 0; index < reason.length; index += 1) {
    hash ^= reason.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(36);
}

export type IssueLifecycleMachine = typeof issueLifecycleMachine;
