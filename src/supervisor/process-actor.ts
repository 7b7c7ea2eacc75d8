/**
 * An OS process as a supervised actor, with the same contract as an in-process machine: ready
 * when its readiness probe passes, `supervisor.shutdown` sends the stop signal and the actor is
 * done when the process has exited, `stop()` is SIGKILL. An exit the supervisor did not ask for
 * is normal with code 0, a crash (`process_exited`) otherwise, or `process_killed` on a signal.
 *
 * The command is an argv array, never a shell string.
 */
import { createInterface } from 'node:readline';
import { execa, type ResultPromise } from 'execa';
import { ErrorCodes, MiyabiError } from '../errors.ts';
import { fromRuntime } from './runtime-logic.ts';

export interface ProcessInput {
  command: string;
  args?: readonly string[];
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Resolves when the process serves; rejects (or never resolves) when it won't. Default: ready once spawned. */
  readiness?: (process: { pid: number }) => Promise<void>;
  stopSignal?: NodeJS.Signals;
  /** Each line the process prints. Without it, output is discarded (never left to fill a pipe). */
  onOutput?: (line: string, stream: 'stdout' | 'stderr') => void;
  /**
   * A process group of its own. A terminal's Ctrl-C signals the whole foreground group; a
   * process the rest of the tree depends on (a server) must then be stopped by its supervisor,
   * in the tree's order, not die first. It is still stopped if this process exits.
   */
  detached?: boolean;
  /**
   * Once ready, watches that the process still serves: when it resolves with an error (a server
   * alive but wedged), the process is killed and the actor fails with that error, a crash its
   * supervisor restarts like any other. `signal` aborts when the process ends or is stopped.
   */
  liveness?: (process: { pid: number }, signal: AbortSignal) => Promise<Error | undefined>;
}

/**
 * Detached children, killed when this process exits (execa's `cleanup` skips detached ones). Still
 * here at exit means the orchestra is ending without having stopped them (an uncaught error, a
 * second Ctrl-C): SIGKILL, since a wedged nats-server ignores SIGTERM and would be left behind.
 */
const detachedChildren = new Set<number>();
let exitHookInstalled = false;
function trackDetached(pid: number): void {
  detachedChildren.add(pid);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of detachedChildren) {
      try {
        process.kill(child, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  });
}

export interface ProcessOutput {
  exitCode: number | undefined;
  signal: string | undefined;
}

export const processLogic = fromRuntime<ProcessInput>((input, controls) => {
  let stopping = false;
  const ended = new AbortController();
  const piped = input.onOutput !== undefined;
  const child: ResultPromise = execa(input.command, [...(input.args ?? [])], {
    cwd: input.cwd,
    env: input.env,
    extendEnv: input.env === undefined,
    reject: false,
    stdin: 'ignore',
    stdout: piped ? 'pipe' : 'ignore',
    stderr: piped ? 'pipe' : 'ignore',
    buffer: false,
    // Killed with the orchestra rather than left behind if the orchestra's own process dies.
    cleanup: true,
    detached: input.detached === true,
  });
  if (input.onOutput) {
    const onOutput = input.onOutput;
    for (const [stream, source] of [['stdout', child.stdout], ['stderr', child.stderr]] as const) {
      if (source) createInterface({ input: source }).on('line', (line) => onOutput(line, stream));
    }
  }
  child.once('spawn', () => {
    const pid = child.pid!;
    if (input.detached) trackDetached(pid);
    controls.setState('starting', { detail: { pid } });
    const probe = input.readiness ? input.readiness({ pid }) : Promise.resolve();
    probe.then(
      () => {
        if (stopping) return;
        controls.setState('running', { ready: true, detail: { pid } });
        const watched = input.liveness?.({ pid }, ended.signal).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))));
        void watched?.then((error) => {
          if (error === undefined || stopping || ended.signal.aborted) return;
          controls.fail(error);
          child.kill('SIGKILL');
        });
      },
      (error: unknown) => {
        controls.fail(error);
        child.kill('SIGKILL');
      },
    );
  });
  child.then((result) => {
    ended.abort();
    if (child.pid !== undefined) detachedChildren.delete(child.pid);
    const output: ProcessOutput = { exitCode: result.exitCode, signal: result.signal };
    if (stopping || result.exitCode === 0) {
      controls.done(output);
    } else if (result.signal) {
      controls.fail(new MiyabiError(ErrorCodes.ProcessKilled, `${input.command} was killed by ${result.signal}`));
    } else if (result.exitCode === undefined) {
      controls.fail(new MiyabiError(ErrorCodes.ProcessExited, `${input.command} could not start: ${result.shortMessage}`));
    } else {
      controls.fail(new MiyabiError(ErrorCodes.ProcessExited, `${input.command} exited with code ${result.exitCode}`));
    }
  });
  return {
    shutdown: () => {
      stopping = true;
      ended.abort();
      controls.setState('stopping');
      child.kill(input.stopSignal ?? 'SIGTERM');
    },
    kill: () => {
      stopping = true;
      ended.abort();
      child.kill('SIGKILL');
    },
  };
});
