/**
 * How the orchestra starts a pane runner: its own CLI, `pane --agent <id> --role <role>`, with
 * the config the orchestra runs on and the NATS URL to reach it. Only the orchestra's own paths
 * and ids go on this command line; nothing from an issue ever does.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { clusterNodeOf } from '../config/sections/cluster.ts';
import { envFieldNames } from '../config/secrets.ts';
import { packageRoot } from '../package-root.ts';
import { agentSlot, runnerIdentity, type RunnerSlot } from '../runner/task-message.ts';
import type { OrchestraResources } from './resources.ts';

/**
 * Node's flags for every runner. A young generation of at most 1 MiB a half: reading and
 * validating the config at start allocates enough that V8 grows it to 16 MiB and never gives it
 * back, 14 MiB of a runner's resident memory for the rest of its life (measured: 90 → 75 MiB,
 * bench `orchestra`). A runner allocates little once started (heartbeats, an agent's output a
 * line at a time), so the extra scavenges cost it nothing to notice.
 */
export const RUNNER_NODE_FLAGS = ['--max-semi-space-size=1'];

export function runnerArgv(resources: OrchestraResources, agentId: string, role: string): string[] {
  const config = resources.configPath === undefined ? [] : ['--config', resources.configPath];
  // Without the bundle (a checkout never built), the CLI's sources through tsx.
  const root = packageRoot();
  const tsx = pathToFileURL(join(root, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
  const entry = resources.runnerBundle ? [resources.runnerBundle] : ['--import', tsx, join(root, 'src', 'cli', 'main.ts')];
  return [process.execPath, ...RUNNER_NODE_FLAGS, ...entry, 'pane', '--agent', agentId, '--role', role, ...config];
}

/** A spare runner of `role`: started ahead, it becomes an agent when claimed. */
export function spareArgv(resources: OrchestraResources, spareId: string, role: string): string[] {
  return runnerArgv(resources, spareId, role).map((arg) => (arg === '--agent' ? '--spare' : arg));
}

/**
 * The runners' environment: the orchestra's, without its own secrets (the GitHub token, the
 * webhook secret, the NATS credentials: every variable an `*Env` field names) unless a role
 * passes one to its agents by name (`agents.<role>.env`). With NATS identities a runner's NATS
 * credentials are its role's seed file, named here; on an external NATS without them it gets the
 * configured ones, which it needs to connect at all.
 */
export function runnerBaseEnv(resources: Pick<OrchestraResources, 'config' | 'natsIdentities'>, parent: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const { config } = resources;
  const passed = new Set(Object.values(config.agents).flatMap((agent) => agent.env));
  const natsAuth = new Set(envFieldNames(config.nats.auth));
  const withheld = new Set(envFieldNames(config).filter((name) => !passed.has(name) && (resources.natsIdentities !== undefined || !natsAuth.has(name))));
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(parent)) if (value !== undefined && !withheld.has(name)) env[name] = value;
  return env;
}

/**
 * What a runner is told on top of the base environment: where NATS is, who it is. Paths and ids
 * only. Its NATS identity is its slot's: agent `<role>-<n>`'s (`<node>-<role>-<n>`'s on a cluster), or
 * the role's spare's (`slot`).
 */
export function runnerEnv(resources: OrchestraResources, agentId: string, role: string, slot: RunnerSlot | undefined = agentSlot(role, agentId, clusterNodeOf(resources.config))): Record<string, string> {
  const env = runnerBaseEnv(resources);
  env.MIYABI_NATS_URL = resources.natsServers.join(',');
  env.MIYABI_AGENT_ID = agentId;
  env.MIYABI_ROLE = role;
  // An agent id outside the role's slots has no identity: the server refuses its runner.
  const identity = slot === undefined ? undefined : resources.natsIdentities?.get(runnerIdentity(role, slot, clusterNodeOf(resources.config)));
  if (identity) env.MIYABI_NATS_NKEY_FILE = identity.file;
  return env;
}
