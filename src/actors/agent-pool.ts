/**
 * One pool per role: a one_for_one supervisor that starts the role's `min` agents and grows to
 * `max` through `startChild`. A crashed agent restarts alone.
 */
import { agentMachine } from '../machines/agent.ts';
import type { AgentConfig } from '../config/schema.ts';
import { supervisorChild, type ChildSpec } from '../supervisor/index.ts';
import type { SupervisorSettings } from '../orchestra/tree.ts';

export function agentChild(role: string, index: number, agent: AgentConfig): ChildSpec {
  const agentId = `${role}-${index}`;
  return { id: agentId, logic: agentMachine, input: { agentId, role, displayName: agent.displayName } };
}

export function agentPoolChild(role: string, agent: AgentConfig, settings: SupervisorSettings): ChildSpec {
  return supervisorChild({
    ...settings,
    id: `pool.${role}`,
    strategy: 'one_for_one',
    children: Array.from({ length: agent.min }, (_, index) => agentChild(role, index + 1, agent)),
  });
}
