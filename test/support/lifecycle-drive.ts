/**
 * Steps the issue lifecycle machine purely (xstate's `transition()`, nothing run) and keeps every
 * effect it asked for, in order: what the workflow engine would run.
 */
import { initialTransition, transition, type SnapshotFrom } from 'xstate';
import { issueLifecycleMachine, type LifecycleEvent, type LifecycleInput, type TaskOutcome } from '../../src/machines/issue-lifecycle.ts';

export type LifecycleSnapshot = SnapshotFrom<typeof issueLifecycleMachine>;

/** Issue #7 on a route of three agent stages, three attempts each, one review round. */
export const lifecycleInput = (overrides: Partial<LifecycleInput> = {}): LifecycleInput => ({
  number: 7,
  route: [
    { stage: 'codegen', role: 'codegen' },
    { stage: 'review', role: 'review' },
    { stage: 'pr', role: 'pr' },
  ],
  priority: 1,
  discoveredAt: 0,
  maxAttempts: 3,
  maxReviewRounds: 1,
  retryInitialDelayMs: 1_000,
  retryMaxDelayMs: 10_000,
  stageStates: { codegen: 'implementing', review: 'reviewing', pr: 'reviewing' },
  ...overrides,
});

/** Issue #5 on the same stages followed by `merge`, one CI round and one conflict round. */
export const mergeLifecycleInput = (overrides: Partial<LifecycleInput> = {}): LifecycleInput =>
  lifecycleInput({
    number: 5,
    route: [...lifecycleInput().route, { stage: 'merge', role: 'orchestra' }],
    maxCiRounds: 1,
    maxConflictRounds: 1,
    ...overrides,
  });

export function driveLifecycle(machineInput: LifecycleInput) {
  const effects: Array<{ type: string; params: unknown }> = [];
  const keep = (actions: Array<{ type: string; params?: unknown }>) => {
    for (const action of actions) if (!action.type.startsWith('xstate.')) effects.push({ type: action.type, params: action.params });
  };
  let [snapshot, actions] = initialTransition(issueLifecycleMachine, machineInput);
  keep(actions);
  const send = (event: LifecycleEvent): LifecycleSnapshot => {
    [snapshot, actions] = transition(issueLifecycleMachine, snapshot, event);
    keep(actions);
    return snapshot;
  };
  /** Dispatches the current stage; answers its task id. */
  const dispatch = (now: number, extra: Partial<Extract<LifecycleEvent, { type: 'stage.dispatch' }>> = {}) => {
    send({ type: 'stage.dispatch', now, ...extra });
    return snapshot.context.taskId!;
  };
  /** Answers the running task (its attempt as the machine counts it unless `extra` says otherwise). */
  const answer = (status: TaskOutcome['status'], now: number, extra: Partial<TaskOutcome> = {}) =>
    send({ type: 'stage.result', outcome: { taskId: snapshot.context.taskId!, status, reason: status, attempt: snapshot.context.attempt, ...extra }, now });
  /** The params of every effect of one type, in order. */
  const of = (type: string) => effects.filter((effect) => effect.type === type).map((effect) => effect.params as Record<string, unknown>);
  return {
    get snapshot() {
      return snapshot;
    },
    effects,
    send,
    dispatch,
    answer,
    of,
  };
}
