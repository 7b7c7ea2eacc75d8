/**
 * How the orchestra starts a pane runner: its own CLI, `pane --agent <id> --role <role>`, with
 * the config the orchestra runs on and the NATS URL to reach it. Only the orchestra's own paths
 * and ids go on this command line; nothing from an issue ever does.
 */
import { fileURLToPath } from 'node:url';
import type { OrchestraResources } from './resources.ts';

const cliMain = fileURLToPath(new URL('../cli/main.ts', import.meta.url));
const tsxLoader = new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url).href;

export function runnerArgv(resources: OrchestraResources, agentId: string, role: string): string[] {
  const config = resources.configPath === undefined ? [] : ['--config', resources.configPath];
  const entry = resources.runnerBundle ? [resources.runnerBundle] : ['--import', tsxLoader, cliMain];
  return [process.execPath, ...entry, 'pane', '--agent', agentId, '--role', role, ...config];
}

/** A spare runner of `role`: started ahead, it becomes an agent when claimed. */
export function spareArgv(resources: OrchestraResources, spareId: string, role: string): string[] {
  return runnerArgv(resources, spareId, role).map((arg) => (arg === '--agent' ? '--spare' : arg));
}

export function runnerEnv(resources: OrchestraResources, agentId: string, role: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined) env[name] = value;
  env.MIYABI_NATS_URL = resources.natsServers.join(',');
  env.MIYABI_AGENT_ID = agentId;
  env.MIYABI_ROLE = role;
  return env;
}
