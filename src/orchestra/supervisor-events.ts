/**
 * What the supervisors report, logged and counted: restarts and escalations, each actor's state
 * (`miyabi_actor_state`, its series removed when the actor stops for good), and the time from a
 * fault to the work running again (`miyabi_recovery_seconds{fault}`, the MTTR KPI):
 *
 *   fault noticed                                       recovered
 *   an agent's actor crashed: its runner exited         the restarted agent's first heartbeat
 *     (pane_died), no heartbeat (heartbeat_lost),         (its state reaches `ready`)
 *     its task past the timeout (timeout)
 *   the embedded nats-server alive but its JetStream    the server started again
 *     not answering, restarted (nats_stalled; a full
 *     disk wedges it: src/actors/nats-server.ts)
 *   any other actor crashed (actor_crash)               the actor started again
 *   the bus connection reconnecting (nats_reconnect)    connected again
 *   a task's agent stopped at the task's timeout by      that task running again (a busy heartbeat
 *     its runner (timeout; src/actors/lifecycles.ts)       naming it; src/actors/agent-pane.ts)
 *
 * Each fault and recovery is also told to `facts` (published as `kpi.fault` / `kpi.recovery` on
 * `miyabi.events.kpi`, so `miyabi-orchestra kpi` computes the MTTR from the bus: docs/KPI.md).
 */
import type { Logger } from 'pino';
import type { FaultBook } from '../actors/resources.ts';
import { describeError, ErrorCodes, MiyabiError } from '../errors.ts';
import type { Fault, OrchestraMetrics } from '../infra/observe/metrics.ts';
import type { SupervisorEvent } from '../supervisor/index.ts';
import type { FaultPayload, RecoveryPayload } from '../workflow/kpi-facts.ts';

export interface FaultFacts {
  fault(payload: FaultPayload): void;
  recovery(payload: RecoveryPayload): void;
}

/** The metrics' fault bookkeeping, each new fault and each recovery told to `facts` too. */
export function faultBook(metrics: OrchestraMetrics, facts: FaultFacts | undefined): FaultBook {
  return {
    noticed(actor: string, fault: Fault, now: number): void {
      if (metrics.faultNoticed(actor, fault, now)) facts?.fault({ actor, fault });
    },
    recovered(actor: string, now: number): void {
      const open = metrics.recovered(actor, now);
      if (open) facts?.recovery({ actor, fault: open.fault, noticedAt: new Date(open.at).toISOString() });
    },
  };
}

/** Agents live in `pool.<role>` supervisors. */
function isAgent(supervisor: string): boolean {
  return supervisor.startsWith('pool.');
}

/** What made an agent's actor fail, from the failure its machine reported (src/machines/agent-pane.ts). */
export function agentFault(error: unknown): Fault {
  const text = describeError(error);
  if (/runner exited|start failed|no pane driver/.test(text)) return 'pane_died';
  if (/no heartbeat|unresponsive/.test(text)) return 'heartbeat_lost';
  if (/timeout/.test(text)) return 'timeout';
  return 'actor_crash';
}

/** What made any other actor fail: a stalled broker restarted on purpose, or a crash. */
function actorFault(error: unknown): Fault {
  return error instanceof MiyabiError && error.code === ErrorCodes.NatsStalled ? 'nats_stalled' : 'actor_crash';
}

export function observeSupervisorEvent(event: SupervisorEvent, logger: Logger, metrics: OrchestraMetrics, now: number, facts?: FaultFacts): void {
  const faultsOf = faultBook(metrics, facts);
  const fields = { actorId: 'child' in event ? event.child : event.supervisor, supervisor: event.supervisor };
  switch (event.type) {
    case 'child.started':
      metrics.childKnown(event.supervisor, event.child);
      if (!isAgent(event.supervisor)) faultsOf.recovered(event.child, now);
      logger.info({ ...fields, restarts: event.restarts }, 'actor started');
      return;
    case 'child.start_failed':
      logger.error({ ...fields, err: describeError(event.error) }, 'actor failed to start');
      return;
    case 'child.exited':
      if (event.exit.kind === 'crash' || event.exit.kind === 'killed') {
        metrics.actorState(event.child, 'stopped');
        faultsOf.noticed(event.child, isAgent(event.supervisor) ? agentFault(event.exit.error) : actorFault(event.exit.error), now);
        logger.error({ ...fields, exit: event.exit.kind, err: describeError(event.exit.error) }, 'actor exited abnormally');
      } else {
        // Stopped on purpose (a pool scaling down, the tree stopping): its series go with it.
        metrics.actorStopped(event.child);
        logger.info({ ...fields, exit: event.exit.kind }, 'actor stopped');
      }
      return;
    case 'child.restarting':
      metrics.childRestarted(event.supervisor, event.child);
      logger.warn({ ...fields, restarts: event.restarts, delayMs: event.delayMs }, 'restarting actor');
      return;
    case 'child.killed':
      logger.warn({ ...fields, afterMs: event.afterMs }, 'actor ignored shutdown; killed');
      return;
    case 'child.state':
      metrics.actorState(event.child, event.state);
      if (event.child === 'bus' && event.state === 'reconnecting') faultsOf.noticed('bus', 'nats_reconnect', now);
      if (event.child === 'bus' && event.state === 'connected') faultsOf.recovered('bus', now);
      if (isAgent(event.supervisor) && event.state.includes('ready')) faultsOf.recovered(event.child, now);
      logger.debug({ ...fields, state: event.state }, 'actor state');
      return;
    case 'supervisor.escalated':
      metrics.supervisorEscalated(event.supervisor);
      logger.error({ actorId: event.supervisor, reason: event.reason }, 'supervisor gave up; escalating');
      return;
  }
}
