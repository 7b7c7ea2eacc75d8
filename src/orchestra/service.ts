/**
 * The orchestra as a systemd service (`Type=notify`, docs/OPERATIONS.md): `STATUS=` lines while
 * it starts (what it checks, each child of the root as it comes up), `READY=1` once the whole
 * tree is ready and the run file written, `WATCHDOG=1` at half of `WatchdogSec=` while the root
 * supervisor runs and every supervisor's mailbox answers a ping (src/supervisor/supervisor.ts),
 * `STOPPING=1` when a stop begins. Without `$NOTIFY_SOCKET` (a terminal, a test) all of it is a
 * no-op. The protocol itself is src/infra/os/sd-notify.ts.
 */
import { ServiceNotifier, takeNotifyEnvironment, type NotifierOptions, type WatchdogTick } from '../infra/os/sd-notify.ts';
import type { Supervisor, SupervisorEvent } from '../supervisor/index.ts';

export interface ServiceHooks {
  /** Told each watchdog decision (a log line when a ping is withheld). */
  onWatchdog?: (tick: WatchdogTick) => void;
}

export class OrchestraService {
  readonly notifier: ServiceNotifier;
  private withheld = false;

  /** Reads (and removes from the environment) what systemd passed; call before starting anything. */
  constructor(env: NodeJS.ProcessEnv = process.env, options: NotifierOptions = {}) {
    this.notifier = new ServiceNotifier(takeNotifyEnvironment(env), {
      onError: (message, error) => process.stderr.write(`could not notify the service manager (${message}): ${String(error)}\n`),
      ...options,
    });
  }

  get enabled(): boolean {
    return this.notifier.enabled;
  }

  /** A step of the start (or of the stop): `STATUS=`. */
  progress = (text: string): void => {
    void this.notifier.status(text);
  };

  /**
   * What the root supervisor reports, as status lines: its children coming up, restarts, failure.
   * And the broker's: the embedded nats-server restarts there, alone (./tree.ts).
   */
  observe = (event: SupervisorEvent): void => {
    if (event.supervisor !== 'root' && event.supervisor !== 'broker') return;
    if (event.type === 'child.started') this.progress(`${event.restarts > 0 ? 'restarted' : 'started'} ${event.child}`);
    else if (event.type === 'child.restarting') this.progress(`restarting ${event.child} (restart ${event.restarts})`);
    else if (event.type === 'supervisor.escalated') this.progress(`the root supervisor gave up: ${event.reason}`);
  };

  /** `READY=1` with a status, then the watchdog over the root supervisor. */
  async ready(status: string, root: () => Supervisor | undefined, hooks: ServiceHooks = {}): Promise<void> {
    await this.notifier.ready(status);
    this.notifier.startWatchdog(
      () => treeLiveness(root()),
      (tick) => {
        // Say so once when pings stop, and once when they resume.
        if (tick.alive === this.withheld) {
          this.withheld = !tick.alive;
          if (!tick.alive) void this.notifier.status(`watchdog ping withheld: ${tick.reason ?? 'not alive'}`);
        }
        hooks.onWatchdog?.(tick);
      },
    );
  }

  stopping(reason: string): Promise<void> {
    return this.notifier.stopping(`stopping: ${reason}`);
  }

  async close(finalStatus?: string): Promise<void> {
    if (finalStatus !== undefined) await this.notifier.status(finalStatus);
    await this.notifier.close();
  }
}

/** Alive: the root supervisor is running and every supervisor's mailbox answers. */
export async function treeLiveness(root: Supervisor | undefined): Promise<true | string> {
  if (!root) return 'no root supervisor';
  const phase = root.inspect().status;
  if (phase !== 'running') return `root supervisor ${phase}`;
  await root.ping();
  return true;
}
