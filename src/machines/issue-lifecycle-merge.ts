/**
 * The lifecycle's states that no agent runs: the `merge` stage and the wait for a person.
 *
 *   merging            the engine checks the pull request (review approved, CI, mergeability,
 *                      dependencies merged first in `stacked` mode) and merges it, or waits for a
 *                      person to (auto-merge off); it reports with the `merge.*` events
 *   merge_blocked      the tracker refused the merge (a protected branch, say): waits for the pull
 *                      request to change (`merge.retry`), or for someone to merge it by hand
 *   waiting_for_human  an agent asked a question (`needs_input`): waits for a trusted answer,
 *                      then runs the same stage again with the answer in its task
 */
import { assign } from 'xstate';
import { lifecycleSetup, roundComment } from './issue-lifecycle-setup.ts';
import { commentKey, hashReason, runOf, stageOf, type LifecycleContext } from './issue-lifecycle-types.ts';

/** Merged: recorded, and in stacked mode the pull requests stacked on the branch are pointed at the base branch. */
const mergeDone = {
  target: 'advancing' as const,
  actions: [
    'recordMerge' as const,
    lifecycleSetup.enqueueActions(({ context, enqueue }) => {
      if (context.git?.mode === 'stacked') enqueue({ type: 'retargetStacked', params: { generation: context.generation } });
    }),
  ],
};

/**
 * A conflict the first stage must resolve — met merging into the base branch (`merge.conflict`),
 * or restacking the branch before a later stage (`branch.conflict`, taken in `queued`): back to
 * the first stage with it, at most `maxConflictRounds` times, then failed with the reason.
 */
export const conflictRound = [
  {
    guard: 'conflictRoundsLeft' as const,
    target: 'queued' as const,
    actions: [
      'recordConflict' as const,
      { type: 'comment' as const, params: ({ context }: { context: LifecycleContext }) => roundComment(context, 'conflict', context.conflictRounds) },
      'toFirstStage' as const,
      { type: 'setStateLabel' as const, params: { label: 'pending' as const } },
    ],
  },
  { target: 'failed' as const, actions: 'failConflict' as const },
];

const merging = lifecycleSetup.createStateConfig({
  entry: { type: 'setStateLabel', params: { label: 'merging' } },
  on: {
    'merge.waiting': { actions: assign({ reason: ({ event }) => event.reason }) },
    'merge.done': mergeDone,
    'merge.ci_failed': [
      {
        guard: 'ciRoundsLeft',
        target: 'queued',
        actions: [
          assign({
            reason: ({ event }) => `CI check ${event.check} failed`,
            ciRounds: ({ context }) => context.ciRounds + 1,
            results: ({ context, event }) => ({
              ...context.results,
              ci: { status: 'failure' as const, summary: `CI check ${event.check} failed`, outputs: { check: event.check, log: event.excerpt } },
            }),
            history: ({ context, event }) => [
              ...context.history,
              runOf({ ...context, dispatchedAt: context.mergingSince }, 'failure', `CI check ${event.check} failed`, event.now),
            ],
          }),
          { type: 'comment', params: ({ context }) => roundComment(context, 'ci_failed', context.ciRounds) },
          'toFirstStage',
          { type: 'setStateLabel', params: { label: 'pending' } },
        ],
      },
      {
        target: 'failed',
        actions: assign({
          reason: ({ context, event }) =>
            `CI check ${event.check} still failing after ${context.ciRounds} CI round(s) (workflow.maxCiRounds ${context.maxCiRounds})`,
        }),
      },
    ],
    'merge.conflict': conflictRound,
    'merge.blocked': { target: 'merge_blocked', actions: assign({ reason: ({ event }) => event.reason }) },
    'merge.failed': { target: 'failed', actions: assign({ reason: ({ event }) => event.reason }) },
  },
});

const mergeBlocked = lifecycleSetup.createStateConfig({
  entry: [
    { type: 'setStateLabel', params: { label: 'merge_blocked' } },
    {
      type: 'comment',
      params: ({ context }) => ({
        kind: 'merge_blocked' as const,
        key: commentKey(context, `merge-blocked.${hashReason(context.reason ?? '')}`),
        reason: context.reason ?? '',
      }),
    },
  ],
  on: {
    'merge.retry': 'merging',
    'merge.done': mergeDone,
    'merge.blocked': {
      guard: ({ context, event }) => event.reason !== context.reason,
      target: 'merge_blocked',
      reenter: true,
      actions: assign({ reason: ({ event }) => event.reason }),
    },
    'merge.failed': { target: 'failed', actions: assign({ reason: ({ event }) => event.reason }) },
  },
});

const waitingForHuman = lifecycleSetup.createStateConfig({
  entry: [
    { type: 'setStateLabel', params: { label: 'waiting_for_human' } },
    {
      type: 'comment',
      params: ({ context }) => ({
        kind: 'needs_input' as const,
        key: commentKey(context, `needs-input.${stageOf(context).stage}.r${context.round}.q${context.answers.length + 1}`),
        reason: context.question ?? '',
        stage: stageOf(context).stage,
      }),
    },
  ],
  on: {
    'issue.answer': {
      target: 'queued',
      actions: [
        assign({
          answers: ({ context, event }) => [
            ...context.answers,
            { stage: stageOf(context).stage, question: context.question ?? '', answer: event.answer, by: event.by },
          ],
          question: undefined,
          attempt: 1,
        }),
        { type: 'setStateLabel', params: { label: 'pending' } },
      ],
    },
  },
});

export const mergeStates = { merging, merge_blocked: mergeBlocked, waiting_for_human: waitingForHuman };
