/**
 * Relative paths in the config resolve against one base directory: the directory of the config
 * file, or the current working directory for the embedded default (so `.miyabi` and
 * `examples/backlog` are found where the orchestra is started, as in a checkout).
 *
 * Resolved: dataDir, nats.embedded.binary (only when it holds a slash; a bare name is looked
 * up on PATH), nats.tls files, issues.local.dir and trackerDir, workflow.dependenciesFile,
 * workspace.repo and worktreesDir, agents.*.prompt. Agent commands are argv
 * arrays and are not touched: the agent runner gives them their working directory.
 */
import { isAbsolute, join, resolve } from 'node:path';
import type { OrchestraConfig } from './schema.ts';

export function resolveConfigPaths(config: OrchestraConfig, baseDir: string): OrchestraConfig {
  const at = (path: string) => resolve(baseDir, path);
  const opt = (path: string | undefined) => (path === undefined ? undefined : at(path));
  const { binary } = config.nats.embedded;
  const tls = config.nats.tls;
  return {
    ...config,
    dataDir: at(config.dataDir),
    nats: {
      ...config.nats,
      embedded: {
        ...config.nats.embedded,
        binary: binary !== undefined && (binary.includes('/') || isAbsolute(binary)) ? at(binary) : binary,
      },
      tls:
        tls === undefined
          ? undefined
          : { caFile: opt(tls.caFile), certFile: opt(tls.certFile), keyFile: opt(tls.keyFile) },
    },
    issues: {
      ...config.issues,
      local: { ...config.issues.local, dir: at(config.issues.local.dir), trackerDir: opt(config.issues.local.trackerDir) },
    },
    workflow: { ...config.workflow, dependenciesFile: opt(config.workflow.dependenciesFile) },
    workspace: { ...config.workspace, repo: opt(config.workspace.repo), worktreesDir: opt(config.workspace.worktreesDir) },
    agents: Object.fromEntries(
      Object.entries(config.agents).map(([role, agent]) => [role, { ...agent, prompt: opt(agent.prompt) }]),
    ),
  };
}

/** The orchestra's log file: `<dataDir>/logs/orchestra.log`. */
export function logFilePath(config: Pick<OrchestraConfig, 'dataDir'>): string {
  return join(config.dataDir, 'logs', 'orchestra.log');
}

/** How the orchestra's and the runners' log files rotate (`log.rotation`), as the logger takes it. */
export function logRotationOf(config: Pick<OrchestraConfig, 'log'>): { maxBytes: number; maxAgeMs: number; maxFiles: number } {
  const { maxBytes, maxAgeHours, maxFiles } = config.log.rotation;
  return { maxBytes, maxAgeMs: maxAgeHours * 3_600_000, maxFiles };
}

/** Where the local issue source writes back: `issues.local.trackerDir`, or `<dataDir>/tracker`. */
export function trackerDirOf(config: Pick<OrchestraConfig, 'dataDir' | 'issues'>): string {
  return config.issues.local.trackerDir ?? join(config.dataDir, 'tracker');
}

/** The repository the agents work on: `workspace.repo`, or the scratch repository of the embedded demo. */
export function repoDirOf(config: Pick<OrchestraConfig, 'dataDir' | 'workspace'>): string {
  return config.workspace.repo ?? join(config.dataDir, 'scratch-repo');
}

/** Where the issues' worktrees are made: `workspace.worktreesDir`, or `<dataDir>/worktrees`. */
export function worktreesDirOf(config: Pick<OrchestraConfig, 'dataDir' | 'workspace'>): string {
  return config.workspace.worktreesDir ?? join(config.dataDir, 'worktrees');
}
