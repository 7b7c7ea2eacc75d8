/**
 * A supervisor's children and their start/stop ordering (the "start and stop children" section
 * of OTP's supervisor.erl): the table of child records in start order, starting one child as a
 * fresh actor and waiting until it is ready, stopping one within its shutdown time, stopping all
 * newest first, killing all. What to do when a child ends on its own is not decided here: that
 * is handed to the supervisor (`onExit`), which runs it through its mailbox.
 *
 * Every start creates a fresh actor: an errored XState actor never runs again. Children are root
 * actors of their own (no shared system), so a restart never meets a stale systemId. A record's
 * `incarnation` tells the reports of its current actor from those of a previous one.
 */
import { createActor, type AnyActor, type InspectionEvent, type Subscription } from 'xstate';
import { ErrorCodes, MiyabiError, describeError } from '../errors.ts';
import type { NormalizedChildSpec } from './child-spec.ts';
import type { Clock } from './clock.ts';
import type { ExitReason, Strategy } from './restart-policy.ts';
import { SHUTDOWN_EVENT } from './runtime-logic.ts';
import { describeActorState, type ChildInspector, type SupervisorListener } from './tree.ts';

export type ChildStatus = 'starting' | 'running' | 'backoff' | 'stopping' | 'stopped';

export interface ChildRecord {
  spec: NormalizedChildSpec;
  actor: AnyActor | undefined;
  subscription: Subscription | undefined;
  incarnation: number;
  status: ChildStatus;
  restarts: number;
  startedAt: number | undefined;
  state: string;
  lastExit: ExitReason | undefined;
  /** Set while this supervisor stops the child on purpose; resolved when it has ended. */
  stopWaiter: (() => void) | undefined;
  /** Set while the supervisor waits for the child to become ready. */
  readyWaiter: { resolve: () => void; reject: (error: unknown) => void } | undefined;
  backoffTimer: unknown;
}

export interface ChildrenOptions {
  /** The supervisor's id, for its events and errors. */
  supervisorId: string;
  strategy: Strategy;
  clock: Clock;
  listener: SupervisorListener;
  /** The supervisor's path in the tree; a child's is `<path>/<child id>`. */
  path: string;
  inspect?: ChildInspector;
  /** A running child ended by itself (not stopped by the supervisor, not while starting). */
  onExit: (record: ChildRecord, exit: ExitReason) => void;
}

export class Children {
  /** In start order; `byId` indexes the same records. */
  readonly #list: ChildRecord[] = [];
  readonly #byId = new Map<string, ChildRecord>();

  constructor(private readonly options: ChildrenOptions) {}

  /** In start order. */
  get all(): readonly ChildRecord[] {
    return this.#list;
  }

  ids(): string[] {
    return this.#list.map((child) => child.spec.id);
  }

  get(id: string): ChildRecord | undefined {
    return this.#byId.get(id);
  }

  /** Whether `record` is still the child of its id (not removed, not replaced). */
  has(record: ChildRecord): boolean {
    return this.#byId.get(record.spec.id) === record;
  }

  record(id: string): ChildRecord {
    const record = this.#byId.get(id);
    if (!record) throw new MiyabiError(ErrorCodes.UnknownChild, `supervisor ${this.options.supervisorId} has no child ${id}`);
    return record;
  }

  add(spec: NormalizedChildSpec): ChildRecord {
    if (this.#byId.has(spec.id)) {
      throw new MiyabiError(ErrorCodes.DuplicateChild, `supervisor ${this.options.supervisorId} already has a child ${spec.id}`);
    }
    const record: ChildRecord = {
      spec,
      actor: undefined,
      subscription: undefined,
      incarnation: 0,
      status: 'stopped',
      restarts: 0,
      startedAt: undefined,
      state: 'stopped',
      lastExit: undefined,
      stopWaiter: undefined,
      readyWaiter: undefined,
      backoffTimer: undefined,
    };
    this.#list.push(record);
    this.#byId.set(spec.id, record);
    return record;
  }

  remove(record: ChildRecord): void {
    if (this.#byId.get(record.spec.id) !== record) return;
    this.#byId.delete(record.spec.id);
    this.#list.splice(this.#list.indexOf(record), 1);
  }

  /** Starts a fresh actor for the record and waits until it is ready. */
  start(record: ChildRecord): Promise<void> {
    const { spec } = record;
    const { clock, listener: events } = this.options;
    record.incarnation += 1;
    const incarnation = record.incarnation;
    record.status = 'starting';
    record.lastExit = undefined;
    const ready = new Promise<void>((resolve, reject) => {
      record.readyWaiter = { resolve, reject };
    });
    const path = `${this.options.path}/${spec.id}`;
    const { inspect } = this.options;
    const inherited = spec.type === 'supervisor' ? { listener: events, path, ...(inspect ? { inspect } : {}) } : {};
    const input =
      spec.type === 'supervisor' && spec.input && typeof spec.input === 'object'
        ? { ...inherited, ...(spec.input as object) }
        : spec.input;
    const actor = createActor(spec.logic, { input, id: spec.id, ...(inspect ? { inspect: (event: InspectionEvent) => inspect(path, event) } : {}) });
    record.actor = actor;
    record.subscription = actor.subscribe({
      next: (snapshot) => this.#onSnapshot(record, incarnation, snapshot),
      error: (error) => this.#onEnded(record, incarnation, classifyError(error)),
      complete: () => {
        const status = actor.getSnapshot().status;
        this.#onEnded(record, incarnation, status === 'done' ? { kind: 'normal' } : { kind: 'killed' });
      },
    });
    let timer: unknown;
    if (Number.isFinite(spec.startTimeoutMs)) {
      timer = clock.setTimeout(() => {
        record.readyWaiter?.reject(
          new MiyabiError(ErrorCodes.ChildStartTimeout, `child ${spec.id} not ready after ${spec.startTimeoutMs} ms`),
        );
      }, spec.startTimeoutMs);
    }
    actor.start();
    this.#onSnapshot(record, incarnation, actor.getSnapshot());
    return ready.then(
      () => {
        clock.clearTimeout(timer);
        record.readyWaiter = undefined;
        record.status = 'running';
        record.startedAt = clock.now();
        events({ type: 'child.started', supervisor: this.options.supervisorId, child: spec.id, restarts: record.restarts });
      },
      async (error: unknown) => {
        clock.clearTimeout(timer);
        record.readyWaiter = undefined;
        events({ type: 'child.start_failed', supervisor: this.options.supervisorId, child: spec.id, error });
        await this.stop(record);
        throw error;
      },
    );
  }

  /** Reverse start order; a dynamic pool stops its children all at once, as OTP does. */
  async stopAll(): Promise<void> {
    if (this.options.strategy === 'simple_one_for_one') {
      await Promise.all(this.#list.map((child) => this.stop(child)));
      return;
    }
    for (const child of [...this.#list].reverse()) await this.stop(child);
  }

  /** Graceful stop: `supervisor.shutdown`, then the kill after the child's shutdown time. */
  async stop(record: ChildRecord): Promise<void> {
    const { clock, listener, supervisorId } = this.options;
    if (record.backoffTimer !== undefined) {
      clock.clearTimeout(record.backoffTimer);
      record.backoffTimer = undefined;
    }
    const actor = record.actor;
    if (!actor) {
      record.status = 'stopped';
      return;
    }
    record.status = 'stopping';
    const ended = new Promise<void>((resolve) => {
      record.stopWaiter = resolve;
    });
    const { shutdown } = record.spec;
    if (shutdown === 'brutal_kill') {
      actor.stop();
    } else {
      actor.send(SHUTDOWN_EVENT);
      if (shutdown !== 'infinity') {
        const timer = clock.setTimeout(() => {
          if (record.actor === actor) {
            listener({ type: 'child.killed', supervisor: supervisorId, child: record.spec.id, afterMs: shutdown });
            actor.stop();
          }
        }, shutdown);
        void ended.then(() => clock.clearTimeout(timer));
      }
    }
    await ended;
    record.stopWaiter = undefined;
    record.status = 'stopped';
    listener({ type: 'child.exited', supervisor: supervisorId, child: record.spec.id, exit: record.lastExit ?? { kind: 'shutdown' } });
  }

  /** Kills every child now, newest first, no waiting. */
  killAll(): void {
    for (const child of [...this.#list].reverse()) this.#kill(child);
  }

  #kill(record: ChildRecord): void {
    if (record.backoffTimer !== undefined) this.options.clock.clearTimeout(record.backoffTimer);
    const actor = record.actor;
    record.incarnation += 1; // whatever the dying actor reports now is stale
    record.actor = undefined;
    record.status = 'stopped';
    actor?.stop();
  }

  #onSnapshot(record: ChildRecord, incarnation: number, snapshot: any): void {
    if (incarnation !== record.incarnation || snapshot.status !== 'active') return;
    const state = describeActorState(snapshot);
    if (state !== record.state) {
      record.state = state;
      this.options.listener({ type: 'child.state', supervisor: this.options.supervisorId, child: record.spec.id, state });
    }
    if (record.readyWaiter) {
      let ready = false;
      try {
        ready = record.spec.isReady(snapshot);
      } catch (error) {
        record.readyWaiter.reject(error);
        return;
      }
      if (ready) record.readyWaiter.resolve();
    }
  }

  #onEnded(record: ChildRecord, incarnation: number, exit: ExitReason): void {
    if (incarnation !== record.incarnation || record.actor === undefined) return;
    record.actor = undefined;
    record.subscription = undefined;
    record.state = 'stopped';
    if (record.stopWaiter) {
      // We asked for this stop: a clean end of a requested shutdown is `shutdown`, not `normal`.
      record.lastExit = exit.kind === 'normal' ? { kind: 'shutdown' } : exit;
      record.stopWaiter();
      return;
    }
    record.lastExit = exit;
    if (record.readyWaiter) {
      record.readyWaiter.reject(
        new MiyabiError(ErrorCodes.ChildStartFailed, `child ${record.spec.id} ended before it was ready (${exitText(exit)})`, {
          cause: exit.kind === 'crash' || exit.kind === 'killed' ? exit.error : undefined,
        }),
      );
      return;
    }
    record.status = 'stopped';
    this.options.listener({ type: 'child.exited', supervisor: this.options.supervisorId, child: record.spec.id, exit });
    this.options.onExit(record, exit);
  }
}

function classifyError(error: unknown): ExitReason {
  if (error instanceof MiyabiError && error.code === ErrorCodes.ProcessKilled) return { kind: 'killed', error };
  return { kind: 'crash', error };
}

export function exitText(exit: ExitReason): string {
  return exit.kind === 'crash' || exit.kind === 'killed'
    ? `${exit.kind}: ${describeError(exit.error)}`
    : exit.kind;
}
