/**
 * An agent instance: the agent-pane machine given its effects. The runner is started through the
 * pane driver (a tmux pane or a headless process) as `miyabi-orchestra pane --agent <id>`; its
 * exit comes from the driver, its heartbeats from core NATS, and its state is shown in the pane
 * title. Restarting the actor restarts the runner: a fresh actor starts a fresh runner.
 */
import type { Status } from '@nats-io/transport-node';
import { fromCallback } from 'xstate';
import { describeError } from '../errors.ts';
import { actorLogger } from '../infra/observe/logger.ts';
import type { PaneHandle } from '../infra/panes/driver.ts';
import { agentPaneMachine, type AgentPaneEvent, type AgentStatusLine } from '../machines/agent-pane.ts';
import { decodeHeartbeat, heartbeatSubject, jsonField, runnerErrorSubject } from '../runner/heartbeat.ts';
import { stopRecordedAgentGroup } from '../runner/pid-file.ts';
import type { ChildSpec } from '../supervisor/index.ts';
import type { OrchestraResources } from './resources.ts';
import { runnerArgv, runnerEnv } from './runner-command.ts';

export function statusTitle(status: AgentStatusLine): string {
  return `${status.displayName} · ${status.role} · ${status.state}${status.issue === undefined ? '' : ` · #${status.issue}`}`;
}

/** SIGKILL to a process group; false when it is gone. */
function killGroup(pgid: number): boolean {
  try {
    process.kill(-pgid, 'SIGKILL');
    return true;
  } catch {
    return false;
  }
}

export function agentPaneChild(resources: OrchestraResources, role: string, agentId: string): ChildSpec {
  const { config } = resources;
  const agent = config.agents[role]!;
  const logger = actorLogger(resources.logger, agentId, { role });
  // The current runner of this agent, for the actions that address it (one actor at a time).
  let handle: PaneHandle | undefined;
  let previous: PaneHandle | undefined;
  let lastTitle: string | undefined;
  /** What the runner last reported of its task in flight: a runner that dies leaves it behind. */
  let inFlight: { agentPid?: number; ackSubject?: string } | undefined;
  const releaseInFlight = () => {
    const { ackSubject, agentPid: reported } = inFlight ?? {};
    inFlight = undefined;
    // The group the runner recorded at spawn: its heartbeat naming the agent may never have left.
    const agentPid = stopRecordedAgentGroup(config.dataDir, agentId) ?? (reported !== undefined && killGroup(reported) ? reported : undefined);
    if (agentPid !== undefined) logger.warn({ agentPid }, 'stopped the agent its dead runner left behind');
    // Nak the task for the dead runner, so JetStream redelivers it now rather than after the ack
    // wait. Harmless if the runner had already acked or nak'd it.
    if (ackSubject !== undefined && resources.nc && !resources.nc.isClosed()) resources.nc.publish(ackSubject, '-NAK');
  };
  const logic = agentPaneMachine.provide({
    actors: {
      runner: fromCallback<AgentPaneEvent, { agentId: string }>(({ sendBack }) => {
        let cancelled = false;
        let started: PaneHandle | undefined;
        const driver = resources.paneDriver;
        if (!driver) {
          sendBack({ type: 'runner.exited', code: null, signal: 'no pane driver' });
          return () => {};
        }
        const title = `${agent.displayName} · ${role} · spawning`;
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
        const subscription = nc.subscribe(heartbeatSubject(agentId), {
          callback: (error, message) => {
            if (error) return logger.warn({ err: describeError(error) }, 'heartbeat subscription error');
            const heartbeat = decodeHeartbeat(message.data);
            if (!heartbeat) return;
            inFlight = heartbeat.state === 'busy' ? { agentPid: heartbeat.agentPid, ackSubject: heartbeat.ackSubject } : undefined;
            sendBack({ type: 'agent.heartbeat', heartbeat });
          },
        });
        const errors = nc.subscribe(runnerErrorSubject(agentId), {
          callback: (error, message) => {
            if (error) return;
            const reason = jsonField(message, 'reason') ?? message.string();
            logger.error({ reason }, 'runner cannot serve; its pool restarts it with backoff');
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
