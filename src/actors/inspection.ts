/**
 * The inspection hub: what the console sees of the actors. XState's inspection events (the
 * `inspect` option every supervisor passes to its children's `createActor`) and the workflow's
 * lifecycle steps (issue lifecycles are stepped with `transition()`, not run as actors) become
 * compact records:
 *
 *   { kind: 'snapshot', seq, time, actor: 'root/agents/pool.codegen/codegen-1', machine: 'agent-pane',
 *     event: 'agent.heartbeat', state: 'alive.ready.busy', value: { alive: { ready: 'busy' } }, status: 'active' }
 *   { kind: 'issue', seq, time, actor: 'issue/7', machine: 'issue-lifecycle', event: 'stage.result',
 *     from: 'running', state: 'queued', issue: { number: 7, stage: 'review', attempt: 1, round: 0, agent: 'codegen-1' }, context: {…} }
 *
 * An actor's record is kept only when its state (or status) changed, so a heartbeat that lands an
 * agent where it was costs nothing downstream. Each record goes to the live listeners (the
 * console's /api/events) and to the MIYABI_INSPECT stream through a bounded, fire-and-forget
 * publisher (src/infra/bus/inspection-stream.ts): `miyabi.inspect.actor` for actors,
 * `miyabi.inspect.issue.<n>` for an issue. Every string in a record is redacted (secrets by
 * value) before it leaves: on the bus, and to a browser.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { InspectionEvent } from 'xstate';
import type { OrchestraConfig } from '../config/schema.ts';
import { describeError } from '../errors.ts';
import { BoundedPublisher, ensureInspectionStream, INSPECT_STREAM } from '../infra/bus/inspection-stream.ts';
import { noRedaction, redactDeep, type Redact } from '../infra/observe/redact.ts';
import type { LifecycleEvent } from '../machines/issue-lifecycle.ts';
import { describeActorState, type ChildInspector } from '../supervisor/index.ts';
import type { LifecycleSnapshot } from '../workflow/engine.ts';
import type { IssueRecord } from '../workflow/record.ts';
import { replicasOf } from '../config/sections/cluster.ts';

export interface InspectionRecord {
  kind: 'actor' | 'snapshot' | 'issue';
  /** This process's order of records. */
  seq: number;
  /** When it happened (ms since the epoch). */
  time: number;
  /** The actor's path in the tree (`root/core/workflow/dag`, an invoked actor under its parent's), or `issue/<n>`. */
  actor: string;
  /** The machine's id, for a machine actor. */
  machine?: string;
  /** The event that led here (`@xstate.actor` when the actor was created). */
  event: string;
  /** The state after, as `status` shows it (`alive.ready.busy`). */
  state: string;
  /** The machine's state value after, for highlighting a diagram. */
  value?: unknown;
  status?: string;
  /** An issue's state before the step. */
  from?: string;
  issue?: { number: number; stage?: string; role?: string; attempt: number; round: number; agent?: string };
  /** An issue lifecycle's context after the step. */
  context?: unknown;
}

export type InspectionListener = (record: InspectionRecord, json: string) => void;

export const INSPECT_SUBJECTS = {
  actors: 'miyabi.inspect.actor',
  issue: (number: number) => `miyabi.inspect.issue.${number}`,
} as const;

export class InspectionHub {
  readonly publisher: BoundedPublisher;
  readonly stream = INSPECT_STREAM;
  readonly #listeners = new Set<InspectionListener>();
  /** Each actor's last state and status: a record is made only when they change. */
  readonly #last = new Map<string, string>();
  readonly #redact: Redact;
  readonly #config: OrchestraConfig;
  readonly #logger: Logger;
  readonly #dropped: Counter<'where'> | undefined;
  #seq = 0;
  #connection: NatsConnection | undefined;

  constructor(options: { config: OrchestraConfig; logger: Logger; redact?: Redact; registry?: Registry }) {
    this.#config = options.config;
    this.#logger = options.logger;
    this.#redact = options.redact ?? noRedaction;
    this.#dropped = options.registry
      ? new Counter({
          name: 'miyabi_inspection_dropped_total',
          help: 'Inspection events dropped: `publish` when the queue to the history stream was full, `client` when a slow console client fell behind',
          labelNames: ['where'],
          registers: [options.registry],
        })
      : undefined;
    this.#dropped?.inc({ where: 'publish' }, 0);
    this.#dropped?.inc({ where: 'client' }, 0);
    this.publisher = new BoundedPublisher({
      capacity: options.config.console.publishBuffer,
      onDrop: () => this.#dropped?.inc({ where: 'publish' }),
      onError: (error) => this.#logger.warn({ err: describeError(error) }, 'inspection events not published'),
    });
  }

  get enabled(): boolean {
    return this.#config.console.enabled;
  }

  /** Counts an event a slow console client missed. */
  clientDropped(count: number): void {
    this.#dropped?.inc({ where: 'client' }, count);
  }

  /** Live records from now on, with their redacted JSON; returns the unsubscribe. */
  subscribe(listener: InspectionListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The bus is up: make sure the history stream exists, then publish to it (records queued meanwhile go first). */
  async connect(nc: NatsConnection): Promise<void> {
    if (!this.enabled) return;
    const { history } = this.#config.console;
    await ensureInspectionStream(await jetstreamManager(nc), { maxAgeMs: history.maxAgeMs, maxBytes: history.maxBytes, storage: this.#config.bus.storage, replicas: replicasOf(this.#config) }, this.#logger);
    this.#connection = nc;
    this.publisher.attach((subject, data) => nc.publish(subject, data));
  }

  /** That connection is going away: records wait (bounded) for the next one. */
  disconnect(nc: NatsConnection | undefined): void {
    if (nc !== undefined && nc !== this.#connection) return;
    this.#connection = undefined;
    this.publisher.attach(undefined);
  }

  /** For every child of the tree (the supervisors' `inspect`). */
  readonly inspector: ChildInspector = (path, event) => {
    if (event.type !== '@xstate.snapshot' && event.type !== '@xstate.actor') return;
    if (!this.enabled) return;
    const ref = event.actorRef as { sessionId?: string; id?: string; logic?: { id?: unknown; root?: unknown } };
    const actor = ref.sessionId === event.rootId ? path : `${path}/${ref.id ?? ref.sessionId}`;
    const machine = ref.logic?.root !== undefined && typeof ref.logic.id === 'string' ? ref.logic.id : undefined;
    if (event.type === '@xstate.actor') {
      this.#last.delete(actor);
      return this.#emit({ kind: 'actor', seq: 0, time: Date.now(), actor, ...(machine ? { machine } : {}), event: '@xstate.actor', state: 'created' }, INSPECT_SUBJECTS.actors);
    }
    const snapshot = event.snapshot as { value?: unknown; status?: string };
    const state = describeActorState(snapshot);
    const key = `${state}|${snapshot.status}`;
    if (this.#last.get(actor) === key) return;
    if (snapshot.status === 'active') this.#last.set(actor, key);
    else this.#last.delete(actor);
    this.#emit(
      {
        kind: 'snapshot',
        seq: 0,
        time: Date.now(),
        actor,
        ...(machine ? { machine } : {}),
        event: eventType(event),
        state,
        ...(snapshot.value === undefined ? {} : { value: snapshot.value }),
        ...(snapshot.status === undefined ? {} : { status: snapshot.status }),
      },
      INSPECT_SUBJECTS.actors,
    );
  };

  /** One step of an issue's lifecycle (the workflow engine's `onTransition`). */
  issueTransition(record: IssueRecord, previous: LifecycleSnapshot, next: LifecycleSnapshot, event: LifecycleEvent): void {
    if (!this.enabled) return;
    const { context } = next;
    const stage = context.route[context.stageIndex];
    const agent = (event as { outcome?: { agentId?: string } }).outcome?.agentId ?? context.history.at(-1)?.agentId;
    this.#emit(
      {
        kind: 'issue',
        seq: 0,
        time: Date.now(),
        actor: `issue/${record.number}`,
        machine: 'issue-lifecycle',
        event: event.type,
        from: String(previous.value),
        state: String(next.value),
        value: next.value,
        issue: {
          number: record.number,
          ...(stage ? { stage: stage.stage, role: stage.role } : {}),
          attempt: context.attempt,
          round: context.round,
          ...(agent === undefined ? {} : { agent }),
        },
        context,
      },
      INSPECT_SUBJECTS.issue(record.number),
    );
  }

  #emit(record: InspectionRecord, subject: string): void {
    this.#seq += 1;
    record.seq = this.#seq;
    const safe = this.#redact === noRedaction ? record : redactDeep(record, this.#redact);
    if (this.#listeners.size > 0) {
      const json = JSON.stringify(safe);
      for (const listener of this.#listeners) listener(safe, json);
    }
    this.publisher.offer(subject, safe);
  }
}

function eventType(event: InspectionEvent): string {
  const inner = (event as { event?: { type?: unknown } }).event;
  return typeof inner?.type === 'string' ? inner.type : 'unknown';
}
