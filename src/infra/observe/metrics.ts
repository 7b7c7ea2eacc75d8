/**
 * The orchestra's Prometheus metrics, on a registry of its own (never prom-client's global one,
 * so tests and several orchestras in one process do not collide), with the default process
 * metrics. Callers use plain methods named after what happened; label values are bounded:
 * subjects are cut to their first three tokens and each label keeps at most `maxLabelValues`
 * distinct values, later ones counted under "other".
 *
 * Other modules may register their own metrics on `registry`.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { BusObserver } from '../bus/observer.ts';

export const OTHER_LABEL = 'other';

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
  readonly #actorStates = new Map<string, string>();

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
      help: 'Current state of each actor: 1 on the series of its current state',
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
  }

  childRestarted(supervisor: string, child: string): void {
    this.#restarts.inc({ supervisor: this.#labels.supervisor.value(supervisor), child: this.#labels.actor.value(child) });
  }

  supervisorEscalated(supervisor: string): void {
    this.#escalations.inc({ supervisor: this.#labels.supervisor.value(supervisor) });
  }

  /** The actor is now in `state`: its previous state's series is removed. */
  actorState(actor: string, state: string): void {
    const label = this.#labels.actor.value(actor);
    const previous = this.#actorStates.get(label);
    if (previous !== undefined && previous !== state) this.#actorState.remove({ actor: label, state: previous });
    this.#actorStates.set(label, state);
    this.#actorState.set({ actor: label, state }, 1);
  }

  /** The actor is gone for good (removed from a pool): its series disappears. */
  actorStopped(actor: string): void {
    const label = this.#labels.actor.value(actor);
    const previous = this.#actorStates.get(label);
    if (previous !== undefined) this.#actorState.remove({ actor: label, state: previous });
    this.#actorStates.delete(label);
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
