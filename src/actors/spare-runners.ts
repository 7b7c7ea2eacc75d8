/**
 * Spare runners: for each role with agents, one runner already started, loaded, configured and
 * connected, waiting in its own pane. When an agent's runner dies, its fresh agent actor claims
 * the spare (NATS request/reply) instead of starting a process from nothing, and a new spare is
 * started behind it. Starting a runner is most of the time to replace a dead agent; a claim
 * takes a few milliseconds. If no spare is ready, the agent starts its own runner as before.
 * On a cluster a spare's id starts with its node's name, so a claim reaches this node's spare
 * only (every node's spares listen on the one bus).
 */
import type { Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { clusterNodeOf } from '../config/sections/cluster.ts';
import { describeError } from '../errors.ts';
import type { PaneDriver, PaneHandle } from '../infra/panes/driver.ts';
import { spareClaimSubject, spareReadySubject } from '../runner/heartbeat.ts';
import { spareIdOf } from '../runner/task-message.ts';
import type { OrchestraResources, Spares } from './resources.ts';
import { runnerEnv, spareArgv } from './runner-command.ts';

interface Spare {
  id: string;
  handle: PaneHandle;
  ready: boolean;
}

export class SpareRunners implements Spares {
  private readonly spares = new Map<string, Spare>();
  private readonly starting = new Set<string>();
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private readonly subscriptions: Subscription[] = [];
  private counter = 0;
  private closed = false;

  constructor(
    private readonly resources: OrchestraResources,
    private readonly driver: PaneDriver,
    private readonly roles: readonly string[],
    private readonly logger: Logger,
  ) {
    const nc = resources.nc;
    if (nc) {
      this.subscriptions.push(
        nc.subscribe(spareReadySubject('*', '*'), {
          callback: (_error, message) => {
            // miyabi.spare.<role>.<spareId>.ready: only a runner of that role may say so.
            const [, , role, spareId] = message.subject.split('.');
            if (this.spares.get(role!)?.id === spareId) this.spares.get(role!)!.ready = true;
          },
        }),
      );
    }
    for (const role of roles) this.replenish(role);
  }

  /** The spare of `role`, claimed as `agentId`; undefined when none is ready (start one's own). */
  async claim(role: string, agentId: string, title: string): Promise<PaneHandle | undefined> {
    const spare = this.spares.get(role);
    const nc = this.resources.nc;
    if (!spare?.ready || !nc || nc.isClosed()) return undefined;
    this.spares.delete(role);
    try {
      const reply = await nc.request(spareClaimSubject(role, spare.id), JSON.stringify({ agentId }), { timeout: 2_000 });
      if (!(reply.json() as { ok?: boolean }).ok) throw new Error('spare refused the claim');
      spare.handle.setTitle(title);
      this.logger.info({ role, agentId, spare: spare.id, pid: spare.handle.pid }, 'agent took over a spare runner');
      return spare.handle;
    } catch (error) {
      this.logger.warn({ role, spare: spare.id, err: describeError(error) }, 'spare runner could not be claimed; starting one');
      spare.handle.kill();
      void spare.handle.exited.then(() => spare.handle.dispose());
      return undefined;
    } finally {
      this.replenish(role);
    }
  }

  private replenish(role: string): void {
    if (this.closed || this.spares.has(role) || this.starting.has(role)) return;
    this.starting.add(role);
    this.counter += 1;
    const id = spareIdOf(role, this.counter, clusterNodeOf(this.resources.config));
    this.driver
      .start({ id, title: `spare · ${role}`, argv: spareArgv(this.resources, id, role), env: runnerEnv(this.resources, id, role, 'spare'), cwd: process.cwd() })
      .then(
        (handle) => {
          this.starting.delete(role);
          if (this.closed) return handle.kill();
          const spare: Spare = { id, handle, ready: false };
          this.spares.set(role, spare);
          void handle.exited.then(() => {
            // A spare that dies unclaimed is replaced, after a pause so a broken one cannot spin;
            // its pane goes (nobody's post-mortem: no task ran in it), or tmux keeps it for ever.
            if (this.spares.get(role) !== spare) return;
            this.spares.delete(role);
            handle.dispose();
            this.logger.warn({ role, spare: id }, 'spare runner exited; replacing it');
            const timer = setTimeout(() => {
              this.retryTimers.delete(timer);
              this.replenish(role);
            }, 2_000);
            this.retryTimers.add(timer);
          });
        },
        (error: unknown) => {
          this.starting.delete(role);
          this.logger.warn({ role, err: describeError(error) }, 'spare runner could not start');
        },
      );
  }

  /** Stops the spares (the agents' own runners are their actors' business). */
  close(): void {
    this.closed = true;
    for (const timer of this.retryTimers) clearTimeout(timer);
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    for (const spare of this.spares.values()) spare.handle.terminate();
    this.spares.clear();
  }
}
