/**
 * One pool per role: a one_for_one supervisor that starts the role's `min` agent instances and
 * grows to `max` through `startChild`. Agent `n` is `<role>-<n>`, `<node>-<role>-<n>` on a cluster
 * (src/runner/task-message.ts: ids unique across the nodes sharing the bus). A crashed agent restarts alone, after a backoff, so a role
 * whose runner cannot come up backs off instead of spinning; the rest of the orchestra goes on.
 */
import type { AgentConfig } from '../config/schema.ts';
import { clusterNodeOf } from '../config/sections/cluster.ts';
import { agentIdOf } from '../runner/task-message.ts';
import { supervisorChild, type Backoff, type ChildSpec, type SupervisorSettings } from '../supervisor/index.ts';
import { agentPaneChild } from './agent-pane.ts';
import type { OrchestraResources } from './resources.ts';

/** Used for pools when the config sets no backoff: agents fail for outside reasons. */
export const DEFAULT_POOL_BACKOFF: Backoff = { minMs: 500, maxMs: 30_000, randomFactor: 0.2 };

export function agentInstanceChild(resources: OrchestraResources, role: string, index: number): ChildSpec {
  // An agent does not hold up the start of the orchestra: it shows `spawning` until its
  // runner's first heartbeat, and a runner that never comes up is restarted with backoff.
  return { ...agentPaneChild(resources, role, agentIdOf(role, index, clusterNodeOf(resources.config))), isReady: () => true };
}

export function agentPoolChild(resources: OrchestraResources, role: string, agent: AgentConfig, settings: SupervisorSettings): ChildSpec {
  return supervisorChild({
    ...settings,
    backoff: settings.backoff ?? DEFAULT_POOL_BACKOFF,
    id: `pool.${role}`,
    strategy: 'one_for_one',
    children: Array.from({ length: agent.min }, (_, index) => agentInstanceChild(resources, role, index + 1)),
  });
}
