import { assign, createActor, waitFor as waitForActor, createMachine, fromPromise, setup, type AnyActor } from 'xstate';
import {
  supervisorLogic,
  supervisorOf,
  type ChildSpec,
  type Supervisor,
  type SupervisorEvent,
  type SupervisorSpec,
} from '../../src/supervisor/index.ts';
import { deferred, waitFor } from '../support/wait.ts';

export interface WorkerInput {
  id: string;
  journal: Journal;
  /** Stay tagged `starting` until sent `ready`. */
  startsUnready?: boolean;
  /** Throw while starting (a start failure). */
  failOnStart?: boolean;
  /** Ignore `supervisor.shutdown`, so only the kill stops it. */
  ignoresShutdown?: boolean;
}

/** What happened to workers, in order: `start:a`, `shutdown:a`, `crash:b` … */
export class Journal {
  readonly entries: string[] = [];
  record(entry: string): void {
    this.entries.push(entry);
  }
  count(entry: string): number {
    return this.entries.filter((e) => e === entry).length;
  }
}

/**
 * A worker machine: `crash` throws (an abnormal exit), `finish` reaches its final state (a
 * normal exit), `supervisor.shutdown` finishes unless told to ignore it.
 */
export const workerMachine = setup({
  types: { input: {} as WorkerInput, context: {} as WorkerInput },
  actions: {
    started: ({ context }) => {
      context.journal.record(`start:${context.id}`);
      if (context.failOnStart) throw new Error(`${context.id} cannot start`);
    },
    crash: ({ context }) => {
      context.journal.record(`crash:${context.id}`);
      throw new Error(`${context.id} crashed`);
    },
    shutdownReceived: ({ context }) => context.journal.record(`shutdown:${context.id}`),
  },
  guards: {
    startsUnready: ({ context }) => context.startsUnready === true,
    honoursShutdown: ({ context }) => context.ignoresShutdown !== true,
  },
}).createMachine({
  context: ({ input }) => input,
  initial: 'booting',
  entry: 'started',
  on: {
    crash: { actions: 'crash' },
    finish: '.finished',
    'supervisor.shutdown': [
      { guard: 'honoursShutdown', target: '.finished', actions: 'shutdownReceived' },
      { actions: 'shutdownReceived' },
    ],
  },
  states: {
    booting: { always: [{ guard: 'startsUnready', target: 'warming' }, { target: 'running' }] },
    warming: { tags: ['starting'], on: { ready: 'running' } },
    running: {},
    finished: { type: 'final' },
  },
});

export function worker(id: string, journal: Journal, options: Partial<WorkerInput> & Partial<ChildSpec> = {}): ChildSpec {
  const { startsUnready, failOnStart, ignoresShutdown, ...spec } = options;
  return {
    id,
    logic: workerMachine,
    input: { id, journal, startsUnready, failOnStart, ignoresShutdown },
    ...spec,
  };
}

export interface RunningTree {
  actor: AnyActor;
  supervisor: Supervisor;
  events: SupervisorEvent[];
  /** Resolves with the root's error if the root supervisor fails. */
  failure: Promise<unknown>;
  /** Resolves when the root has stopped cleanly. */
  done: Promise<void>;
  stop(): Promise<void>;
}

/** Launches a root supervisor without waiting for it, observing its errors so none is unhandled. */
export function launchTree(spec: SupervisorSpec): RunningTree & { ready: Promise<void> } {
  const events: SupervisorEvent[] = [];
  const failed = deferred<unknown>();
  const finished = deferred<void>();
  const listener = (event: SupervisorEvent) => {
    events.push(event);
    spec.listener?.(event);
  };
  const actor = createActor(supervisorLogic, { input: { ...spec, listener } });
  actor.subscribe({
    error: (error) => failed.resolve(error),
    complete: () => finished.resolve(),
  });
  actor.start();
  const supervisor = supervisorOf(actor)!;
  const ready = waitForActor(actor, (snapshot) => snapshot.context.ready, { timeout: 10_000 }).then(() => undefined);
  ready.catch(() => undefined);
  return {
    actor,
    supervisor,
    events,
    ready,
    failure: failed.promise,
    done: finished.promise,
    stop: async () => {
      if (actor.getSnapshot().status !== 'active') return;
      actor.send({ type: 'supervisor.shutdown' });
      await Promise.race([finished.promise, failed.promise]);
    },
  };
}

/** Starts a root supervisor and waits until all its children are ready. */
export async function startTree(spec: SupervisorSpec): Promise<RunningTree> {
  const tree = launchTree(spec);
  try {
    await tree.ready;
  } catch (error) {
    await tree.stop();
    throw error;
  }
  return tree;
}

/** Waits until the journal holds `entry` at least `times` times. */
export function waitForEntry(journal: Journal, entry: string, times = 1): Promise<true> {
  return waitFor(() => journal.count(entry) >= times || undefined, { what: `${times}× ${entry}` }) as Promise<true>;
}

export { createMachine, fromPromise, assign };
