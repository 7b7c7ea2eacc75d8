/**
 * The orchestra's Prometheus metrics, on a registry of its own (never prom-client's global one,
 * so tests and several orchestras in one process do not collide), with the default process
 * metrics. Callers use plain methods named after what happened; label values are bounded:
 * subjects are cut to their first three tokens and each label keeps at most `maxLabelValues`
 * distinct values, later ones counted under "other".
 *
 * Other modules may register their own metrics on `registry`.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { DeadLetterReasons } from '../bus/dead-letter.ts';
import type { BusObserver } from '../bus/observer.ts';

export const OTHER_LABEL = 'other';

/** The states every actor has a series for from its first report (a machine adds its own as it enters them). */
export const ACTOR_STATES = ['running', 'stopped'] as const;

/** What went wrong before a recovery (`miyabi_recovery_seconds{fault}`). */
export const FAULTS = ['pane_died', 'heartbeat_lost', 'timeout', 'nats_reconnect', 'nats_stalled', 'actor_crash'] as const;
export type Fault = (typeof FAULTS)[number];

/** A label's values, at most `max` distinct ones; beyond that, OTHER_LABEL. */
export class BoundedLabel {
  readonly #seen = new Set<string>();
  constructor(readonly max: number) {}
  value(raw: string): string {
    if (this.#seen.has(raw)) return raw;
    if (this.#seen.size >= this.max) return OTHER_LABEL;
    this.#seen.add(raw);
    return raw;
  }
}

/** `miyabi.tasks.codegen.42` → `miyabi.tasks.codegen`. */
export function subjectLabel(subject: string): string {
  return subject.split('.').slice(0, 3).join('.');
}

export interface MetricsOptions {
  /** Default process metrics (CPU, memory, event loop, GC). Default true. */
  defaultMetrics?: boolean;
  /** Distinct values kept per label. Default 200. */
  maxLabelValues?: number;
}

export class OrchestraMetrics {
  readonly registry = new Registry();
  readonly #labels: Record<'actor' | 'supervisor' | 'subject' | 'sender' | 'reason', BoundedLabel>;
  /** Per actor: the states it has been in (each a series, 1 on the current one) and the current one. */
  readonly #actorStates = new Map<string, { current: string; seen: Set<string> }>();
  /** Per actor: a fault seen and not yet recovered from (src/orchestra/supervisor-events.ts). */
  readonly #faults = new Map<string, { fault: string; at: number }>();
  /** `miyabi_build_info`'s labels, once known. */
  #build: { version: string; nodejs: string; natsMode: 'embedded' | 'external' } | undefined;
  #natsServer = 'unknown';
  /** Per child: its supervisor, for the restart counter's series. */
  readonly #supervisorOf = new Map<string, string>();

  readonly #restarts: Counter<'supervisor' | 'child'>;
  readonly #escalations: Counter<'supervisor'>;
  readonly #actorState: Gauge<'actor' | 'state'>;
  readonly #healthy: Gauge;
  readonly #published: Counter<'subject'>;
  readonly #acked: Counter<'subject'>;
  readonly #redelivered: Counter<'subject'>;
  readonly #deadLettered: Counter<'subject' | 'reason'>;
  readonly #gaps: Counter<'sender'>;
  readonly #duplicates: Counter<'sender'>;
  readonly #recovery: Histogram<'fault'>;
  readonly #rateRemaining: Gauge<'resource'>;
  readonly #rateLimit: Gauge<'resource'>;
  readonly #notifications: Counter<'kind' | 'outcome'>;

  constructor(options: MetricsOptions = {}) {
    const max = options.maxLabelValues ?? 200;
    this.#labels = {
      actor: new BoundedLabel(max),
      supervisor: new BoundedLabel(max),
      subject: new BoundedLabel(max),
      sender: new BoundedLabel(max),
      reason: new BoundedLabel(max),
    };
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
      new Counter<L>({ name, help, labelNames, registers });
    this.#restarts = counter('miyabi_supervisor_restarts_total', 'Children restarted, per supervisor and child', [
      'supervisor',
      'child',
    ]);
    this.#escalations = counter(
      'miyabi_supervisor_escalations_total',
      'Times a supervisor exceeded its restart intensity and failed to its parent',
      ['supervisor'],
    );
    this.#actorState = new Gauge({
      name: 'miyabi_actor_state',
      help: 'State of each actor: one series per state it has been in, 1 on its current state and 0 on the others; removed when the actor stops for good',
      labelNames: ['actor', 'state'],
      registers,
    });
    this.#healthy = new Gauge({
      name: 'miyabi_healthy',
      help: '1 when the last health check passed, 0 when it failed',
      registers,
    });
    this.#published = counter('miyabi_bus_published_total', 'Messages stored by JetStream', ['subject']);
    this.#acked = counter('miyabi_bus_acked_total', 'Messages acknowledged after their handler succeeded', ['subject']);
    this.#redelivered = counter('miyabi_bus_redelivered_total', 'Messages delivered a second time or later', [
      'subject',
    ]);
    this.#deadLettered = counter('miyabi_bus_dead_lettered_total', 'Messages sent to the dead-letter stream', [
      'subject',
      'reason',
    ]);
    this.#gaps = counter('miyabi_bus_sequence_gaps_total', 'Gaps seen in a sender\'s sequence numbers', ['sender']);
    this.#duplicates = counter(
      'miyabi_bus_duplicates_total',
      'Sequence numbers of a sender received again (or late)',
      ['sender'],
    );
    this.#recovery = new Histogram({
      name: 'miyabi_recovery_seconds',
      help: 'From a fault noticed (pane died, heartbeat lost, timeout, NATS reconnect, actor crash) to the work running again: the MTTR KPI',
      labelNames: ['fault'],
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900],
      registers,
    });
    this.#rateRemaining = new Gauge({
      name: 'miyabi_github_rate_limit_remaining',
      help: 'Requests left in the GitHub rate-limit window, per resource (x-ratelimit-remaining of the last answer)',
      labelNames: ['resource'],
      registers,
    });
    this.#rateLimit = new Gauge({
      name: 'miyabi_github_rate_limit_limit',
      help: 'Size of the GitHub rate-limit window, per resource (x-ratelimit-limit of the last answer)',
      labelNames: ['resource'],
      registers,
    });
    new Gauge({
      name: 'miyabi_build_info',
      help: 'Always 1: the orchestra\'s version, the Node.js version, the nats-server\'s version (from the connection\'s server info; "unknown" before the first connection) and whether that server is the embedded one or external',
      labelNames: ['version', 'nodejs', 'nats_server', 'nats_mode'],
      registers,
    });
    for (const fault of FAULTS) this.#recovery.zero({ fault });
    this.#notifications = counter('miyabi_notifications_total', 'Notifications to webhooks, by kind (slack, discord, json) and outcome (sent, failed after its retries)', ['kind', 'outcome']);
    for (const kind of ['slack', 'discord', 'json']) for (const outcome of ['sent', 'failed']) this.#notifications.inc({ kind, outcome }, 0);
  }

  /** The build's facts, as `miyabi_build_info`'s labels (the server's version comes with its connection: natsServerVersion). */
  buildInfo(info: { version: string; nodejs: string; natsMode: 'embedded' | 'external' }): void {
    this.#build = info;
    this.#setBuildInfo();
  }

  /** The version the NATS server announced when the orchestrator connected (again: it may have been upgraded). */
  natsServerVersion(version: string): void {
    this.#natsServer = version;
    this.#setBuildInfo();
  }

  #setBuildInfo(): void {
    if (!this.#build) return;
    const gauge = this.registry.getSingleMetric('miyabi_build_info') as Gauge<'version' | 'nodejs' | 'nats_server' | 'nats_mode'>;
    gauge.reset();
    gauge.set({ version: this.#build.version, nodejs: this.#build.nodejs, nats_server: this.#natsServer, nats_mode: this.#build.natsMode }, 1);
  }

  notification(kind: string, outcome: 'sent' | 'failed'): void {
    this.#notifications.inc({ kind, outcome });
  }

  /** A GitHub answer's rate-limit headers. */
  githubRateLimit(resource: string, remaining: number, limit: number): void {
    const label = { resource: this.#labels.reason.value(resource) };
    this.#rateRemaining.set(label, remaining);
    this.#rateLimit.set(label, limit);
  }

  /** A fault of `actor` noticed at `at` (ms): the first one counts until the actor works again. True when it is that first one. */
  faultNoticed(actor: string, fault: Fault, at: number): boolean {
    if (this.#faults.has(actor)) return false;
    this.#faults.set(actor, { fault, at });
    return true;
  }

  /** `actor` works again: the time since its fault is observed, and the fault returned. Nothing when it had none. */
  recovered(actor: string, at: number): { fault: string; at: number } | undefined {
    const fault = this.#faults.get(actor);
    if (!fault) return undefined;
    this.#faults.delete(actor);
    this.#recovery.observe({ fault: fault.fault }, Math.max(0, at - fault.at) / 1000);
    return fault;
  }

  childRestarted(supervisor: string, child: string): void {
    this.#restarts.inc({ supervisor: this.#labels.supervisor.value(supervisor), child: this.#labels.actor.value(child) });
  }

  /** A child started: its restart counter and its supervisor's escalation counter exist from 0, so `increase()` sees the first. */
  childKnown(supervisor: string, child: string): void {
    this.#supervisorOf.set(this.#labels.actor.value(child), this.#labels.supervisor.value(supervisor));
    this.#restarts.inc({ supervisor: this.#labels.supervisor.value(supervisor), child: this.#labels.actor.value(child) }, 0);
    this.#escalations.inc({ supervisor: this.#labels.supervisor.value(supervisor) }, 0);
  }

  /**
   * A subject (its first three tokens) the orchestra uses: its bus counters exist from 0, the dead
   * letters by every reason. A filter whose first three tokens hold a wildcard names no one label: none.
   */
  busSubjectKnown(subject: string, deadLetterReasons: readonly string[] = Object.values(DeadLetterReasons)): void {
    if (/[*>]/.test(subjectLabel(subject))) return;
    const label = { subject: this.#subject(subject) };
    for (const counter of [this.#published, this.#acked, this.#redelivered]) counter.inc(label, 0);
    for (const reason of deadLetterReasons) this.#deadLettered.inc({ ...label, reason: this.#labels.reason.value(reason) }, 0);
  }

  supervisorEscalated(supervisor: string): void {
    this.#escalations.inc({ supervisor: this.#labels.supervisor.value(supervisor) });
  }

  /** The actor is now in `state`: 1 on its series, 0 on those of the states it was in before. */
  actorState(actor: string, state: string): void {
    const label = this.#labels.actor.value(actor);
    let entry = this.#actorStates.get(label);
    if (!entry) this.#actorStates.set(label, (entry = { current: state, seen: new Set(ACTOR_STATES) }));
    entry.current = state;
    entry.seen.add(state);
    for (const seen of entry.seen) this.#actorState.set({ actor: label, state: seen }, seen === state ? 1 : 0);
  }

  /** The actor is gone for good (removed from a pool, or its tree stopped): its series disappear. */
  actorStopped(actor: string): void {
    const label = this.#labels.actor.value(actor);
    const entry = this.#actorStates.get(label);
    for (const state of entry?.seen ?? []) this.#actorState.remove({ actor: label, state });
    this.#actorStates.delete(label);
    this.#faults.delete(actor);
    const supervisor = this.#supervisorOf.get(label);
    if (supervisor !== undefined) this.#restarts.remove({ supervisor, child: label });
    this.#supervisorOf.delete(label);
  }

  healthy(ok: boolean): void {
    this.#healthy.set(ok ? 1 : 0);
  }

  busPublished(subject: string): void {
    this.#published.inc({ subject: this.#subject(subject) });
  }

  busAcked(subject: string): void {
    this.#acked.inc({ subject: this.#subject(subject) });
  }

  busRedelivered(subject: string): void {
    this.#redelivered.inc({ subject: this.#subject(subject) });
  }

  busDeadLettered(subject: string, reason: string): void {
    this.#deadLettered.inc({ subject: this.#subject(subject), reason: this.#labels.reason.value(reason) });
  }

  busSequenceGap(sender: string): void {
    this.#gaps.inc({ sender: this.#labels.sender.value(sender) });
  }

  busDuplicate(sender: string): void {
    this.#duplicates.inc({ sender: this.#labels.sender.value(sender) });
  }

  /** These metrics as the bus's observer. */
  busObserver(): BusObserver {
    return {
      published: (subject) => this.busPublished(subject),
      acked: (subject) => this.busAcked(subject),
      redelivered: (subject) => this.busRedelivered(subject),
      deadLettered: (subject, reason) => this.busDeadLettered(subject, reason),
      sequenceGap: (sender) => this.busSequenceGap(sender),
      duplicate: (sender) => this.busDuplicate(sender),
      consuming: (subject) => this.busSubjectKnown(subject),
    };
  }

  /** The Prometheus text exposition of every metric in the registry. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  #subject(subject: string): string {
    return this.#labels.subject.value(subjectLabel(subject));
  }
}
