/**
 * The supervisor: OTP semantics over XState actors.
 *
 * - Children start in order, each waiting until the previous is ready; a child that fails to
 *   start makes the supervisor stop those already started (in reverse) and fail with the reason.
 * - A child that exits is restarted or not by its restart type (`shouldRestart`); the strategy
 *   says which siblings go with it (`childrenToRestart`); every restart is counted against the
 *   restart intensity, and one too many makes the supervisor stop all its children and fail,
 *   which its own parent sees as a crash (escalation).
 * - Stop is in reverse start order, each child given its shutdown time and then killed.
 * - Every restart creates a fresh actor: an errored XState actor never runs again. Children are
 *   root actors of their own (no shared system), so a restart never meets a stale systemId.
 *
 * All changes go through one serial mailbox (`enqueue`), so an exit that arrives during a
 * restart waits its turn instead of interleaving; a failed restart comes back through the
 * mailbox as another exit, counted against the intensity, as OTP's `try_again_restart` does.
 */
import { createActor, type AnyActor, type AnyActorRef, type Subscription } from 'xstate';
import { ErrorCodes, MiyabiError, describeError } from '../errors.ts';
import { normalizeChildSpec, SUPERVISOR_LOGIC, type ChildSpec, type NormalizedChildSpec } from './child-spec.ts';
import {
  backoffDelay,
  childrenToRestart,
  shouldRestart,
  withinIntensity,
  type Backoff,
  type ExitReason,
  type Strategy,
} from './restart-policy.ts';
import { fromRuntime, runtimeOf, SHUTDOWN_EVENT, type Runtime, type RuntimeControls } from './runtime-logic.ts';
import { describeActorState, type SupervisorEvent, type SupervisorListener, type TreeNode } from './tree.ts';

/** Defaults, documented in docs/ARCHITECTURE.md: a little more tolerant than OTP's 1 in 5 s,
 * because agent children crash for outside reasons (a CLI exits) more often than Erlang code. */
export const DEFAULT_RESTART_INTENSITY = 5;
export const DEFAULT_RESTART_PERIOD_MS = 10_000;

export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface SupervisorSpec {
  id: string;
  strategy: Strategy;
  restartIntensity?: number;
  restartPeriodMs?: number;
  /** Delay restarts exponentially (with jitter); without it restarts are immediate, as in OTP. */
  backoff?: Backoff;
  children?: ChildSpec[];
  /** Told of every start, exit, restart and escalation, for logs and metrics. Passed to nested supervisors. */
  listener?: SupervisorListener;
  clock?: Clock;
  random?: () => number;
}

/** The restart budget and backoff a tree gives all its supervisors (from the config's `supervisor`). */
export type SupervisorSettings = Pick<SupervisorSpec, 'restartIntensity' | 'restartPeriodMs' | 'backoff'>;

type ChildStatus = 'starting' | 'running' | 'backoff' | 'stopping' | 'stopped';

interface ChildRecord {
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

type Phase = 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

export class Supervisor implements Runtime {
  readonly id: string;
  readonly strategy: Strategy;
  private readonly intensity: { restartIntensity: number; restartPeriodMs: number };
  private readonly backoff: Backoff | undefined;
  private readonly listener: SupervisorListener;
  private readonly clock: Clock;
  private readonly random: () => number;
  /** In start order; `byId` indexes the same records. */
  private readonly children: ChildRecord[] = [];
  private readonly byId = new Map<string, ChildRecord>();
  private restartTimes: number[] = [];
  private phase: Phase = 'starting';
  private mailbox: Promise<void> = Promise.resolve();
  private readonly startedAt: number;

  constructor(
    spec: SupervisorSpec,
    private readonly controls: Pick<RuntimeControls, 'setState' | 'done' | 'fail'>,
  ) {
    this.id = spec.id;
    this.strategy = spec.strategy;
    this.intensity = {
      restartIntensity: spec.restartIntensity ?? DEFAULT_RESTART_INTENSITY,
      restartPeriodMs: spec.restartPeriodMs ?? DEFAULT_RESTART_PERIOD_MS,
    };
    this.backoff = spec.backoff;
    this.listener = spec.listener ?? (() => {});
    this.clock = spec.clock ?? systemClock;
    this.random = spec.random ?? Math.random;
    this.startedAt = this.clock.now();
    const initial = (spec.children ?? []).map(normalizeChildSpec);
    if (spec.strategy === 'simple_one_for_one' && initial.length > 0) {
      // Dynamic pools start empty, as OTP's simple_one_for_one: children come from startChild.
      throw new MiyabiError(ErrorCodes.ChildStartFailed, `supervisor ${spec.id}: a simple_one_for_one pool starts empty`);
    }
    for (const child of initial) this.addRecord(child);
    this.controls.setState('starting', { ready: false });
    this.enqueue(() => this.startInitialChildren());
  }

  // ---- public API (all of it goes through the mailbox) ----

  /** Adds a child at run time and starts it; resolves when it is ready. */
  startChild(spec: ChildSpec): Promise<void> {
    return this.call(async () => {
      this.assertRunning();
      const record = this.addRecord(normalizeChildSpec(spec));
      try {
        await this.startRecord(record);
      } catch (error) {
        this.removeRecord(record);
        throw error;
      }
    });
  }

  /** Stops a child (gracefully, within its shutdown time) and removes it. */
  terminateChild(id: string): Promise<void> {
    return this.call(async () => {
      const record = this.record(id);
      await this.stopRecord(record);
      this.removeRecord(record);
    });
  }

  /** Stops a child and restarts it, fresh, counted as a restart (for a hung child, say). */
  restartChild(id: string): Promise<void> {
    return this.call(async () => {
      this.assertRunning();
      const record = this.record(id);
      await this.stopRecord(record);
      record.restarts += 1;
      await this.startRecord(record);
    });
  }

  childIds(): string[] {
    return this.children.map((child) => child.spec.id);
  }

  /** The running actor of a child, to send it events. Undefined while it is down. */
  childActor(id: string): AnyActorRef | undefined {
    return this.byId.get(id)?.actor;
  }

  /** The supervisor running as child `id`, to manage a nested subtree (a pool, say). */
  childSupervisor(id: string): Supervisor | undefined {
    const runtime = runtimeOf(this.childActor(id));
    return runtime instanceof Supervisor ? runtime : undefined;
  }

  /** The subtree as plain data: every actor, its state, restart count and uptime. */
  inspect(now = this.clock.now()): TreeNode {
    return {
      id: this.id,
      type: 'supervisor',
      strategy: this.strategy,
      status: this.phase,
      state: this.phase,
      restarts: 0,
      uptimeMs: now - this.startedAt,
      children: this.children.map((child) => {
        const nested = runtimeOf(child.actor);
        if (nested instanceof Supervisor) {
          const node = nested.inspect(now);
          return { ...node, id: child.spec.id, restarts: child.restarts, status: child.status };
        }
        return {
          id: child.spec.id,
          type: child.spec.type,
          status: child.status,
          state: child.state,
          restarts: child.restarts,
          uptimeMs: child.startedAt === undefined || child.status !== 'running' ? 0 : now - child.startedAt,
        };
      }),
    };
  }

  // ---- Runtime contract (called by the actor that hosts this supervisor) ----

  shutdown(): void {
    this.enqueue(async () => {
      if (this.phase === 'stopped' || this.phase === 'failed') return;
      this.setPhase('stopping');
      await this.stopAll();
      this.setPhase('stopped');
      this.controls.done({ id: this.id });
    });
  }

  /** Killed by its own parent: kill every child now, no waiting. */
  kill(): void {
    this.phase = 'stopped';
    for (const child of [...this.children].reverse()) this.killRecord(child);
  }

  // ---- internals ----

  private call<T>(operation: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.enqueue(() => operation().then(resolve, reject));
    });
  }

  private enqueue(operation: () => Promise<void> | void): void {
    this.mailbox = this.mailbox.then(operation).catch((error: unknown) => this.failSupervisor(error));
  }

  private assertRunning(): void {
    if (this.phase !== 'running') {
      throw new MiyabiError(ErrorCodes.SupervisorNotRunning, `supervisor ${this.id} is ${this.phase}`);
    }
  }

  private record(id: string): ChildRecord {
    const record = this.byId.get(id);
    if (!record) throw new MiyabiError(ErrorCodes.UnknownChild, `supervisor ${this.id} has no child ${id}`);
    return record;
  }

  private addRecord(spec: NormalizedChildSpec): ChildRecord {
    if (this.byId.has(spec.id)) {
      throw new MiyabiError(ErrorCodes.DuplicateChild, `supervisor ${this.id} already has a child ${spec.id}`);
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
    this.children.push(record);
    this.byId.set(spec.id, record);
    return record;
  }

  private removeRecord(record: ChildRecord): void {
    if (this.byId.get(record.spec.id) !== record) return;
    this.byId.delete(record.spec.id);
    this.children.splice(this.children.indexOf(record), 1);
  }

  private setPhase(phase: Phase): void {
    this.phase = phase;
    this.controls.setState(phase, { ready: phase === 'running' });
  }

  private async startInitialChildren(): Promise<void> {
    for (const record of [...this.children]) {
      try {
        await this.startRecord(record);
      } catch (error) {
        // Roll back: stop those already started, newest first, then fail with the reason.
        this.setPhase('stopping');
        await this.stopAll();
        const failure = new MiyabiError(
          ErrorCodes.ChildStartFailed,
          `supervisor ${this.id}: child ${record.spec.id} failed to start: ${describeError(error)}`,
          { cause: error },
        );
        this.setPhase('failed');
        this.controls.fail(failure);
        return;
      }
    }
    this.setPhase('running');
  }

  /** Starts a fresh actor for the record and waits until it is ready. */
  private startRecord(record: ChildRecord): Promise<void> {
    const { spec } = record;
    record.incarnation += 1;
    const incarnation = record.incarnation;
    record.status = 'starting';
    record.lastExit = undefined;
    const ready = new Promise<void>((resolve, reject) => {
      record.readyWaiter = { resolve, reject };
    });
    const listener = spec.type === 'supervisor' ? { listener: this.listener } : {};
    const input =
      spec.type === 'supervisor' && spec.input && typeof spec.input === 'object'
        ? { ...listener, ...(spec.input as object) }
        : spec.input;
    const actor = createActor(spec.logic, { input, id: spec.id });
    record.actor = actor;
    record.subscription = actor.subscribe({
      next: (snapshot) => this.onChildSnapshot(record, incarnation, snapshot),
      error: (error) => this.onChildEnded(record, incarnation, classifyError(error)),
      complete: () => {
        const status = actor.getSnapshot().status;
        this.onChildEnded(record, incarnation, status === 'done' ? { kind: 'normal' } : { kind: 'killed' });
      },
    });
    let timer: unknown;
    if (Number.isFinite(spec.startTimeoutMs)) {
      timer = this.clock.setTimeout(() => {
        record.readyWaiter?.reject(
          new MiyabiError(ErrorCodes.ChildStartTimeout, `child ${spec.id} not ready after ${spec.startTimeoutMs} ms`),
        );
      }, spec.startTimeoutMs);
    }
    actor.start();
    this.onChildSnapshot(record, incarnation, actor.getSnapshot());
    return ready.then(
      () => {
        this.clock.clearTimeout(timer);
        record.readyWaiter = undefined;
        record.status = 'running';
        record.startedAt = this.clock.now();
        this.listener({ type: 'child.started', supervisor: this.id, child: spec.id, restarts: record.restarts });
      },
      async (error: unknown) => {
        this.clock.clearTimeout(timer);
        record.readyWaiter = undefined;
        this.listener({ type: 'child.start_failed', supervisor: this.id, child: spec.id, error });
        await this.stopRecord(record);
        throw error;
      },
    );
  }

  private onChildSnapshot(record: ChildRecord, incarnation: number, snapshot: any): void {
    if (incarnation !== record.incarnation || snapshot.status !== 'active') return;
    const state = describeActorState(snapshot);
    if (state !== record.state) {
      record.state = state;
      this.listener({ type: 'child.state', supervisor: this.id, child: record.spec.id, state });
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

  private onChildEnded(record: ChildRecord, incarnation: number, exit: ExitReason): void {
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
    this.listener({ type: 'child.exited', supervisor: this.id, child: record.spec.id, exit });
    this.enqueue(() => this.handleExit(record, exit));
  }

  private async handleExit(record: ChildRecord, exit: ExitReason): Promise<void> {
    if (this.phase !== 'running' || this.byId.get(record.spec.id) !== record || record.actor !== undefined) return;
    if (!shouldRestart(record.spec.restart, exit)) {
      if (record.spec.restart === 'temporary' || this.strategy === 'simple_one_for_one') this.removeRecord(record);
      return;
    }
    const budget = withinIntensity(this.restartTimes, this.clock.now(), this.intensity);
    this.restartTimes = budget.restartTimes;
    if (!budget.ok) {
      await this.escalate(record, exit);
      return;
    }
    const groupIds = new Set(childrenToRestart(this.strategy, this.childIds(), record.spec.id));
    const group = this.children.filter((child) => groupIds.has(child.spec.id));
    // Siblings go down newest first before the group comes back up oldest first.
    for (const sibling of [...group].reverse()) {
      if (sibling !== record) await this.stopRecord(sibling);
    }
    const restartGroup = group.filter((child) => child === record || child.spec.restart !== 'temporary');
    for (const child of group) if (!restartGroup.includes(child)) this.removeRecord(child);
    const delayMs = this.backoff ? backoffDelay(this.restartTimes.length - 1, this.backoff, this.random) : 0;
    for (const child of restartGroup) {
      child.restarts += 1;
      this.listener({ type: 'child.restarting', supervisor: this.id, child: child.spec.id, restarts: child.restarts, delayMs });
    }
    if (delayMs > 0) {
      for (const child of restartGroup) child.status = 'backoff';
      const timer = this.clock.setTimeout(() => this.enqueue(() => this.restartGroup(restartGroup, timer)), delayMs);
      record.backoffTimer = timer;
      return;
    }
    await this.restartGroup(restartGroup, undefined);
  }

  private async restartGroup(group: ChildRecord[], timer: unknown): Promise<void> {
    for (const child of group) if (child.backoffTimer === timer) child.backoffTimer = undefined;
    if (this.phase !== 'running') return;
    for (const child of group) {
      if (this.byId.get(child.spec.id) !== child || child.actor !== undefined) continue;
      try {
        await this.startRecord(child);
      } catch (error) {
        // A failed restart is one more exit of the child, counted against the intensity.
        const exit: ExitReason = { kind: 'crash', error };
        child.lastExit = exit;
        child.status = 'stopped';
        this.enqueue(() => this.handleExit(child, exit));
        return;
      }
    }
  }

  private async escalate(record: ChildRecord, exit: ExitReason): Promise<void> {
    const reason = `restart intensity exceeded (${this.intensity.restartIntensity} in ${this.intensity.restartPeriodMs} ms); last exit: ${record.spec.id} ${exitText(exit)}`;
    this.listener({ type: 'supervisor.escalated', supervisor: this.id, reason });
    this.setPhase('stopping');
    await this.stopAll();
    this.setPhase('failed');
    this.controls.fail(
      new MiyabiError(ErrorCodes.SupervisorEscalated, `supervisor ${this.id}: ${reason}`, {
        cause: exit.kind === 'crash' || exit.kind === 'killed' ? exit.error : undefined,
      }),
    );
  }

  private async failSupervisor(error: unknown): Promise<void> {
    if (this.phase === 'failed' || this.phase === 'stopped') return;
    this.setPhase('stopping');
    await this.stopAll().catch(() => undefined);
    this.setPhase('failed');
    this.controls.fail(error);
  }

  /** Reverse start order; a dynamic pool stops its children all at once, as OTP does. */
  private async stopAll(): Promise<void> {
    if (this.strategy === 'simple_one_for_one') {
      await Promise.all(this.children.map((child) => this.stopRecord(child)));
      return;
    }
    for (const child of [...this.children].reverse()) await this.stopRecord(child);
  }

  /** Graceful stop: `supervisor.shutdown`, then the kill after the child's shutdown time. */
  private async stopRecord(record: ChildRecord): Promise<void> {
    if (record.backoffTimer !== undefined) {
      this.clock.clearTimeout(record.backoffTimer);
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
        const timer = this.clock.setTimeout(() => {
          if (record.actor === actor) {
            this.listener({ type: 'child.killed', supervisor: this.id, child: record.spec.id, afterMs: shutdown });
            actor.stop();
          }
        }, shutdown);
        void ended.then(() => this.clock.clearTimeout(timer));
      }
    }
    await ended;
    record.stopWaiter = undefined;
    record.status = 'stopped';
    this.listener({ type: 'child.exited', supervisor: this.id, child: record.spec.id, exit: record.lastExit ?? { kind: 'shutdown' } });
  }

  private killRecord(record: ChildRecord): void {
    if (record.backoffTimer !== undefined) this.clock.clearTimeout(record.backoffTimer);
    const actor = record.actor;
    record.incarnation += 1; // whatever the dying actor reports now is stale
    record.actor = undefined;
    record.status = 'stopped';
    actor?.stop();
  }
}

function classifyError(error: unknown): ExitReason {
  if (error instanceof MiyabiError && error.code === ErrorCodes.ProcessKilled) return { kind: 'killed', error };
  return { kind: 'crash', error };
}

function exitText(exit: ExitReason): string {
  return exit.kind === 'crash' || exit.kind === 'killed'
    ? `${exit.kind}: ${describeError(exit.error)}`
    : exit.kind;
}

/** Actor logic for a supervisor, so supervisors nest as children of supervisors. */
export const supervisorLogic = Object.assign(
  fromRuntime<SupervisorSpec>((spec, controls) => new Supervisor(spec, controls)),
  { [SUPERVISOR_LOGIC]: true },
);

/** The Supervisor behind an actor running `supervisorLogic`. */
export function supervisorOf(actor: AnyActorRef | undefined): Supervisor | undefined {
  const runtime = runtimeOf(actor);
  return runtime instanceof Supervisor ? runtime : undefined;
}

export function supervisorChild(spec: SupervisorSpec & Pick<ChildSpec, 'restart' | 'shutdown'>): ChildSpec<typeof supervisorLogic> {
  const { restart, shutdown, ...input } = spec;
  return { id: spec.id, logic: supervisorLogic, input, type: 'supervisor', restart, shutdown };
}
