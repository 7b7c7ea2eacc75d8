/**
 * The service manager's notification protocol (sd_notify(3)): `READY=1`, `STATUS=…`,
 * `STOPPING=1` and `WATCHDOG=1` as datagrams to the unix socket systemd names in
 * `$NOTIFY_SOCKET`, and the watchdog interval from `$WATCHDOG_USEC` (for this process only when
 * `$WATCHDOG_PID` is unset or ours). Knows nothing of what is being served.
 *
 * How the datagram is sent: Node has no unix datagram sockets, so each message goes through
 * `systemd-notify` (shipped with systemd itself, nothing to build). Since systemd 246 it waits
 * until the manager has read the message (`BARRIER=1`), so it is still alive when systemd looks up
 * which unit it belongs to: the unit needs `NotifyAccess=all` (the sender is our child, not the
 * main pid), and the message is never dropped by the race older versions had. A native addon
 * (`sd-notify`) would allow `NotifyAccess=main` but needs a compiler and libsystemd headers at
 * install; a message a second is far from where spawning a small program costs anything.
 *
 * Messages go out one at a time, in order. The watchdog sends `WATCHDOG=1` at half the interval,
 * and only when the caller's liveness check says yes within that half: a wedged event loop sends
 * nothing (the timer never fires), a failed or stuck check sends nothing, and systemd restarts
 * the service when the interval passes without a ping.
 *
 * The three variables are removed from `process.env` when read (sd_notify's `unset_environment`),
 * so the processes this one starts — servers, shells, agents — do not inherit the socket.
 */
import { execFile } from 'node:child_process';

export interface NotifyEnvironment {
  socket: string | undefined;
  /** The watchdog interval for this process, in ms; undefined when there is no watchdog. */
  watchdogMs: number | undefined;
}

/** Reads (and by default removes) `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID`. */
export function takeNotifyEnvironment(env: NodeJS.ProcessEnv = process.env, pid = process.pid, unset = true): NotifyEnvironment {
  const socket = env.NOTIFY_SOCKET || undefined;
  const usec = Number(env.WATCHDOG_USEC);
  const forUs = env.WATCHDOG_PID === undefined || env.WATCHDOG_PID === '' || Number(env.WATCHDOG_PID) === pid;
  const watchdogMs = Number.isFinite(usec) && usec > 0 && forUs ? Math.max(1, Math.floor(usec / 1000)) : undefined;
  if (unset) {
    delete env.NOTIFY_SOCKET;
    delete env.WATCHDOG_USEC;
    delete env.WATCHDOG_PID;
  }
  return { socket, watchdogMs };
}

export interface WatchdogTick {
  alive: boolean;
  /** Why no ping was sent, when `alive` is false. */
  reason?: string;
}

export interface NotifierOptions {
  /** The `systemd-notify` program; default found on the PATH. */
  program?: string;
  /** Told of a message that could not be sent (it is not retried). */
  onError?: (message: string, error: unknown) => void;
}

export class ServiceNotifier {
  private queue: Promise<void> = Promise.resolve();
  private watchdogTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    readonly environment: NotifyEnvironment,
    private readonly options: NotifierOptions = {},
  ) {}

  /** True when a service manager listens (`$NOTIFY_SOCKET` was set). */
  get enabled(): boolean {
    return this.environment.socket !== undefined;
  }

  ready(status?: string): Promise<void> {
    return this.send(['READY=1', ...(status === undefined ? [] : [statusLine(status)])]);
  }

  status(text: string): Promise<void> {
    return this.send([statusLine(text)]);
  }

  /** Stops the watchdog first: a stopping service sends no more pings. */
  stopping(status?: string): Promise<void> {
    this.stopWatchdog();
    return this.send(['STOPPING=1', ...(status === undefined ? [] : [statusLine(status)])]);
  }

  /**
   * Sends `WATCHDOG=1` every half interval while `check` resolves true within that half.
   * `onTick` is told each decision. No-op without a watchdog interval.
   */
  startWatchdog(check: () => Promise<boolean | string>, onTick?: (tick: WatchdogTick) => void): void {
    const intervalMs = this.environment.watchdogMs;
    if (!this.enabled || intervalMs === undefined || this.watchdogTimer) return;
    const halfMs = Math.max(1, Math.floor(intervalMs / 2));
    let checking = false;
    this.watchdogTimer = setInterval(() => {
      // A check still running from the last tick is a check that did not answer in time.
      if (checking) return onTick?.({ alive: false, reason: `liveness check still running after ${halfMs} ms` });
      checking = true;
      void withTimeout(check(), halfMs).then(async (verdict) => {
        checking = false;
        if (this.watchdogTimer === undefined) return;
        const tick: WatchdogTick = verdict === true ? { alive: true } : { alive: false, reason: typeof verdict === 'string' ? verdict : 'not alive' };
        if (tick.alive) await this.send(['WATCHDOG=1']);
        onTick?.(tick);
      });
    }, halfMs);
  }

  stopWatchdog(): void {
    if (this.watchdogTimer) clearInterval(this.watchdogTimer);
    this.watchdogTimer = undefined;
  }

  /** Waits for the messages already queued; later ones are not sent. */
  async close(): Promise<void> {
    this.stopWatchdog();
    this.stopped = true;
    await this.queue;
  }

  /** One datagram of `KEY=value` lines; resolves when it was read (or could not be sent). */
  send(lines: string[]): Promise<void> {
    if (!this.enabled || this.stopped) return Promise.resolve();
    const socket = this.environment.socket!;
    this.queue = this.queue.then(
      () =>
        new Promise<void>((resolve) => {
          // Named variables as arguments; systemd-notify sends them as one message, then waits
          // until the manager has read it (the barrier), 5 s at most.
          execFile(this.options.program ?? 'systemd-notify', lines, { env: { ...process.env, NOTIFY_SOCKET: socket }, timeout: 10_000 }, (error) => {
            if (error) this.options.onError?.(lines.join(' '), error);
            resolve();
          });
        }),
    );
    return this.queue;
  }
}

/** `STATUS=` is one line: newlines would start another variable. */
function statusLine(text: string): string {
  return `STATUS=${text.replace(/[\r\n]+/g, ' ').slice(0, 400)}`;
}

async function withTimeout(check: Promise<boolean | string>, ms: number): Promise<boolean | string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`liveness check did not answer in ${ms} ms`), ms);
  });
  try {
    return await Promise.race([check.catch((error: unknown) => `liveness check failed: ${String(error)}`), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
