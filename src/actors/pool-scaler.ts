/**
 * Pool scaler: every interval, for each role, reads the backlog of the role's task consumer
 * (pending and ack-pending tasks) and grows the role's pool towards `max` while tasks wait — and
 * starts an agent for a role with work and none, whatever its `min` — or shrinks it towards `min`
 * when agents sit idle (`scaleStep`). Starting an agent is `startChild` on the role's pool
 * supervisor; a normal scale-down is `terminateChild`, which the health check does not count as
 * a problem.
 */
import { clusterNodeOf } from '../config/sections/cluster.ts';
import { describeError } from '../errors.ts';
import { actorLogger } from '../infra/observe/logger.ts';
import { scaleStep } from '../machines/pool-scaler.ts';
import { durableFor } from '../runner/pane-runner.ts';
import { agentIdOf, taskSubject } from '../runner/task-message.ts';
import { fromRuntime, type ChildSpec } from '../supervisor/index.ts';
import { agentInstanceChild } from './agent-pool.ts';
import type { OrchestraResources } from './resources.ts';

export const poolScalerLogic = fromRuntime<{ resources: OrchestraResources }>(({ resources }, controls) => {
  const logger = actorLogger(resources.logger, 'pool-scaler');
  const { config } = resources;
  let running = false;
  const tick = async () => {
    const bus = resources.bus;
    const agents = resources.root()?.childSupervisor('agents');
    if (!bus || !agents || running) return;
    running = true;
    try {
      for (const [role, agent] of Object.entries(config.agents)) {
        if (role === 'conductor') continue;
        const pool = agents.childSupervisor(`pool.${role}`);
        if (!pool) continue;
        const backlog = await bus.backlog({
          stream: bus.topology.streams.tasks,
          durable: durableFor(role),
          filterSubject: taskSubject(role),
          ackWaitMs: config.bus.ackWaitMs,
          maxDeliver: config.bus.maxDeliver,
        });
        const tree = pool.inspect();
        const instances = (tree.children ?? []).map((child) => ({ id: child.id, idle: child.state.endsWith('ready.idle') }));
        const step = scaleStep({ min: agent.min, max: agent.max, ...backlog, instances });
        if (step.kind === 'start') {
          const taken = new Set(pool.childIds());
          const node = clusterNodeOf(config);
          let index = 1;
          while (taken.has(agentIdOf(role, index, node))) index += 1;
          logger.info({ role, agent: agentIdOf(role, index, node), pending: backlog.pending, ackPending: backlog.ackPending }, 'tasks waiting: starting an agent');
          await pool.startChild(agentInstanceChild(resources, role, index));
        } else if (step.kind === 'stop') {
          logger.info({ role, agent: step.id }, 'pool idle: stopping an agent');
          await pool.terminateChild(step.id);
        }
      }
    } catch (error) {
      logger.warn({ err: describeError(error) }, 'pool scaling skipped this round');
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void tick(), config.panes.scaleIntervalMs);
  controls.setState('watching', { ready: true });
  return {
    shutdown: () => {
      clearInterval(timer);
      controls.done();
    },
    kill: () => clearInterval(timer),
  };
});

export function poolScalerChild(resources: OrchestraResources): ChildSpec<typeof poolScalerLogic> {
  return { id: 'pool-scaler', logic: poolScalerLogic, input: { resources }, restart: 'permanent', shutdown: 5_000 };
}
