/**
 * A tmux server of our own, on its own socket (`tmux -L <socketName>`, started with
 * `-f /dev/null` so no user configuration applies): sessions, one pane per program, titles,
 * liveness. Knows nothing about agents; plain names, argv arrays and paths.
 *
 * The contract:
 * - `ensureSession` creates a detached session (idempotent) whose first pane is a placeholder
 *   (`tail -f /dev/null`) that the first `spawnPane` takes over, so N programs make N panes.
 *   Window options are set server-wide: `remain-on-exit on` (a dead pane stays, to be seen and
 *   respawned), `pane-border-status top` and a border showing the pane title (and the exit status
 *   of a dead pane); the status line is on, its right side a clock (the default shows the title
 *   unescaped). The one window is named `agents`.
 * - Programs run as argv, never through a shell string built from data; titles and directories
 *   are stored exactly as given (see args.ts for the tmux 3.3a details).
 * - `spawnPane` splits the window and re-tiles it (`select-layout tiled`), so five panes fit.
 *   `killPane` on the last pane of the window brings the placeholder back instead of ending the
 *   session. Spawning and killing are serialised, so two callers never take the same placeholder.
 * - Queries (`listPanes`, `paneInfo`) go through a long-lived control-mode client when one can
 *   attach (control-mode.ts), else through the CLI. Commands go through the CLI.
 * - `killServer` returns once the server process is gone.
 */
import { rm } from 'node:fs/promises';
import { execa } from 'execa';
import type { Logger } from 'pino';
import { ErrorCodes, MiyabiError } from '../../errors.ts';
import { waitForProcessExit } from '../os/process.ts';
import {
  checkPaneId,
  checkSessionName,
  cliArgument,
  envArguments,
  escapeFormat,
  paneCommand,
  paneTitleText,
} from './args.ts';
import { TmuxControlClient } from './control-mode.ts';
import { isMissingTarget, PANE_BORDER_FORMAT, PANE_FORMAT, parsePaneLine, PLACEHOLDER, type PaneInfo } from './format.ts';

export type { PaneInfo } from './format.ts';

export interface TmuxServerOptions {
  /** The socket name (`tmux -L`): the server is private to whoever knows it. */
  socketName: string;
  /** The tmux binary. Default `tmux`. */
  tmux?: string;
  /** Use a control-mode client for queries. Default true. */
  control?: boolean;
  /** Per-command deadline of the control client. Default 5000 ms. */
  controlTimeoutMs?: number;
  logger?: Logger;
  /**
   * The environment of the tmux server, which every pane starts with (default: this process's).
   * A pane's own `env` then only needs what differs: whatever is passed as `-e NAME=value` is on
   * a command line that every local user can read (`ps`), so no secret should go there.
   */
  env?: Readonly<Record<string, string>>;
}

export interface SessionOptions {
  cwd: string;
  /** Size of the detached session until a person attaches. Default 200 × 50. */
  width?: number;
  height?: number;
}

export interface PaneCommand {
  argv: readonly string[];
  env?: Readonly<Record<string, string>>;
  cwd: string;
}

export interface SpawnPaneOptions extends PaneCommand {
  title: string;
}

export interface SpawnedPane {
  paneId: string;
  pid: number;
}

const PLACEHOLDER_ARGV = ['tail', '-f', '/dev/null'];

export class TmuxServer {
  readonly socketName: string;
  /** The tmux binary this server is driven with. */
  readonly tmux: string;
  private control: TmuxControlClient | undefined;
  private serial: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: TmuxServerOptions) {
    this.socketName = options.socketName;
    this.tmux = options.tmux ?? 'tmux';
  }

  /**
   * Runs tmux commands through the CLI, one process for all of them (joined with `;`), every
   * argument passed as data. Resolves with stdout; rejects with `tmux_command_failed`.
   */
  async run(...commands: (readonly string[])[]): Promise<string> {
    const args = commands.flatMap((command, index) => [...(index > 0 ? [';'] : []), ...command.map(cliArgument)]);
    const base = this.options.env;
    const result = await execa(this.tmux, ['-f', '/dev/null', '-L', this.socketName, ...args], {
      reject: false,
      stdin: 'ignore',
      ...(base
        ? { env: Object.fromEntries(Object.entries(base).filter(([name]) => name !== 'TMUX' && name !== 'TMUX_PANE')), extendEnv: false }
        : { env: { TMUX: undefined, TMUX_PANE: undefined } }),
    });
    if (result.exitCode !== 0) {
      const why = result.stderr.trim() || result.shortMessage;
      throw new MiyabiError(ErrorCodes.TmuxCommandFailed, `tmux ${commands[0]?.[0] ?? ''}: ${why}`);
    }
    return result.stdout;
  }

  /**
   * Runs one query command through the control client when it can, else the CLI; resolves with
   * its output lines. `tmux_command_failed` from either is passed on.
   */
  async query(args: readonly string[]): Promise<string[]> {
    if (this.control) {
      try {
        return await this.control.command(args);
      } catch (error) {
        if (!(error instanceof MiyabiError && error.code === ErrorCodes.TmuxControlUnavailable)) throw error;
      }
    }
    const stdout = await this.run(args);
    return stdout === '' ? [] : stdout.split('\n');
  }

  /** The control client (for tests and metrics); undefined until a session is ensured. */
  get controlClient(): TmuxControlClient | undefined {
    return this.control;
  }

  async hasSession(name: string): Promise<boolean> {
    try {
      await this.run(['has-session', '-t', `=${checkSessionName(name)}`]);
      return true;
    } catch (error) {
      if (isMissingTarget(error)) return false;
      throw error;
    }
  }

  /** Creates the session if it does not exist, and (re)applies its options either way. */
  async ensureSession(name: string, options: SessionOptions): Promise<{ created: boolean }> {
    checkSessionName(name);
    let created = false;
    if (!(await this.hasSession(name))) {
      const size = ['-x', String(options.width ?? 200), '-y', String(options.height ?? 50)];
      try {
        await this.run(
          ['new-session', '-d', '-s', name, '-n', 'agents', ...size, '-c', escapeFormat(options.cwd), '--', ...PLACEHOLDER_ARGV],
          ['set-option', '-p', '-t', `=${name}:`, PLACEHOLDER, '1'],
        );
        created = true;
      } catch (error) {
        if (!(error instanceof MiyabiError && /duplicate session/.test(error.message))) throw error;
      }
    }
    await this.run(
      ['set-option', '-g', 'history-limit', '10000'],
      ['set-option', '-g', '-w', 'remain-on-exit', 'on'],
      ['set-option', '-g', '-w', 'pane-border-status', 'top'],
      ['set-option', '-g', '-w', 'pane-border-format', PANE_BORDER_FORMAT],
      ['set-option', '-t', `=${name}:`, 'status', 'on'],
      // The default status-right shows the pane title unescaped (a title's #[…] would style it).
      ['set-option', '-t', `=${name}:`, 'status-right', ' %H:%M '],
    );
    if (this.options.control !== false && this.control === undefined) {
      this.control = new TmuxControlClient({
        tmux: this.tmux,
        socketName: this.socketName,
        session: name,
        timeoutMs: this.options.controlTimeoutMs,
        logger: this.options.logger,
      });
    }
    return { created };
  }

  /** Starts `argv` in a new pane of the session (or in its placeholder pane); re-tiles the window. */
  spawnPane(session: string, options: SpawnPaneOptions): Promise<SpawnedPane> {
    checkSessionName(session);
    const start = ['-c', escapeFormat(options.cwd), ...envArguments(options.env), '--', ...paneCommand(options.argv)];
    const title = escapeFormat(paneTitleText(options.title));
    return this.serialised(async () => {
      const placeholder = (await this.listPanes(session)).find((pane) => pane.placeholder)?.paneId;
      let out: string;
      if (placeholder) {
        out = await this.run(
          ['respawn-pane', '-k', '-t', placeholder, ...start],
          ['set-option', '-p', '-u', '-t', placeholder, PLACEHOLDER],
          ['select-pane', '-t', placeholder, '-T', title],
          ['display-message', '-p', '-t', placeholder, '#{pane_id} #{pane_pid}'],
        );
      } else {
        const paneId = (
          await this.run(['split-window', '-d', '-t', `=${session}:`, '-P', '-F', '#{pane_id}', ...start])
        ).trim();
        out = await this.run(
          ['select-pane', '-t', paneId, '-T', title],
          ['select-layout', '-t', paneId, 'tiled'],
          ['display-message', '-p', '-t', paneId, '#{pane_id} #{pane_pid}'],
        );
      }
      const [paneId = '', pid = ''] = out.trim().split(' ');
      return { paneId, pid: Number(pid) };
    });
  }

  /** Kills whatever runs in the pane (`respawn-pane -k`) and starts `argv` there. */
  async respawnPane(paneId: string, options: PaneCommand): Promise<SpawnedPane> {
    checkPaneId(paneId);
    const out = await this.run(
      [
        'respawn-pane',
        '-k',
        '-t',
        paneId,
        '-c',
        escapeFormat(options.cwd),
        ...envArguments(options.env),
        '--',
        ...paneCommand(options.argv),
      ],
      ['display-message', '-p', '-t', paneId, '#{pane_pid}'],
    );
    return { paneId, pid: Number(out.trim()) };
  }

  /** Removes the pane; the last pane of the window becomes the placeholder again. No-op if gone. */
  killPane(paneId: string): Promise<void> {
    checkPaneId(paneId);
    return this.serialised(async () => {
      // list-panes, not display-message: display-message answers for a missing pane with empty fields.
      let window: string[] | undefined;
      try {
        const lines = await this.query(['list-panes', '-t', paneId, '-F', '#{pane_id} #{window_panes} #{window_id}']);
        window = lines.map((line) => line.split(' ')).find(([id]) => id === paneId);
      } catch (error) {
        if (isMissingTarget(error)) return;
        throw error;
      }
      if (!window) return;
      const [, panes, windowId = ''] = window;
      if (panes === '1') {
        await this.run(
          ['respawn-pane', '-k', '-t', paneId, '--', ...PLACEHOLDER_ARGV],
          ['set-option', '-p', '-t', paneId, PLACEHOLDER, '1'],
          ['select-pane', '-t', paneId, '-T', 'idle'],
        );
      } else {
        await this.run(['kill-pane', '-t', paneId], ['select-layout', '-t', windowId, 'tiled']);
      }
    });
  }

  /** Sets the pane's title to `text`, shown as it is (control characters become spaces). */
  async setPaneTitle(paneId: string, text: string): Promise<void> {
    await this.run(['select-pane', '-t', checkPaneId(paneId), '-T', escapeFormat(paneTitleText(text))]);
  }

  /** The pane's state, or undefined if there is no such pane. */
  async paneInfo(paneId: string): Promise<PaneInfo | undefined> {
    try {
      const lines = await this.query(['list-panes', '-t', checkPaneId(paneId), '-F', PANE_FORMAT]);
      return lines.map(parsePaneLine).find((pane) => pane.paneId === paneId);
    } catch (error) {
      if (isMissingTarget(error)) return undefined;
      throw error;
    }
  }

  /** Every pane of the session, placeholder included. */
  async listPanes(session: string): Promise<PaneInfo[]> {
    const lines = await this.query(['list-panes', '-s', '-t', `=${checkSessionName(session)}`, '-F', PANE_FORMAT]);
    return lines.filter((line) => line !== '').map(parsePaneLine);
  }

  /** The pane's visible text (for tests and demos). */
  capturePane(paneId: string): Promise<string> {
    return this.run(['capture-pane', '-p', '-J', '-t', checkPaneId(paneId)]);
  }

  /** Kills the session and its panes. No-op if it does not exist. */
  async killSession(name: string): Promise<void> {
    checkSessionName(name);
    if (this.control?.session === name) await this.dropControl();
    try {
      await this.run(['kill-session', '-t', `=${name}`]);
    } catch (error) {
      if (!isMissingTarget(error)) throw error;
    }
  }

  /** Kills the server and every pane; resolves once the server process has exited and its socket is gone. */
  async killServer(): Promise<void> {
    await this.dropControl();
    let pid: string, socketPath: string;
    try {
      [pid = '', socketPath = ''] = (await this.run(['display-message', '-p', '#{pid}\t#{socket_path}'])).trim().split('\t');
      await this.run(['kill-server']);
    } catch (error) {
      if (isMissingTarget(error)) return;
      throw error;
    }
    await waitForProcessExit(Number(pid), 5_000);
    // tmux 3.3a leaves its socket file behind after kill-server.
    if (socketPath !== '') await rm(socketPath, { force: true });
  }

  private async dropControl(): Promise<void> {
    const control = this.control;
    this.control = undefined;
    await control?.close();
  }

  private serialised<T>(task: () => Promise<T>): Promise<T> {
    const result = this.serial.then(task);
    this.serial = result.catch(() => {});
    return result;
  }
}
