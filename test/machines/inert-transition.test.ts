/**
 * The workflow steps issue lifecycles with `inertTransition` (one inert scope per machine, reused)
 * instead of xstate's `transition` (a throwaway actor per call): it must answer exactly what
 * xstate answers, call after call, each call's actions its own.
 */
import { describe, expect, it } from 'vitest';
import { initialTransition, transition } from 'xstate';
import { inertTransition } from '../../src/machines/inert-transition.ts';
import { issueLifecycleMachine, type LifecycleEvent } from '../../src/machines/issue-lifecycle.ts';
import { lifecycleInput } from '../support/lifecycle-drive.ts';

// Two stages, two attempts each.
const input = lifecycleInput({ route: lifecycleInput().route.slice(0, 2), maxAttempts: 2 });

const plain = (actions: Array<{ type: string; params?: unknown }>) => actions.map(({ type, params }) => ({ type, params }));

describe('inertTransition', () => {
  it('answers the snapshot and the actions xstate\'s transition answers, at every step of a lifecycle', () => {
    const step = inertTransition(issueLifecycleMachine);
    const [start] = initialTransition(issueLifecycleMachine, input);
    let ours = start;
    let theirs = start;
    const events: Array<(taskId: string) => LifecycleEvent> = [
      () => ({ type: 'deps.waiting', on: [3] }),
      () => ({ type: 'deps.ready' }),
      () => ({ type: 'stage.dispatch', now: 1 }),
      (taskId) => ({ type: 'stage.result', outcome: { taskId, status: 'retry', reason: 'timed out', attempt: 1 }, now: 2 }),
      (taskId) => ({ type: 'stage.result', outcome: { taskId, status: 'success', reason: 'ok', attempt: 2 }, now: 3 }),
      () => ({ type: 'stage.dispatch', now: 4 }),
      () => ({ type: 'issue.released', reason: 'closed on the tracker', now: 5 }),
    ];
    let steps = 0;
    for (const event of events) {
      const sent = event(theirs.context.taskId ?? '');
      const [expectedNext, expectedActions] = transition(issueLifecycleMachine, theirs, sent);
      const [next, actions] = step(ours, sent);
      expect(issueLifecycleMachine.getPersistedSnapshot(next)).toEqual(issueLifecycleMachine.getPersistedSnapshot(expectedNext));
      // Each call's actions alone: none left over from the call before.
      expect(plain(actions)).toEqual(plain(expectedActions));
      [ours, theirs] = [next, expectedNext];
      steps += expectedActions.length > 0 ? 1 : 0;
    }
    expect(ours.value).toBe('released');
    expect(steps).toBeGreaterThan(3);
  });
});
