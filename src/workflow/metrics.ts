/**
 * The workflow's metrics, on the orchestra's registry (src/infra/observe/metrics.ts knows nothing of
 * issues): issues by state, stage runs, what the trust gate ignored, and the tracker's health —
 * its outages, and how far its state labels are behind the real state (`miyabi_tracker_lag_seconds`,
 * a histogram observed each time a state label lands: the time since the lifecycle entered the
 * state it shows, or the first state it replaced unshown).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { BoundedLabel } from '../infra/observe/metrics.ts';
import { GITHUB_OUTAGE_KINDS } from '../issues/github-client.ts';
import { DISTRUST_REASONS } from '../issues/trust.ts';
import { TASK_RESULT_STATUSES } from '../runner/task-message.ts';

export const HUMAN_INTERVENTIONS = ['needs_input', 'answer', 'retry_command', 'manual_restart', 'label_edit'] as const;
export type HumanIntervention = (typeof HUMAN_INTERVENTIONS)[number];

/** What the trust gate ignores: an issue it does not trust, or a comment command from someone it does not. */
export const IGNORE_REASONS = [...DISTRUST_REASONS, 'untrusted_commenter'] as const;
/** How a stage run ends: its task's result, or the bus giving up on the task (`dead_letter`). */
export const STAGE_RUN_STATUSES = [...TASK_RESULT_STATUSES, 'dead_letter'] as const;

export class WorkflowMetrics {
  readonly #issuesIgnored: Counter<'reason'>;
  readonly #issuesByState: Gauge<'state'>;
  readonly #stageRuns: Counter<'stage' | 'status'>;
  readonly #trackerWaits: Counter<'kind'>;
  readonly #trackerDegraded: Gauge;
  readonly #humanInterventions: Counter<'kind'>;
  readonly #merges: Counter<'outcome'>;
  readonly #trackerLag: Histogram;
  readonly #taskDuration: Histogram<'role' | 'stage' | 'outcome'>;
  readonly #queueWait: Histogram<'role'>;
  readonly #finished: Counter<'outcome'>;
  readonly #slaBreaches: Counter<'priority'>;
  readonly #costUsd: Counter<'role'>;
  readonly #tokens: Counter<'role' | 'direction'>;
  readonly #wallClock: Counter<'role'>;
  readonly #budgetSpent: Gauge<'role' | 'measure'>;
  readonly #budgetShare: Gauge;
  readonly #budgetAdmitted: Gauge;
  /** Stage names and ignore reasons come from config and code, but a bound costs nothing. */
  readonly #names = new BoundedLabel(200);

  readonly #onIntervention: ((kind: HumanIntervention, issue: number | undefined) => void) | undefined;

  /** `onIntervention`: each intervention told on, with its issue (published as a KPI fact: docs/KPI.md). */
  constructor(registry: Registry, options: { onIntervention?: (kind: HumanIntervention, issue: number | undefined) => void } = {}) {
    this.#onIntervention = options.onIntervention;
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
      help: 'Times a person stepped in: answered an agent\'s question (answer), asked for a retry (retry_command), restarted an agent by hand (manual_restart), changed a state label the orchestra set (label_edit); and questions asked (needs_input)',
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
    const durations = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200];
    this.#taskDuration = new Histogram({
      name: 'miyabi_task_duration_seconds',
      help: 'How long an agent worked on a task, by role, stage and outcome (the result\'s status; a dead-lettered task has no duration and is not here)',
      labelNames: ['role', 'stage', 'outcome'],
      buckets: durations,
      registers,
    });
    this.#queueWait = new Histogram({
      name: 'miyabi_queue_wait_seconds',
      help: 'From a task ready (its issue queued for the stage) to its agent starting on it, by role',
      labelNames: ['role'],
      buckets: durations,
      registers,
    });
    this.#finished = new Counter({
      name: 'miyabi_issues_finished_total',
      help: 'Issues that left the workflow: done, failed, or released (closed, unlabelled, no longer trusted)',
      labelNames: ['outcome'],
      registers,
    });
    this.#slaBreaches = new Counter({
      name: 'miyabi_sla_breaches_total',
      help: 'Issues whose SLA deadline (workflow.priority.slaMs after discovery) passed before they were done, by priority (p0, p1 …)',
      labelNames: ['priority'],
      registers,
    });
    this.#costUsd = new Counter({ name: 'miyabi_agent_cost_usd_total', help: 'What agents said their tasks cost (the result\'s cost.usd), by role', labelNames: ['role'], registers });
    this.#tokens = new Counter({
      name: 'miyabi_agent_tokens_total',
      help: 'Tokens agents said their tasks used (the result\'s cost.inputTokens and outputTokens), by role and direction (input, output)',
      labelNames: ['role', 'direction'],
      registers,
    });
    this.#wallClock = new Counter({ name: 'miyabi_agent_wall_clock_seconds_total', help: 'Wall-clock time agents worked on tasks, by role (known for every task, cost reported or not)', labelNames: ['role'], registers });
    this.#budgetSpent = new Gauge({
      name: 'miyabi_budget_spent',
      help: 'What the current budget day has spent so far (durable: read from the KV bucket), by role and measure (usd, wall_clock_seconds, tasks)',
      labelNames: ['role', 'measure'],
      registers,
    });
    this.#budgetShare = new Gauge({ name: 'miyabi_budget_daily_share', help: 'The most used daily budget cap, as a share (1 = used up: dispatch paused)', registers });
    this.#budgetAdmitted = new Gauge({
      name: 'miyabi_budget_admitted_priority',
      help: 'The least urgent priority the budget lets be dispatched now (9: any, -1: none, dispatch paused)',
      registers,
    });
    this.#budgetAdmitted.set(9);
    // Known from the start, so the first one is a change `rate()` can see.
    for (const kind of HUMAN_INTERVENTIONS) this.#humanInterventions.inc({ kind }, 0);
    for (const outcome of ['done', 'failed', 'released']) this.#finished.inc({ outcome }, 0);
    for (const outcome of ['merged', 'blocked', 'conflict', 'ci_failed', 'failed']) this.#merges.inc({ outcome }, 0);
    for (const kind of GITHUB_OUTAGE_KINDS) this.#trackerWaits.inc({ kind }, 0);
    for (const reason of IGNORE_REASONS) this.#issuesIgnored.inc({ reason }, 0);
  }

  /** The roles, agents' stages and priorities of the config: their counters exist from 0. */
  known(roles: readonly string[], priorities: number, stages: readonly string[] = []): void {
    for (const stage of stages) for (const status of STAGE_RUN_STATUSES) this.#stageRuns.inc({ stage: this.#names.value(stage), status }, 0);
    for (const role of roles) {
      this.#costUsd.inc({ role }, 0);
      this.#wallClock.inc({ role }, 0);
      for (const measure of ['usd', 'wall_clock_seconds', 'tasks']) this.#budgetSpent.set({ role, measure }, 0);
      for (const direction of ['input', 'output']) this.#tokens.inc({ role, direction }, 0);
    }
    for (let priority = 0; priority < priorities; priority += 1) this.#slaBreaches.inc({ priority: `p${priority}` }, 0);
  }

  /** A task's result: duration, and the cost the agent reported (a dead letter has neither: it is only a stage run). */
  taskResult(result: { role: string; stage: string; status: string; durationMs: number; cost?: { usd?: number; inputTokens?: number; outputTokens?: number } | undefined }): void {
    const role = this.#names.value(result.role);
    this.#taskDuration.observe({ role, stage: this.#names.value(result.stage), outcome: result.status }, result.durationMs / 1000);
    this.agentSpend(result.role, result.durationMs, result.cost);
  }

  /** What one agent run spent: a result's, or a cancelled run's (no result, the same spend). */
  agentSpend(roleName: string, durationMs: number, cost: { usd?: number; inputTokens?: number; outputTokens?: number } | undefined): void {
    const role = this.#names.value(roleName);
    this.#wallClock.inc({ role }, Math.max(0, durationMs) / 1000);
    if (cost?.usd !== undefined) this.#costUsd.inc({ role }, cost.usd);
    if (cost?.inputTokens !== undefined) this.#tokens.inc({ role, direction: 'input' }, cost.inputTokens);
    if (cost?.outputTokens !== undefined) this.#tokens.inc({ role, direction: 'output' }, cost.outputTokens);
  }

  /** The budget day's spend and what it admits (src/workflow/budget-ledger.ts). */
  budget(status: { roles: Record<string, { usd: number; wallClockMs: number; tasks: number }>; admission: { share: number; paused?: string; maxPriority?: number } }): void {
    for (const [name, spend] of Object.entries(status.roles)) {
      const role = this.#names.value(name);
      this.#budgetSpent.set({ role, measure: 'usd' }, spend.usd);
      this.#budgetSpent.set({ role, measure: 'wall_clock_seconds' }, spend.wallClockMs / 1000);
      this.#budgetSpent.set({ role, measure: 'tasks' }, spend.tasks);
    }
    this.#budgetShare.set(Number.isFinite(status.admission.share) ? status.admission.share : 1);
    this.#budgetAdmitted.set(status.admission.paused !== undefined ? -1 : (status.admission.maxPriority ?? 9));
  }

  queueWait(role: string, seconds: number): void {
    this.#queueWait.observe({ role: this.#names.value(role) }, Math.max(0, seconds));
  }

  issueFinished(outcome: 'done' | 'failed' | 'released'): void {
    this.#finished.inc({ outcome });
  }

  slaBreach(priority: number): void {
    this.#slaBreaches.inc({ priority: `p${priority}` });
  }

  humanIntervention(kind: HumanIntervention, issue?: number): void {
    this.#humanInterventions.inc({ kind });
    this.#onIntervention?.(kind, issue);
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

  stageRun(stage: string, status: (typeof STAGE_RUN_STATUSES)[number]): void {
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
