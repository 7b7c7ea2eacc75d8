/**
 * Where a runner process lives: a tmux pane a person can watch, or a headless child process.
 * Both report how the process ended from the source itself (tmux's pane state, the child's
 * exit), so a death is noticed at once and not only when heartbeats stop.
 *
 * `argv` is run as given (no shell); it is the orchestra's own runner command, never data.
 */
import { createInterface } from 'node:readline';
import { execa } from 'execa';

export interface PaneSpec {
  /** Stable name of what runs here (an agent id). */
  id: string;
  title: string;
  argv: readonly string[];
  env: Record<string, string>;
  cwd: string;
}

export interface PaneExit {
  code: number | null;
  signal: string | null;
}

export interface PaneHandle {
  readonly id: string;
  readonly pid: number | undefined;
  /** Resolves once, when the process has ended. */
  readonly exited: Promise<PaneExit>;
  /** Ask the process to stop (SIGTERM). */
  terminate(): void;
  /** Stop it now (SIGKILL). */
  kill(): void;
  /** Show a status line (a pane title); a no-op where nothing is shown. */
  setTitle(text: string): void;
  /** After the process has ended and its place is taken elsewhere: close the pane for good. */
  dispose(): void;
}

export interface PaneDriver {
  readonly kind: 'tmux' | 'process';
  start(spec: PaneSpec): Promise<PaneHandle>;
  /** Ends everything this driver started (the tmux session, say). */
  close(): Promise<void>;
}

export interface ProcessDriverOptions {
  /** Each line the process prints, for the orchestra's log. */
  onOutput?: (id: string, line: string, stream: 'stdout' | 'stderr') => void;
}

/** Headless: each pane is a child process of the orchestra. */
export function processPaneDriver(options: ProcessDriverOptions = {}): PaneDriver {
  const running = new Set<PaneHandle>();
  return {
    kind: 'process',
    async start(spec) {
      const [command, ...args] = spec.argv;
      if (!command) throw new Error(`pane ${spec.id}: empty argv`);
      const child = execa(command, args, {
        cwd: spec.cwd,
        env: spec.env,
        extendEnv: false,
        reject: false,
        stdin: 'ignore',
        buffer: false,
        cleanup: true,
      });
      for (const [stream, source] of [['stdout', child.stdout], ['stderr', child.stderr]] as const) {
        if (source) createInterface({ input: source }).on('line', (line) => options.onOutput?.(spec.id, line, stream));
      }
      const exited = child.then((result): PaneExit => ({ code: result.exitCode ?? null, signal: result.signal ?? null }));
      const handle: PaneHandle = {
        id: spec.id,
        pid: child.pid,
        exited,
        terminate: () => void child.kill('SIGTERM'),
        kill: () => void child.kill('SIGKILL'),
        setTitle: () => {},
        dispose: () => {},
      };
      running.add(handle);
      void exited.then(() => running.delete(handle));
      return handle;
    },
    async close() {
      for (const handle of running) handle.kill();
      await Promise.all([...running].map((handle) => handle.exited));
    },
  };
}
