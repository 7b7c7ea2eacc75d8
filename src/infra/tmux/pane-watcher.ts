/**
 * Reports each pane death of a tmux session exactly once.
 *
 * Polling is the source of truth: every `intervalMs` one `list-panes` through the control client
 * (~0.1 ms) reads `#{pane_dead}` of every pane. The `pane-died` hook alone is not enough: on tmux
 * 3.3a it missed about one crash in ten (a lost SIGCHLD leaves the pane dead but unreported).
 * The hook is still used as a wake-up: it signals a `tmux wait-for` channel, and a waiting client
 * makes the watcher poll at once. Both paths go through the same serialised poll, so a death seen
 * by both is reported once.
 *
 * A death is a (pane, pid) pair: a respawned pane has a new pid, so its next death is new. The
 * status comes from tmux (`pane_dead_status` / `pane_dead_signal`); when tmux has none (the lost
 * SIGCHLD), from the unreaped zombie's /proc entry; failing both, the watcher waits up to
 * `statusGraceMs` for tmux to learn it, then reports the death with an unknown status.
 *
 * A pane that vanished (`tmux kill-pane`, its window closed) leaves no dead pane to read: one
 * seen alive at the last poll and missing from this one is reported as a death without a status
 * (`statusFrom: 'gone'`). tmux sent its process group SIGHUP; whoever waits on the death kills
 * what may be left.
 */
import { execa, type ResultPromise } from 'execa';
import type { Logger } from 'pino';
import { decodeWaitStatus, readProcStat } from '../os/process.ts';
import type { PaneInfo, TmuxServer } from './client.ts';

export interface PaneDeath {
  paneId: string;
  /** The process that ended. */
  pid: number;
  /** Its exit code; null after a signal or when unknown. */
  exitCode: number | null;
  /** The signal that ended it; null after an exit or when unknown. */
  signal: number | null;
  /** Where the status was read: tmux, the zombie's /proc entry, nowhere, or the pane itself is gone. */
  statusFrom: 'tmux' | 'proc' | 'unknown' | 'gone';
}

export interface PaneWatcherOptions {
  server: TmuxServer;
  session: string;
  /** Called once per death, in the order seen. */
  onDeath: (death: PaneDeath) => void;
  /** A failed poll (session gone, server gone …) or a throwing onDeath. Polling goes on. */
  onError?: (error: unknown) => void;
  /** Default 250 ms. */
  intervalMs?: number;
  /** How long a death may wait for its status before it is reported without one. Default 1000 ms. */
  statusGraceMs?: number;
  /** Use the pane-died hook as a wake-up. Default true. */
  hook?: boolean;
  /** Milliseconds, monotonic. Default performance.now. */
  now?: () => number;
  logger?: Logger;
}

export class PaneWatcher {
  private readonly intervalMs: number;
  private readonly statusGraceMs: number;
  private readonly now: () => number;
  private readonly channel: string;
  /** Pane → pid whose death was reported. */
  private readonly reported = new Map<string, number>();
  /** Pane → the pid it ran at the last poll, alive: a pane missing from the next poll was killed. */
  private readonly alive = new Map<string, number>();
  /** Pane → the pid seen dead without a status, and since when. */
  private readonly waiting = new Map<string, { pid: number; since: number }>();
  private last: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private hookSet = false;
  private arming: Promise<void> = Promise.resolve();
  private waiter: ResultPromise | undefined;

  constructor(private readonly options: PaneWatcherOptions) {
    this.intervalMs = options.intervalMs ?? 250;
    this.statusGraceMs = options.statusGraceMs ?? 1_000;
    this.now = options.now ?? (() => performance.now());
    this.channel = `miyabi-pane-died-${options.session}`;
  }

  /** Polls now and then every interval until stop(). */
  start(): void {
    if (this.running) return;
    this.running = true;
    void this.tick();
  }

  /** Stops polling, removes the hook and its waiting client; resolves when all have ended. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    await Promise.all([this.last, this.arming]);
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.kill('SIGTERM');
    await waiter;
    if (this.hookSet) {
      this.hookSet = false;
      await this.options.server.run(['set-hook', '-w', '-u', '-t', `=${this.options.session}:`, 'pane-died']).catch(() => {});
    }
  }

  /** One poll, after any poll in progress; resolves with the deaths it reported. */
  poll(): Promise<PaneDeath[]> {
    const result = this.last.then(() => this.pollNow());
    this.last = result.catch(() => {});
    return result;
  }

  private async tick(): Promise<void> {
    try {
      await this.poll();
    } catch (error) {
      this.report(error);
    }
    if (this.running) this.timer = setTimeout(() => void this.tick(), this.intervalMs);
  }

  private async pollNow(): Promise<PaneDeath[]> {
    const panes = await this.options.server.listPanes(this.options.session);
    if (this.running && this.options.hook !== false && !this.hookSet) this.arming = this.armHook();
    const deaths: PaneDeath[] = [];
    const present = new Set<string>();
    for (const pane of panes) {
      if (pane.placeholder) continue;
      present.add(pane.paneId);
      const death = pane.dead ? this.deathOf(pane) : undefined;
      if (!pane.dead) this.reported.delete(pane.paneId);
      if (death) deaths.push(death);
    }
    for (const [paneId, pid] of this.alive) {
      if (!present.has(paneId)) deaths.push({ paneId, pid, exitCode: null, signal: null, statusFrom: 'gone' });
    }
    this.alive.clear();
    for (const pane of panes) if (!pane.placeholder && !pane.dead) this.alive.set(pane.paneId, pane.pid);
    for (const map of [this.reported, this.waiting]) {
      for (const paneId of map.keys()) if (!present.has(paneId)) map.delete(paneId);
    }
    for (const death of deaths) {
      try {
        this.options.onDeath(death);
      } catch (error) {
        this.report(error);
      }
    }
    return deaths;
  }

  /** The death to report for a dead pane, or undefined (already reported, or waiting for its status). */
  private deathOf(pane: PaneInfo): PaneDeath | undefined {
    const { paneId, pid } = pane;
    if (this.reported.get(paneId) === pid) return undefined;
    let death: PaneDeath = { paneId, pid, exitCode: pane.deadStatus, signal: pane.deadSignal, statusFrom: 'tmux' };
    if (pane.deadStatus === null && pane.deadSignal === null) {
      const stat = readProcStat(pid);
      if (stat?.state === 'Z' && stat.ppid === pane.serverPid && stat.waitStatus !== undefined) {
        death = { paneId, pid, ...decodeWaitStatus(stat.waitStatus), statusFrom: 'proc' };
      } else {
        const seen = this.waiting.get(paneId);
        const since = seen?.pid === pid ? seen.since : this.now();
        this.waiting.set(paneId, { pid, since });
        if (this.now() - since < this.statusGraceMs) return undefined;
        death = { ...death, statusFrom: 'unknown' };
      }
    }
    this.waiting.delete(paneId);
    this.reported.set(paneId, pid);
    return death;
  }

  /** Sets the pane-died hook of the session's window to signal our channel, and waits on it. */
  private async armHook(): Promise<void> {
    this.hookSet = true;
    const { server, session } = this.options;
    try {
      await server.run(['set-hook', '-w', '-t', `=${session}:`, 'pane-died', `wait-for -S ${this.channel}`]);
    } catch (error) {
      this.hookSet = false; // tried again after the next successful poll
      this.options.logger?.debug({ session, err: error }, 'pane-died hook not set');
      return;
    }
    this.wait();
  }

  private wait(): void {
    if (!this.running || this.waiter) return;
    const waiter = execa(this.options.server.tmux, ['-f', '/dev/null', '-L', this.options.server.socketName, 'wait-for', this.channel], {
      reject: false,
      stdin: 'ignore',
      cleanup: true,
      env: { TMUX: undefined, TMUX_PANE: undefined },
    });
    this.waiter = waiter;
    void waiter.then((result) => {
      if (this.waiter !== waiter) return; // stopped
      this.waiter = undefined;
      if (result.exitCode !== 0) {
        this.hookSet = false; // server or session gone: re-armed after the next successful poll
        return;
      }
      this.poll().catch((error: unknown) => this.report(error));
      this.wait();
    });
  }

  private report(error: unknown): void {
    if (this.options.onError) this.options.onError(error);
    else this.options.logger?.warn({ session: this.options.session, err: error }, 'pane watcher poll failed');
  }
}
