/**
 * The plan's KPIs as the workflow sees them, fed to `WorkflowMetrics` (docs/METRICS.md): issues
 * finished (done, failed, released), how long a ready task waited for its agent
 * (`miyabi_queue_wait_seconds`: from the issue entering `queued` for the stage to the agent
 * starting, which is the result's arrival less its duration), and SLA breaches (an issue not done
 * when `discoveredAt + slaMs[priority]` passes, counted once per issue by this process).
 *
 * In memory only: an orchestra restarted mid-task observes no queue wait for that task, and may
 * count a breach again for an issue still open past its deadline.
 */
import { slaMsOf } from '../issues/routing.ts';
import type { OrchestraConfig } from '../config/schema.ts';
import type { LifecycleSnapshot } from './book.ts';
import type { WorkflowMetrics } from './metrics.ts';
import type { IssueRecord } from './record.ts';

export type KpiMetrics = Pick<WorkflowMetrics, 'issueFinished' | 'queueWait' | 'slaBreach'>;

const FINISHED = new Set(['done', 'failed', 'released']);

export class WorkflowKpis {
  /** Issue → when it entered `queued`; then task → that time, once dispatched. */
  readonly #queuedSince = new Map<number, number>();
  readonly #readyAt = new Map<string, { role: string; at: number }>();
  readonly #breached = new Set<number>();

  constructor(
    private readonly config: OrchestraConfig,
    private readonly metrics: KpiMetrics | undefined,
  ) {}

  /** A lifecycle step of `record` at `now`. */
  transition(record: IssueRecord, previous: LifecycleSnapshot, next: LifecycleSnapshot, now: number): void {
    if (!this.metrics) return;
    const from = String(previous.value);
    const to = String(next.value);
    if (to === 'queued' && from !== 'queued') this.#queuedSince.set(record.number, now);
    if (from === 'queued' && to === 'running' && next.context.taskId !== undefined) {
      const role = next.context.route[next.context.stageIndex]?.role ?? 'none';
      this.#readyAt.set(next.context.taskId, { role, at: this.#queuedSince.get(record.number) ?? now });
      // Bounded: results that never come (a cancelled task) are not kept for ever.
      if (this.#readyAt.size > 4096) this.#readyAt.delete(this.#readyAt.keys().next().value!);
    }
    if (to !== 'queued') this.#queuedSince.delete(record.number);
    if (FINISHED.has(to) && !FINISHED.has(from)) this.metrics.issueFinished(to as 'done' | 'failed' | 'released');
    if (FINISHED.has(to)) this.#breached.delete(record.number);
  }

  /** A task's result arrived at `now`: its agent started `durationMs` before. */
  result(taskId: string, durationMs: number, now: number): void {
    const ready = this.#readyAt.get(taskId);
    if (!ready || !this.metrics) return;
    this.#readyAt.delete(taskId);
    this.metrics.queueWait(ready.role, (now - durationMs - ready.at) / 1000);
  }

  /** Each tick: issues still open whose SLA deadline has passed. */
  tick(records: Iterable<IssueRecord>, snapshotOf: (number: number) => LifecycleSnapshot | undefined, now: number): void {
    if (!this.metrics) return;
    for (const record of records) {
      const snapshot = snapshotOf(record.number);
      if (!snapshot || FINISHED.has(String(snapshot.value)) || this.#breached.has(record.number)) continue;
      const priority = snapshot.context.priority;
      if (now <= record.discoveredAt + slaMsOf(priority, this.config.workflow)) continue;
      this.#breached.add(record.number);
      this.metrics.slaBreach(priority);
    }
  }
}
