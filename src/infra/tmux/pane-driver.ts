/**
 * Pane driver on tmux: one session on the orchestra's own socket, one pane per agent, a dead
 * pane respawned in place (so the layout a person watches stays put). Deaths come from polling
 * `#{pane_dead}` through the control-mode client (PaneWatcher), not from the pane-died hook
 * alone, which misses some.
 */
import type { Logger } from 'pino';
import { describeError } from '../../errors.ts';
import type { PaneDriver, PaneExit, PaneHandle, PaneSpec } from '../panes/driver.ts';
import { PaneWatcher, type PaneDeath } from './pane-watcher.ts';
import { TmuxServer } from './client.ts';

export interface TmuxPaneDriverOptions {
  socketName: string;
  session: string;
  cwd: string;
  pollIntervalMs: number;
  logger: Logger;
  /**
   * The environment the tmux server (and so every pane) starts with. A pane's `env` is passed
   * as `-e` only where it differs, so what is common (secrets an agent needs included) never
   * goes on a command line.
   */
  env?: Readonly<Record<string, string>>;
}

const SIGNAL_NAMES: Record<number, string> = { 1: 'SIGHUP', 2: 'SIGINT', 6: 'SIGABRT', 9: 'SIGKILL', 15: 'SIGTERM' };

export async function tmuxPaneDriver(options: TmuxPaneDriverOptions): Promise<PaneDriver> {
  const { logger, session } = options;
  const server = new TmuxServer({ socketName: options.socketName, logger, ...(options.env ? { env: options.env } : {}) });
  const base = options.env;
  const onlyDifferent = (env: Record<string, string>) =>
    base ? Object.fromEntries(Object.entries(env).filter(([name, value]) => base[name] !== value)) : env;
  if (await server.hasSession(session)) {
    // Left by an orchestra that did not stop cleanly: its runners would still take tasks.
    logger.warn({ session, socket: options.socketName }, 'stale tmux session from an earlier run; killing it');
    await server.killServer();
  }
  await server.ensureSession(session, { cwd: options.cwd });
  /** Agent id → its pane, kept after a death so the restart reuses the pane. */
  const panes = new Map<string, string>();
  /** Pane id → the live runner waiting to hear of its death. */
  const live = new Map<string, { pid: number; resolve: (exit: PaneExit) => void }>();
  const onDeath = (death: PaneDeath) => {
    const waiting = live.get(death.paneId);
    if (!waiting || waiting.pid !== death.pid) return;
    live.delete(death.paneId);
    waiting.resolve({
      code: death.exitCode,
      signal: death.signal === null ? null : (SIGNAL_NAMES[death.signal] ?? `signal ${death.signal}`),
    });
  };
  const watcher = new PaneWatcher({
    server,
    session,
    onDeath,
    intervalMs: options.pollIntervalMs,
    logger,
    onError: (error) => logger.warn({ err: describeError(error) }, 'pane watcher poll failed'),
  });
  watcher.start();

  const signal = (pid: number, name: NodeJS.Signals) => {
    try {
      process.kill(pid, name);
    } catch {
      // already gone: the watcher reports the death
    }
  };

  return {
    kind: 'tmux',
    async start(spec: PaneSpec): Promise<PaneHandle> {
      const existing = panes.get(spec.id);
      const command = { argv: spec.argv, env: onlyDifferent(spec.env), cwd: spec.cwd };
      let spawned;
      if (existing && (await server.paneInfo(existing))?.dead) {
        spawned = await server.respawnPane(existing, command);
        await server.setPaneTitle(existing, spec.title);
      } else {
        spawned = await server.spawnPane(session, { ...command, title: spec.title });
      }
      panes.set(spec.id, spawned.paneId);
      const exited = new Promise<PaneExit>((resolve) => live.set(spawned.paneId, { pid: spawned.pid, resolve }));
      return {
        id: spec.id,
        pid: spawned.pid,
        exited,
        terminate: () => signal(spawned.pid, 'SIGTERM'),
        kill: () => signal(spawned.pid, 'SIGKILL'),
        dispose: () => {
          // Still running, or respawned with a new runner since: not ours to close.
          if (live.has(spawned.paneId)) return;
          for (const [id, paneId] of panes) if (paneId === spawned.paneId) panes.delete(id);
          server.killPane(spawned.paneId).catch((error: unknown) =>
            logger.debug({ err: describeError(error), paneId: spawned.paneId }, 'pane not closed'),
          );
        },
        setTitle: (text) => {
          server.setPaneTitle(spawned.paneId, text).catch((error: unknown) =>
            logger.debug({ err: describeError(error), paneId: spawned.paneId }, 'pane title not set'),
          );
        },
      };
    },
    async close() {
      for (const waiting of live.values()) signal(waiting.pid, 'SIGKILL');
      await watcher.stop();
      // The socket is the orchestra's own: nothing else lives on this server.
      await server.killServer();
    },
  };
}
