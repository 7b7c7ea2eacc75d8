/**
 * A long-lived tmux control-mode client (`tmux -C attach-session`), so a query costs a write and
 * a read on a pipe (~0.1 ms) instead of a new tmux process (~13 ms).
 *
 * The protocol: each command line we send is answered by one block
 *
 *   %begin <time> <number> <flags>      flags & 1: the command came from this client
 *   …output lines…
 *   %end <time> <number> <flags>        or %error … when the command failed
 *
 * in the order the commands were sent. Everything outside a block is a notification
 * (`%session-changed`, `%layout-change`, `%window-add`, `%exit` …) and is skipped, as are blocks
 * that are not ours (flags 0: the attach itself). A block ends only on the `%end`/`%error` line
 * that repeats its `%begin` header, so an output line that happens to start with `%end` cannot
 * end it early. The client attaches with `no-output` (no `%output` stream to parse) and
 * `ignore-size` (it never resizes the session a person is looking at).
 *
 * Arguments are sent in tmux's single quotes (`controlQuote`); a line break is refused, since it
 * would end the command line. Commands that carry free text are better sent through the CLI.
 *
 * Failure: when the client dies (killed, session gone, server gone) every pending command is
 * rejected with `tmux_control_unavailable` and the next command connects again. A connection that
 * fails before answering anything makes the client refuse at once for `retryMs`, so a caller
 * falling back to the CLI is not slowed by a reconnect per call. A command unanswered after
 * `timeoutMs` is rejected and the client is dropped (its answers could no longer be matched).
 */
import { createInterface } from 'node:readline';
import { execa, type ResultPromise } from 'execa';
import type { Logger } from 'pino';
import { ErrorCodes, MiyabiError } from '../../errors.ts';
import { controlQuote } from './args.ts';

export interface TmuxControlOptions {
  /** The tmux binary. Default `tmux`. */
  tmux?: string;
  /** The server's socket name (`tmux -L`). */
  socketName: string;
  /** The session to attach to. */
  session: string;
  /** A command unanswered for this long fails and the client is dropped. Default 5000. */
  timeoutMs?: number;
  /** After a failed connection, refuse (without trying) for this long. Default 1000. */
  retryMs?: number;
  logger?: Logger;
}

interface Pending {
  resolve: (lines: string[]) => void;
  reject: (error: unknown) => void;
  timer: NodeJS.Timeout;
  command: string;
}

const blockHeader = /^%begin (\d+ \d+ (\d+))$/;

function unavailable(message: string, cause?: unknown): MiyabiError {
  return new MiyabiError(ErrorCodes.TmuxControlUnavailable, message, { cause });
}

/** One attached `tmux -C` process and the commands waiting for its answers. */
class Connection {
  readonly child: ResultPromise;
  readonly exited: Promise<void>;
  answered = false;
  private readonly pending: Pending[] = [];
  private block: { header: string; ours: boolean; lines: string[] } | undefined;
  private gone: MiyabiError | undefined;

  constructor(
    argv: { file: string; args: string[] },
    private readonly timeoutMs: number,
    onExit: (connection: Connection) => void,
  ) {
    this.child = execa(argv.file, argv.args, {
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'pipe',
      buffer: false,
      reject: false,
      cleanup: true,
      env: { TMUX: undefined, TMUX_PANE: undefined },
    });
    let stderr = '';
    this.child.stdin?.on('error', () => {}); // EPIPE after the client died: reported through exit
    this.child.stderr?.on('data', (chunk: Buffer) => {
      if (stderr.length < 2_000) stderr += chunk.toString();
    });
    if (this.child.stdout) createInterface({ input: this.child.stdout }).on('line', (line) => this.onLine(line));
    this.exited = this.child.then((result) => {
      const why = stderr.trim() || result.shortMessage || `exit code ${String(result.exitCode)}`;
      this.fail(unavailable(`tmux control client exited: ${why}`));
      onExit(this);
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  send(args: readonly string[]): Promise<string[]> {
    if (this.gone) return Promise.reject(this.gone);
    const command = args.map(controlQuote).join(' ');
    return new Promise<string[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(unavailable(`tmux control client did not answer ${args[0] ?? ''} within ${this.timeoutMs} ms`));
        this.child.kill('SIGKILL');
      }, this.timeoutMs);
      this.pending.push({ resolve, reject, timer, command });
      this.child.stdin?.write(`${command}\n`);
    });
  }

  /** Rejects every pending command; the connection takes no more. */
  fail(error: MiyabiError): void {
    this.gone ??= error;
    for (const pending of this.pending.splice(0)) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
  }

  close(): void {
    this.fail(unavailable('tmux control client closed'));
    this.child.stdin?.end();
  }

  private onLine(line: string): void {
    if (this.block === undefined) {
      const begin = blockHeader.exec(line);
      if (begin) this.block = { header: begin[1]!, ours: (Number(begin[2]) & 1) === 1, lines: [] };
      return; // a notification
    }
    const { header, ours, lines } = this.block;
    const failed = line === `%error ${header}`;
    if (!failed && line !== `%end ${header}`) {
      lines.push(line);
      return;
    }
    this.block = undefined;
    if (!ours) return;
    const pending = this.pending.shift();
    if (!pending) return;
    this.answered = true;
    clearTimeout(pending.timer);
    if (failed) {
      pending.reject(
        new MiyabiError(ErrorCodes.TmuxCommandFailed, `tmux ${pending.command}: ${lines.join('\n') || 'failed'}`),
      );
    } else {
      pending.resolve(lines);
    }
  }
}

export class TmuxControlClient {
  private connection: Connection | undefined;
  private failedAt = -Infinity;
  private closed = false;
  private connectionCount = 0;
  private readonly timeoutMs: number;
  private readonly retryMs: number;

  constructor(private readonly options: TmuxControlOptions) {
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.retryMs = options.retryMs ?? 1_000;
  }

  get session(): string {
    return this.options.session;
  }

  /** The pid of the attached tmux client, if one is running. */
  get pid(): number | undefined {
    return this.connection?.pid;
  }

  /** How many times a client process was started (the first connection counts). */
  get connections(): number {
    return this.connectionCount;
  }

  /**
   * Runs one tmux command and resolves with its output lines. Rejects with
   * `tmux_command_failed` when tmux answers with an error, and `tmux_control_unavailable` when
   * no client could carry it (the caller may use the CLI instead).
   */
  async command(args: readonly string[]): Promise<string[]> {
    if (this.closed) throw unavailable('tmux control client closed');
    return this.connect().send(args);
  }

  /** Detaches the client and waits for its process to end. Later commands are refused. */
  async close(): Promise<void> {
    this.closed = true;
    const connection = this.connection;
    if (!connection) return;
    connection.close();
    const killer = setTimeout(() => connection.child.kill('SIGKILL'), 2_000);
    await connection.exited;
    clearTimeout(killer);
  }

  private connect(): Connection {
    if (this.connection) return this.connection;
    if (performance.now() - this.failedAt < this.retryMs) {
      throw unavailable(`tmux control client for session ${this.options.session} failed recently`);
    }
    const { tmux = 'tmux', socketName, session } = this.options;
    const args = ['-f', '/dev/null', '-L', socketName, '-C', 'attach-session', '-t', `=${session}`];
    const connection = new Connection(
      { file: tmux, args: [...args, '-f', 'no-output,ignore-size'] },
      this.timeoutMs,
      (ended) => this.onExit(ended),
    );
    this.connectionCount += 1;
    this.connection = connection;
    this.options.logger?.debug({ session, pid: connection.pid }, 'tmux control client started');
    return connection;
  }

  private onExit(connection: Connection): void {
    if (this.connection === connection) this.connection = undefined;
    if (!connection.answered) this.failedAt = performance.now();
    if (!this.closed) {
      this.options.logger?.info(
        { session: this.options.session, pid: connection.pid, answered: connection.answered },
        'tmux control client exited; the next command reconnects',
      );
    }
  }
}
