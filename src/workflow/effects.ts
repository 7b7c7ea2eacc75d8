/**
 * The side effects a lifecycle asks for, as plain data: an action of the lifecycle machine, with
 * the issue it belongs to. They wait in the outbox (persisted with its snapshot) until
 * done, so a crash between deciding and doing replays them; each is idempotent by key, so a
 * replay never does anything twice.
 */
export interface WorkflowEffect {
  type: 'setStateLabel' | 'comment' | 'dispatchTask' | 'cancelTask' | 'stageSucceeded' | 'finished';
  params: Record<string, unknown>;
  /** Attempts that failed so far (a tracker outage): retried on the next tick. */
  failures?: number;
  /** Loaded from an earlier run's outbox: it may have been done before the crash. Not persisted. */
  replay?: boolean;
}

const EFFECT_TYPES = new Set<string>(['setStateLabel', 'comment', 'dispatchTask', 'cancelTask', 'stageSucceeded', 'finished']);

export function toEffects(actions: ReadonlyArray<{ type: string; params?: unknown }>): WorkflowEffect[] {
  return actions
    .filter((action) => EFFECT_TYPES.has(action.type))
    .map((action) => ({ type: action.type as WorkflowEffect['type'], params: (action.params ?? {}) as Record<string, unknown> }));
}

/** Effects that write to the tracker: they keep their order among themselves through an outage. */
export function writesTracker(effect: WorkflowEffect): boolean {
  return effect.type === 'setStateLabel' || effect.type === 'comment' || (effect.type === 'stageSucceeded' && effect.params.stage === 'pr');
}
