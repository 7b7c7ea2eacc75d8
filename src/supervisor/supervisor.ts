/**
 * The supervisor: OTP semantics over XState actors, and its mailbox.
 *
 * - Children start in order, each waiting until the previous is ready; a child that fails to
 *   start makes the supervisor stop those already started (in reverse) and fail with the reason.
 * - A child that exits is restarted or not by its restart type; the strategy says which siblings
 *   go with it; every restart is counted against the restart intensity, and one too many makes
 *   the supervisor stop all its children and fail, which its own parent sees as a crash
 *   (escalation). That is restart handling, in restarts.ts.
 * - Stop is in reverse start order, each child given its shutdown time and then killed. Starting
 *   and stopping children, in order, is children.ts.
 *
 * This file is the mailbox that ties them together: every change — an exit, a restart,
 * `startChild`, `terminateChild`, `restartChild`, shutdown — goes through one serial queue
 * (`enqueue`), so an exit that arrives during a restart waits its turn instead of interleaving;
 * a failed restart comes back through the mailbox as another exit, as OTP's
 * `try_again_restart` does. Around it: the public API and the Runtime contract with the actor
 * that hosts the supervisor.
 */
import type { AnyActorRef } from 'xstate';
import { ErrorCodes, MiyabiError, describeError } from '../errors.ts';
import { normalizeChildSpec, SUPERVISOR_LOGIC, type ChildSpec } from './child-spec.ts';
import { Children } from './children.ts';
import { systemClock, type Clock } from './clock.ts';
import { Restarts } from './restarts.ts';
import type { Backoff, Strategy } from './restart-policy.ts';
import { fromRuntime, runtimeOf, type Runtime, type RuntimeControls } from './runtime-logic.ts';
import type { ChildInspector, SupervisorListener, TreeNode } from './tree.ts';

/** Defaults, documented in docs/ARCHITECTURE.md: a little more tolerant than OTP's 1 in 5 s,
 * because agent children crash for outside reasons (a CLI exits) more often than Erlang code. */
export const DEFAULT_RESTART_INTENSITY = 5;
export const DEFAULT_RESTART_PERIOD_MS = 10_000;

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
  /** XState's `inspect` for every child actor, told the child's path. Passed to nested supervisors. */
  inspect?: ChildInspector;
  /** This supervisor's path in the tree (`root/core`); its id when it is the root. */
  path?: string;
  clock?: Clock;
  random?: () => number;
}

/** The restart budget and backoff a tree gives all its supervisors (from the config's `supervisor`). */
export type SupervisorSettings = Pick<SupervisorSpec, 'restartIntensity' | 'restartPeriodMs' | 'backoff'>;

type Phase = 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

export class Supervisor implements Runtime {
  readonly id: string;
  readonly strategy: Strategy;
  private readonly clock: Clock;
  private readonly children: Children;
  private readonly restarts: Restarts;
  private phase: Phase = 'starting';
  private mailbox: Promise<void> = Promise.resolve();
  private readonly startedAt: number;

  constructor(
    spec: SupervisorSpec,
    private readonly controls: Pick<RuntimeControls, 'setState' | 'done' | 'fail'>,
  ) {
    this.id = spec.id;
    this.strategy = spec.strategy;
    const listener = spec.listener ?? (() => {});
    this.clock = spec.clock ?? systemClock;
    this.startedAt = this.clock.now();
    this.children = new Children({
      supervisorId: spec.id,
      strategy: spec.strategy,
      clock: this.clock,
      listener,
      path: spec.path ?? spec.id,
      ...(spec.inspect ? { inspect: spec.inspect } : {}),
      onExit: (record, exit) => this.enqueue(() => this.restarts.handleExit(record, exit)),
    });
    this.restarts = new Restarts({
      supervisorId: spec.id,
      strategy: spec.strategy,
      intensity: {
        restartIntensity: spec.restartIntensity ?? DEFAULT_RESTART_INTENSITY,
        restartPeriodMs: spec.restartPeriodMs ?? DEFAULT_RESTART_PERIOD_MS,
      },
      backoff: spec.backoff,
      clock: this.clock,
      random: spec.random ?? Math.random,
      listener,
      children: this.children,
      isRunning: () => this.phase === 'running',
      enqueue: (operation) => this.enqueue(operation),
      fail: (error) => this.stopAndFail(error),
    });
    const initial = (spec.children ?? []).map(normalizeChildSpec);
    if (spec.strategy === 'simple_one_for_one' && initial.length > 0) {
      // Dynamic pools start empty, as OTP's simple_one_for_one: children come from startChild.
      throw new MiyabiError(ErrorCodes.ChildStartFailed, `supervisor ${spec.id}: a simple_one_for_one pool starts empty`);
    }
    for (const child of initial) this.children.add(child);
    this.controls.setState('starting', { ready: false });
    this.enqueue(() => this.startInitialChildren());
  }

  // ---- public API (all of it goes through the mailbox) ----

  /** Adds a child at run time and starts it; resolves when it is ready. */
  startChild(spec: ChildSpec): Promise<void> {
    return this.call(async () => {
      this.assertRunning();
      const record = this.children.add(normalizeChildSpec(spec));
      try {
        await this.children.start(record);
      } catch (error) {
        this.children.remove(record);
        throw error;
      }
    });
  }

  /** Stops a child (gracefully, within its shutdown time) and removes it. */
  terminateChild(id: string): Promise<void> {
    return this.call(async () => {
      const record = this.children.record(id);
      await this.children.stop(record);
      this.children.remove(record);
    });
  }

  /** Stops a child and restarts it, fresh, counted as a restart (for a hung child, say). */
  restartChild(id: string): Promise<void> {
    return this.call(async () => {
      this.assertRunning();
      const record = this.children.record(id);
      await this.children.stop(record);
      record.restarts += 1;
      await this.children.start(record);
    });
  }

  childIds(): string[] {
    return this.children.ids();
  }

  /** The running actor of a child, to send it events. Undefined while it is down. */
  childActor(id: string): AnyActorRef | undefined {
    return this.children.get(id)?.actor;
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
      children: this.children.all.map((child) => {
        const nested = runtimeOf(child.actor);
        if (nested instanceof Supervisor) {
          const node = nested.inspect(now);
          return { ...node, id: child.spec.id, restarts: child.restarts, status: child.status };
        }
        const machine = machineIdOf(child.spec.logic);
        return {
          id: child.spec.id,
          type: child.spec.type,
          status: child.status,
          state: child.state,
          restarts: child.restarts,
          uptimeMs: child.startedAt === undefined || child.status !== 'running' ? 0 : now - child.startedAt,
          ...(machine === undefined ? {} : { machine }),
        };
      }),
    };
  }

  /**
   * Liveness: resolves when this supervisor's mailbox, and then every nested supervisor's,
   * reaches the ping. A mailbox stuck behind an operation that never ends never answers.
   * Says nothing of the phase: `inspect().status` does.
   */
  async ping(): Promise<void> {
    await this.call(async () => undefined);
    const nested = this.children.all.map((child) => runtimeOf(child.actor)).filter((runtime) => runtime instanceof Supervisor);
    await Promise.all(nested.map((supervisor) => supervisor.ping()));
  }

  // ---- Runtime contract (called by the actor that hosts this supervisor) ----

  shutdown(): void {
    this.enqueue(async () => {
      if (this.phase === 'stopped' || this.phase === 'failed') return;
      this.setPhase('stopping');
      await this.children.stopAll();
      this.setPhase('stopped');
      this.controls.done({ id: this.id });
    });
  }

  /** Killed by its own parent: kill every child now, no waiting. */
  kill(): void {
    this.phase = 'stopped';
    this.children.killAll();
  }

  // ---- the mailbox ----

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

  private setPhase(phase: Phase): void {
    this.phase = phase;
    this.controls.setState(phase, { ready: phase === 'running' });
  }

  private async startInitialChildren(): Promise<void> {
    for (const record of [...this.children.all]) {
      try {
        await this.children.start(record);
      } catch (error) {
        // Roll back: stop those already started, newest first, then fail with the reason.
        await this.stopAndFail(
          new MiyabiError(
            ErrorCodes.ChildStartFailed,
            `supervisor ${this.id}: child ${record.spec.id} failed to start: ${describeError(error)}`,
            { cause: error },
          ),
        );
        return;
      }
    }
    this.setPhase('running');
  }

  /** Stops every child, newest first, and fails: the parent sees a crash of this supervisor. */
  private async stopAndFail(error: unknown): Promise<void> {
    this.setPhase('stopping');
    await this.children.stopAll();
    this.setPhase('failed');
    this.controls.fail(error);
  }

  /** An operation of the mailbox threw: stop what can be stopped and fail with the error. */
  private async failSupervisor(error: unknown): Promise<void> {
    if (this.phase === 'failed' || this.phase === 'stopped') return;
    this.setPhase('stopping');
    await this.children.stopAll().catch(() => undefined);
    this.setPhase('failed');
    this.controls.fail(error);
  }
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

/** A state machine's id (a machine's logic has a root state node); undefined for other logic. */
function machineIdOf(logic: unknown): string | undefined {
  const candidate = logic as { id?: unknown; root?: unknown } | undefined;
  return candidate?.root !== undefined && typeof candidate.id === 'string' ? candidate.id : undefined;
}
