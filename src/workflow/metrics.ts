/**
 * The workflow's metrics, on the orchestra's registry (src/infra/observe/metrics.ts knows nothing of
 * issues): issues by state, stage runs, what the trust gate ignored, and the tracker's health —
 * its outages, and how far its state labels are behind the real state (`miyabi_tracker_lag_seconds`,
 * a histogram observed each time a state label lands: the time since the lifecycle entered the
 * state it shows, or the first state it replaced unshown).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { BoundedLabel } from '../infra/observe/metrics.ts';

export class WorkflowMetrics {
  readonly #issuesIgnored: Counter<'reason'>;
  readonly #issuesByState: Gauge<'state'>;
  readonly #stageRuns: Counter<'stage' | 'status'>;
  readonly #trackerWaits: Counter<'kind'>;
  readonly #trackerDegraded: Gauge;
  readonly #humanInterventions: Counter<'kind'>;
  readonly #merges: Counter<'outcome'>;
  readonly #trackerLag: Histogram;
  /** Stage names and ignore reasons come from config and code, but a bound costs nothing. */
  readonly #names = new BoundedLabel(200);

  constructor(registry: Registry) {
    const registers = [registry];
    this.#issuesIgnored = new Counter({
      name: 'miyabi_issues_ignored_total',
      help: 'Issues (and comment commands) ignored by the trust gate, by reason',
      labelNames: ['reason'],
      registers,
    });
    this.#issuesByState = new Gauge({ name: 'miyabi_issues', help: 'Issues the workflow knows, by lifecycle state', labelNames: ['state'], registers });
    this.#stageRuns = new Counter({ name: 'miyabi_stage_runs_total', help: 'Stage runs that ended, by stage and outcome', labelNames: ['stage', 'status'], registers });
    this.#trackerWaits = new Counter({
      name: 'miyabi_tracker_waits_total',
      help: 'Times a tracker request waited: rate limits (primary, secondary), server errors, network errors',
      labelNames: ['kind'],
      registers,
    });
    this.#trackerDegraded = new Gauge({ name: 'miyabi_tracker_degraded', help: '1 while tracker requests are failing or waiting on a rate limit', registers });
    this.#humanInterventions = new Counter({
      name: 'miyabi_human_interventions_total',
      help: 'Times the orchestra needed a person: an agent asked a question (needs_input), a person answered one (answer)',
      labelNames: ['kind'],
      registers,
    });
    this.#merges = new Counter({
      name: 'miyabi_merge_stage_total',
      help: 'What the merge stage ended with each time it did more than wait: merged, blocked, conflict, ci_failed, failed',
      labelNames: ['outcome'],
      registers,
    });
    this.#trackerLag = new Histogram({
      name: 'miyabi_tracker_lag_seconds',
      help: 'How far behind the real state the state label on the tracker was when it landed: from the state change to the label write',
      buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600],
      registers,
    });
    // Known from the start, so the first one is a change `rate()` can see.
    for (const kind of ['needs_input', 'answer']) this.#humanInterventions.inc({ kind }, 0);
    for (const outcome of ['merged', 'blocked', 'conflict', 'ci_failed', 'failed']) this.#merges.inc({ outcome }, 0);
  }

  humanIntervention(kind: 'needs_input' | 'answer'): void {
    this.#humanInterventions.inc({ kind });
  }

  mergeStage(outcome: 'merged' | 'blocked' | 'conflict' | 'ci_failed' | 'failed'): void {
    this.#merges.inc({ outcome });
  }

  issueIgnored(reason: string): void {
    this.#issuesIgnored.inc({ reason: this.#names.value(reason) });
  }

  /** Replaces the issue counts by state. */
  issuesByState(counts: Readonly<Record<string, number>>): void {
    this.#issuesByState.reset();
    for (const [state, count] of Object.entries(counts)) this.#issuesByState.set({ state }, count);
  }

  stageRun(stage: string, status: string): void {
    this.#stageRuns.inc({ stage: this.#names.value(stage), status });
  }

  trackerWait(kind: string): void {
    this.#trackerWaits.inc({ kind });
  }

  /** A state label reached the tracker `seconds` after the state it shows began. */
  trackerLag(seconds: number): void {
    this.#trackerLag.observe(seconds);
  }

  trackerDegraded(degraded: boolean): void {
    this.#trackerDegraded.set(degraded ? 1 : 0);
  }
}
