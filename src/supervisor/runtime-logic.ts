/**
 * `fromRuntime`: XState actor logic for long-lived things that own resources (a supervisor, an
 * OS process) and so need what `fromPromise` and `fromCallback` lack together: a graceful
 * shutdown on request, a kill on `stop()`, and a way to finish or fail on their own later.
 *
 * The child contract every supervised actor follows (machines included):
 * - it is ready when `ChildSpec.isReady(snapshot)` says so (see `defaultIsReady`);
 * - on `{ type: 'supervisor.shutdown' }` it finishes what it must and reaches status `done`;
 * - `actor.stop()` is the kill: it must release everything at once;
 * - a crash is status `error`, which the supervisor observes (never unhandled).
 */
import type { ActorLogic, ActorRefLike, AnyActorRef, EventObject, Snapshot } from 'xstate';

export const SHUTDOWN_EVENT = { type: 'supervisor.shutdown' } as const;
export type ShutdownEvent = typeof SHUTDOWN_EVENT;

export interface RuntimeContext {
  /** What the runtime says it is doing, for status and metrics (`starting`, `running`, …). */
  state: string;
  ready: boolean;
  detail?: Record<string, unknown>;
}

export type RuntimeSnapshot = Snapshot<unknown> & { context: RuntimeContext };

export interface RuntimeControls {
  /** Report a new state; `ready` defaults to the previous value. */
  setState(state: string, options?: { ready?: boolean; detail?: Record<string, unknown> }): void;
  /** Finish normally (status `done`). */
  done(output?: unknown): void;
  /** Finish with an error (status `error`), which the supervisor sees as a crash. */
  fail(error: unknown): void;
  /** The actor running this runtime, to hand to whoever needs to address it. */
  self: ActorRefLike;
}

export interface Runtime {
  /** Begin a graceful stop; call `controls.done()` when finished. */
  shutdown(): void;
  /** Release everything now: the actor is already stopped when this runs. */
  kill(): void;
  /** Any other event sent to the actor. */
  receive?(event: EventObject): void;
}

const STATE = 'miyabi.runtime.state';
const DONE = 'miyabi.runtime.done';
const FAIL = 'miyabi.runtime.fail';
const XSTATE_STOP = 'xstate.stop';

type InternalEvent =
  | { type: typeof STATE; context: RuntimeContext }
  | { type: typeof DONE; output: unknown }
  | { type: typeof FAIL; error: unknown };

const runtimes = new WeakMap<AnyActorRef | ActorRefLike, Runtime>();

/** The runtime object behind an actor made by `fromRuntime` logic (a supervisor, a process). */
export function runtimeOf<T extends Runtime>(actor: AnyActorRef | ActorRefLike | undefined): T | undefined {
  return actor ? (runtimes.get(actor) as T | undefined) : undefined;
}

export function fromRuntime<TInput>(
  start: (input: TInput, controls: RuntimeControls) => Runtime,
): ActorLogic<RuntimeSnapshot, EventObject, TInput> {
  return {
    getInitialSnapshot: (_scope, input) =>
      ({ status: 'active', output: undefined, error: undefined, input, context: { state: 'starting', ready: false } }) as RuntimeSnapshot,
    start: (snapshot, { self }) => {
      if (snapshot.status !== 'active') return;
      let finished = false;
      const send = (event: InternalEvent) => {
        if (!finished && self.getSnapshot().status === 'active') self.send(event as never);
      };
      const controls: RuntimeControls = {
        self,
        setState: (state, options = {}) => {
          const previous = (self.getSnapshot() as RuntimeSnapshot).context;
          send({
            type: STATE,
            context: { state, ready: options.ready ?? previous.ready, detail: options.detail ?? previous.detail },
          });
        },
        done: (output) => {
          send({ type: DONE, output });
          finished = true;
        },
        fail: (error) => {
          send({ type: FAIL, error });
          finished = true;
        },
      };
      try {
        runtimes.set(self, start((snapshot as { input?: TInput }).input as TInput, controls));
      } catch (error) {
        controls.fail(error);
      }
    },
    transition: (snapshot, event, { self }) => {
      if (snapshot.status !== 'active') return snapshot;
      const internal = event as InternalEvent | EventObject;
      switch (internal.type) {
        case STATE:
          return { ...snapshot, context: (internal as Extract<InternalEvent, { type: typeof STATE }>).context };
        case DONE:
          runtimes.delete(self);
          return { ...snapshot, status: 'done', output: (internal as { output: unknown }).output };
        case FAIL:
          runtimes.delete(self);
          return { ...snapshot, status: 'error', error: (internal as { error: unknown }).error };
        case XSTATE_STOP:
          runtimes.get(self)?.kill();
          runtimes.delete(self);
          return { ...snapshot, status: 'stopped' };
        case SHUTDOWN_EVENT.type:
          runtimes.get(self)?.shutdown();
          return snapshot;
        default:
          runtimes.get(self)?.receive?.(internal);
          return snapshot;
      }
    },
    getPersistedSnapshot: (snapshot) => snapshot,
  };
}
