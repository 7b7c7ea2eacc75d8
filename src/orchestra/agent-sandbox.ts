/**
 * The agents' sandbox at start (`agents.<role>.isolation.sandbox`, src/agents/sandbox.ts): probed
 * once for every `unshare` the roles name, so that `up` refuses to start when a role requires it
 * and the host cannot make it, and says once, in one warn line, which roles run without it.
 */
import { probeSandbox } from '../agents/sandbox.ts';
import type { OrchestraConfig } from '../config/schema.ts';

export interface SandboxAtStart {
  /** Roles that require the sandbox, on a host that cannot make it: the config's path and why. */
  refused: Array<{ path: string; message: string }>;
  /** Roles whose agents run without it (`auto`), and why. */
  without: Array<{ role: string; reason: string }>;
}

export async function checkAgentSandbox(config: Pick<OrchestraConfig, 'agents'>): Promise<SandboxAtStart> {
  const result: SandboxAtStart = { refused: [], without: [] };
  for (const [role, agent] of Object.entries(config.agents)) {
    const { sandbox, unshare } = agent.isolation;
    if (sandbox === 'off') continue;
    const probe = await probeSandbox(unshare);
    if (probe.ok) continue;
    if (sandbox === 'required') {
      result.refused.push({
        path: `agents.${role}.isolation.sandbox`,
        message: `required, but this host cannot make the agent's sandbox: ${probe.reason} (docs/SECURITY.md: enable unprivileged user namespaces, or run agents as another user)`,
      });
    } else result.without.push({ role, reason: probe.reason });
  }
  return result;
}
