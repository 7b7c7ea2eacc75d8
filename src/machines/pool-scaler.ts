/**
 * How many agents a role needs: pure, from the role's backlog and its instances. One step at a
 * time (start one, or stop one), so a burst of tasks grows the pool gradually and a quiet pool
 * shrinks back to `min` one idle agent at a time.
 */
export interface PoolView {
  min: number;
  max: number;
  /** Tasks not yet delivered to any runner. */
  pending: number;
  /** Tasks a runner holds. */
  ackPending: number;
  /** Instances in start order; `idle` when ready and without a task. */
  instances: ReadonlyArray<{ id: string; idle: boolean }>;
}

export type ScaleStep = { kind: 'start' } | { kind: 'stop'; id: string } | { kind: 'hold' };

export function scaleStep(view: PoolView): ScaleStep {
  const count = view.instances.length;
  if (count < view.min) return { kind: 'start' };
  if (view.pending > 0 && count < view.max) return { kind: 'start' };
  if (view.pending === 0 && count > view.min) {
    // The newest idle agent goes first: the oldest ones keep their warm worktrees and panes.
    const idle = [...view.instances].reverse().find((instance) => instance.idle);
    if (idle) return { kind: 'stop', id: idle.id };
  }
  return { kind: 'hold' };
}
