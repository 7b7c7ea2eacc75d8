/**
 * How many agents a role needs: pure, from the role's backlog and its instances. One step at a
 * time (start one, or stop one), so a burst of tasks grows the pool gradually and a quiet pool
 * shrinks back to `min` one idle agent at a time.
 *
 * Work is every task of the role's consumer: those not yet delivered (`pending`) and those
 * delivered but not acknowledged (`ackPending`). A task is ack-pending while an agent works on it
 * — or when the runner that held it is gone (`kill -9` of the orchestrator, a runner that died):
 * JetStream gives it to a live runner only once its ack wait is over, and only if one pulls. So:
 *
 *   - a role with work and no agent starts one, whatever `min` says (with `min: 0`, the default,
 *     a task left ack-pending by a crash would otherwise wait for ever);
 *   - work that no busy agent holds (pending tasks, and ack-pending ones beyond the busy agents)
 *     grows the pool towards `max`;
 *   - the pool shrinks only when no work is left that its busy agents do not hold.
 */
export interface PoolView {
  min: number;
  max: number;
  /** Tasks not yet delivered to any runner. */
  pending: number;
  /** Tasks delivered to a runner (alive or not) and not yet acknowledged. */
  ackPending: number;
  /** Instances in start order; `idle` when ready and without a task. */
  instances: ReadonlyArray<{ id: string; idle: boolean }>;
}

export type ScaleStep = { kind: 'start' } | { kind: 'stop'; id: string } | { kind: 'hold' };

export function scaleStep(view: PoolView): ScaleStep {
  const count = view.instances.length;
  const busy = view.instances.filter((instance) => !instance.idle).length;
  // Tasks no busy agent holds: waiting to be delivered, or held by a runner that is gone.
  const unheld = view.pending + Math.max(0, view.ackPending - busy);
  if (count < view.min) return { kind: 'start' };
  if (count === 0 && view.pending + view.ackPending > 0) return { kind: 'start' };
  if (view.pending > 0 && count < view.max) return { kind: 'start' };
  if (unheld > 0 && count < view.max && count === busy) return { kind: 'start' };
  if (unheld === 0 && count > view.min) {
    // The newest idle agent goes first: the oldest ones keep their warm worktrees and panes.
    const idle = [...view.instances].reverse().find((instance) => instance.idle);
    if (idle) return { kind: 'stop', id: idle.id };
  }
  return { kind: 'hold' };
}
