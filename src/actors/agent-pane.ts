/**
 * An agent instance: the agent-pane machine given its effects. The runner is started through the
 * pane driver (a tmux pane or a headless process) as `miyabi-orchestra pane --agent <id>`; its
 * exit comes from the driver, its heartbeats from core NATS, and its state is shown in the pane
 * title. Restarting the actor restarts the runner: a fresh actor starts a fresh runner.
 */
import type { Status } from '@nats-io/transport-node';
import { fromCallback, fromPromise } from 'xstate';
import { describeError } from '../errors.ts';
import { jetStreamAnswers, untilJetStreamAnswers } from '../infra/nats/jetstream-liveness.ts';
import { actorLogger } from '../infra/observe/logger.ts';
import type { PaneHandle } from '../infra/panes/driver.ts';
import { agentPaneMachine, type AgentPaneEvent, type AgentStatusLine } from '../machines/agent-pane.ts';
import { decodeHeartbeat, heartbeatSubject, jsonField, runnerErrorSubject } from '../runner/heartbeat.ts';
import { stopRecordedAgentGroup } from '../runner/pid-file.ts';
import { CANNOT_SERVE, lastCannotServe, runnerLogFile } from '../runner/runner-log.ts';
import { taskAckPrefix } from '../runner/task-message.ts';
import type { ChildSpec } from '../supervisor/index.ts';
import type { OrchestraResources } from './resources.ts';
import { runnerArgv, runnerEnv } from './runner-command.ts';

export function statusTitle(status: AgentStatusLine): string {
  return `${status.displayName} · ${status.role} · ${status.state}${status.issue === undefined ? '' : ` · #${status.issue}`}`;
}

export function agentPaneChild(resources: OrchestraResources, role: string, agentId: string): ChildSpec {
  const { config } = resources;
  const agent = config.agents[role]!;
  const logger = actorLogger(resources.logger, agentId, { role });
  // The current runner of this agent, for the actions that address it (one actor at a time).
  let handle: PaneHandle | undefined;
  let previous: PaneHandle | undefined;
  let lastTitle: string | undefined;
  /** Whether the current runner said on the bus why it cannot serve (else its log is read when it exits). */
  let reported = false;
  /** What the runner last reported of its task in flight: a runner that dies leaves it behind. */
  let inFlight: { ackSubject?: string } | undefined;
  const releaseInFlight = () => {
    const { ackSubject } = inFlight ?? {};
    inFlight = undefined;
    // The group the runner recorded at spawn, never the one a heartbeat names: whoever holds the
    // role's identity could name any process group the orchestra may kill (the NATS server's).
    const agentPid = stopRecordedAgentGroup(config.dataDir, agentId);
    if (agentPid !== undefined) logger.warn({ agentPid }, 'stopped the agent its dead runner left behind');
    // Nak the task for the dead runner, so JetStream redelivers it now rather than after the ack
    // wait. Harmless if the runner had already acked or nak'd it. Only an ack of this role's
    // tasks: the orchestra publishes it with its own rights, which a heartbeat must not borrow
    // (a "-NAK" on a KV key would overwrite the workflow's state).
    if (ackSubject === undefined) return;
    if (!ackSubject.startsWith(taskAckPrefix(role))) logger.warn({ ackSubject }, 'a heartbeat named an ack subject not of its role; not used');
    else if (resources.nc && !resources.nc.isClosed()) resources.nc.publish(ackSubject, '-NAK');
  };
  // The broker asked before a silent runner is blamed: as long as one heartbeat interval (at least
  // a second), since it answers in milliseconds when it serves.
  const brokerTimeoutMs = Math.max(1_000, config.panes.heartbeatIntervalMs);
  const logic = agentPaneMachine.provide({
    actors: {
      brokerAnswers: fromPromise(async () => {
        const answers = await jetStreamAnswers(resources.nc, brokerTimeoutMs);
        if (!answers) logger.warn('no heartbeat, but the broker does not answer either: waiting for it, not blaming the runner');
        return answers;
      }),
      brokerBack: fromPromise(({ signal }) => untilJetStreamAnswers(() => resources.nc, { timeoutMs: brokerTimeoutMs, intervalMs: brokerTimeoutMs, signal })),
      runner: fromCallback<AgentPaneEvent, { agentId: string }>(({ sendBack }) => {
        let cancelled = false;
        let started: PaneHandle | undefined;
        const driver = resources.paneDriver;
        if (!driver) {
          sendBack({ type: 'runner.exited', code: null, signal: 'no pane driver' });
          return () => {};
        }
        const title = `${agent.displayName} · ${role} · spawning`;
        const startedAt = new Date().toISOString();
        reported = false;
        const spec = { id: agentId, title, argv: runnerArgv(resources, agentId, role), env: runnerEnv(resources, agentId, role), cwd: process.cwd() };
        (async () => (await resources.spares?.claim(role, agentId, title)) ?? (await driver.start(spec)))()
          .then(
            (pane) => {
              started = pane;
              if (cancelled) return pane.kill();
              // The last runner's pane, dead, when this one took over a spare's pane elsewhere.
              if (previous && previous !== pane) previous.dispose();
              previous = pane;
              handle = pane;
              lastTitle = undefined;
              if (pane.pid !== undefined) sendBack({ type: 'runner.started', pid: pane.pid });
              void pane.exited.then((exit) => {
                if (!cancelled) sendBack({ type: 'runner.exited', code: exit.code, signal: exit.signal });
                // Refused by the server (another role's identity), it could not say why on the bus.
                if (exit.code !== 0 && !reported) {
                  void lastCannotServe(runnerLogFile(config.dataDir, agentId), startedAt).then((reason) => {
                    if (reason !== undefined) logger.error({ reason, from: 'its log' }, `${CANNOT_SERVE}; its pool restarts it with backoff`);
                  });
                }
              });
            },
            (error: unknown) => {
              logger.error({ err: describeError(error) }, 'runner could not start');
              if (!cancelled) sendBack({ type: 'runner.exited', code: null, signal: `start failed: ${describeError(error)}` });
            },
          );
        return () => {
          cancelled = true;
          // Leaving `alive` (a failure or the supervisor's kill) ends the runner for good, and
          // the agent it was running with it.
          started?.kill();
          releaseInFlight();
          if (handle === started) handle = undefined;
        };
      }),
      heartbeats: fromCallback<AgentPaneEvent, { agentId: string }>(({ sendBack }) => {
        const nc = resources.nc;
        if (!nc) return () => {};
        const subscription = nc.subscribe(heartbeatSubject(role, agentId), {
          callback: (error, message) => {
            if (error) return logger.warn({ err: describeError(error) }, 'heartbeat subscription error');
            const heartbeat = decodeHeartbeat(message.data);
            if (!heartbeat) return;
            // Only this agent's slot identity may publish here (the server holds it to that); a
            // body naming another agent is not this runner speaking for itself.
            if (heartbeat.agentId !== agentId) return void logger.warn({ claimed: heartbeat.agentId }, 'a heartbeat named another agent; ignored');
            inFlight = heartbeat.state === 'busy' ? { ackSubject: heartbeat.ackSubject } : undefined;
            resources.heartbeats.set(agentId, Date.now());
            // A task stopped at its timeout is running again (src/actors/lifecycles.ts).
            if (heartbeat.state === 'busy' && heartbeat.taskId !== undefined) resources.faults.recovered(`task ${heartbeat.taskId}`, Date.now());
            sendBack({ type: 'agent.heartbeat', heartbeat });
          },
        });
        const errors = nc.subscribe(runnerErrorSubject(role, agentId), {
          callback: (error, message) => {
            if (error) return;
            reported = true;
            const reason = jsonField(message, 'reason') ?? message.string();
            logger.error({ reason }, `${CANNOT_SERVE}; its pool restarts it with backoff`);
          },
        });
        // The orchestrator's own connection: while it is down no heartbeat can arrive (the machine
        // suspends its deadline). A QueuedIterator: `stop()` ends it and unregisters it.
        const statuses = nc.status() as AsyncIterable<Status> & { stop?: () => void };
        void (async () => {
          for await (const status of statuses) {
            if (status.type === 'disconnect') sendBack({ type: 'bus.disconnected' });
            else if (status.type === 'reconnect') sendBack({ type: 'bus.reconnected' });
          }
        })().catch(() => undefined);
        return () => {
          subscription.unsubscribe();
          errors.unsubscribe();
          statuses.stop?.();
        };
      }),
    },
    actions: {
      show: (_, status) => {
        const title = statusTitle(status);
        if (title === lastTitle) return;
        lastTitle = title;
        handle?.setTitle(title);
        if (status.state === 'unresponsive' || status.state === 'overdue' || status.state === 'dead') {
          logger.warn({ state: status.state, issue: status.issue }, 'agent unhealthy');
        }
      },
      terminateRunner: () => handle?.terminate(),
    },
  });
  return {
    id: agentId,
    logic,
    input: {
      agentId,
      role,
      displayName: agent.displayName,
      heartbeatIntervalMs: config.panes.heartbeatIntervalMs,
      missedHeartbeats: config.panes.missedHeartbeats,
      taskTimeoutMs: agent.taskTimeoutMs,
      taskGraceMs: agent.graceMs + config.panes.heartbeatIntervalMs * config.panes.missedHeartbeats,
      spawnTimeoutMs: config.panes.spawnTimeoutMs,
    },
    // Ready once the runner's first heartbeat arrives (the `starting` tag ends).
    startTimeoutMs: config.panes.spawnTimeoutMs + 5_000,
    shutdown: agent.graceMs + 5_000,
  };
}
