/**
 * Restart handling (the "restart" section of OTP's supervisor.erl): what a supervisor does when
 * a child exits by itself. Its restart type says whether it comes back (`shouldRestart`); every
 * restart is counted against the restart intensity (`withinIntensity`), and one too many makes
 * the supervisor give up (escalation); the strategy says which siblings go with it
 * (`childrenToRestart`): they stop newest first and start again oldest first, after the backoff
 * delay when there is one. A restart that fails goes back through the supervisor's mailbox as
 * another exit, counted against the intensity, as OTP's `try_again_restart` does.
 *
 * The decisions are the pure functions of restart-policy.ts; this applies them to the children.
 * Runs only inside the supervisor's mailbox, one exit at a time.
 */
import { ErrorCodes, MiyabiError } from '../errors.ts';
import { exitText, type ChildRecord, type Children } from './children.ts';
import type { Clock } from './clock.ts';
import {
  backoffDelay,
  childrenToRestart,
  shouldRestart,
  withinIntensity,
  type Backoff,
  type ExitReason,
  type Intensity,
  type Strategy,
} from './restart-policy.ts';
import type { SupervisorListener } from './tree.ts';

export interface RestartsOptions {
  supervisorId: string;
  strategy: Strategy;
  intensity: Intensity;
  backoff: Backoff | undefined;
  clock: Clock;
  random: () => number;
  listener: SupervisorListener;
  children: Children;
  /** Restarts happen only while the supervisor is running (not starting, stopping or failed). */
  isRunning: () => boolean;
  /** The supervisor's mailbox: a delayed restart and a failed one come back through it. */
  enqueue: (operation: () => Promise<void> | void) => void;
  /** Stops every child and fails the supervisor with `error`, which its parent sees as a crash. */
  fail: (error: unknown) => Promise<void>;
}

export class Restarts {
  private restartTimes: number[] = [];

  constructor(private readonly options: RestartsOptions) {}

  /** A child ended by itself: restart it (and the siblings the strategy names), or give up. */
  async handleExit(record: ChildRecord, exit: ExitReason): Promise<void> {
    const { children, strategy, listener, supervisorId, backoff, clock } = this.options;
    if (!this.options.isRunning() || !children.has(record) || record.actor !== undefined) return;
    if (!shouldRestart(record.spec.restart, exit)) {
      if (record.spec.restart === 'temporary' || strategy === 'simple_one_for_one') children.remove(record);
      return;
    }
    const budget = withinIntensity(this.restartTimes, clock.now(), this.options.intensity);
    this.restartTimes = budget.restartTimes;
    if (!budget.ok) {
      await this.escalate(record, exit);
      return;
    }
    const groupIds = new Set(childrenToRestart(strategy, children.ids(), record.spec.id));
    const group = children.all.filter((child) => groupIds.has(child.spec.id));
    // Siblings go down newest first before the group comes back up oldest first.
    for (const sibling of [...group].reverse()) {
      if (sibling !== record) await children.stop(sibling);
    }
    const restartGroup = group.filter((child) => child === record || child.spec.restart !== 'temporary');
    for (const child of group) if (!restartGroup.includes(child)) children.remove(child);
    const delayMs = backoff ? backoffDelay(this.restartTimes.length - 1, backoff, this.options.random) : 0;
    for (const child of restartGroup) {
      child.restarts += 1;
      listener({ type: 'child.restarting', supervisor: supervisorId, child: child.spec.id, restarts: child.restarts, delayMs });
    }
    if (delayMs > 0) {
      for (const child of restartGroup) child.status = 'backoff';
      const timer = clock.setTimeout(() => this.options.enqueue(() => this.restartGroup(restartGroup, timer)), delayMs);
      record.backoffTimer = timer;
      return;
    }
    await this.restartGroup(restartGroup, undefined);
  }

  private async restartGroup(group: ChildRecord[], timer: unknown): Promise<void> {
    const { children } = this.options;
    for (const child of group) if (child.backoffTimer === timer) child.backoffTimer = undefined;
    if (!this.options.isRunning()) return;
    for (const child of group) {
      if (!children.has(child) || child.actor !== undefined) continue;
      try {
        await children.start(child);
      } catch (error) {
        // A failed restart is one more exit of the child, counted against the intensity.
        const exit: ExitReason = { kind: 'crash', error };
        child.lastExit = exit;
        child.status = 'stopped';
        this.options.enqueue(() => this.handleExit(child, exit));
        return;
      }
    }
  }

  private async escalate(record: ChildRecord, exit: ExitReason): Promise<void> {
    const { intensity, supervisorId } = this.options;
    const reason = `restart intensity exceeded (${intensity.restartIntensity} in ${intensity.restartPeriodMs} ms); last exit: ${record.spec.id} ${exitText(exit)}`;
    this.options.listener({ type: 'supervisor.escalated', supervisor: supervisorId, reason });
    await this.options.fail(
      new MiyabiError(ErrorCodes.SupervisorEscalated, `supervisor ${supervisorId}: ${reason}`, {
        cause: exit.kind === 'crash' || exit.kind === 'killed' ? exit.error : undefined,
      }),
    );
  }
}
