/**
 * What a start checks on the host before anything starts (orchestra.ts): the run file of an
 * earlier orchestra (refused while it runs, cleaned up when it died), the agents' sandbox, and
 * the workspace repository with its base branch. A problem of the config is refused through
 * `refuse` (naming the config path, as `config check` would); anything else is thrown as it is.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import { repoDirOf, worktreesDirOf } from '../config/paths.ts';
import type { OrchestraConfig } from '../config/schema.ts';
import { ErrorCodes, MiyabiError, describeError } from '../errors.ts';
import { flushLogger } from '../infra/observe/logger.ts';
import { WorktreeManager, ensureScratchRepository } from '../infra/git/worktrees.ts';
import { defaultBranch, fetchBranch, hasRemote, resolveCommit } from '../infra/git/branches.ts';
import { commandLineOf, processAlive } from '../infra/os/process.ts';
import { WorkspaceGit } from '../workflow/workspace-git.ts';
import { checkAgentSandbox } from './agent-sandbox.ts';
import { readRunFile, removeRunFile, type RunFile } from './run-file.ts';

/** Refuses the start for a problem of the config at `path` (a ConfigInvalidError); never returns. */
export type Refuse = (path: string, message: string) => Promise<never>;

/** Refuses to start beside a live orchestra on the same data directory; cleans up after a dead one. */
export async function checkPreviousRun(dataDir: string, logger: Logger): Promise<void> {
  const previous = await readRunFile(dataDir);
  if (previous.kind === 'live') {
    throw new MiyabiError(
      ErrorCodes.OrchestraAlreadyRunning,
      `an orchestra is already running with data directory ${dataDir} (pid ${previous.runFile.pid}); stop it first: miyabi-orchestra stop`,
    );
  }
  if (previous.kind === 'stale') {
    logger.warn({ reason: previous.reason }, 'stale run file from an orchestra that did not stop cleanly; cleaning up');
    stopOrphanedNatsServer(previous.runFile, logger);
    await removeRunFile(dataDir, previous.runFile?.pid);
  }
}

/** The agents' sandbox, probed once: refused when a role requires it, said once when agents run without. */
export async function checkSandbox(config: OrchestraConfig, logger: Logger, refuse: Refuse): Promise<void> {
  const sandbox = await checkAgentSandbox(config);
  if (sandbox.refused[0]) await refuse(sandbox.refused[0].path, sandbox.refused[0].message);
  if (sandbox.without.length > 0) {
    const roles = sandbox.without.map(({ role }) => role);
    logger.warn({ actorId: 'orchestra', roles, reason: sandbox.without[0]!.reason }, `agents of ${roles.join(', ')} run WITHOUT a sandbox: this host cannot make one, so they can read the data directory (secrets included) and signal the orchestra (docs/SECURITY.md)`);
  }
}

/**
 * The repository the agents work on, which must be one before anything starts; worktrees left by
 * an earlier run are removed (their branches, and so every commit, stay). Its base branch must
 * exist too.
 */
export async function prepareWorkspace(config: OrchestraConfig, logger: Logger, refuse: Refuse): Promise<{ worktrees: WorktreeManager; workspace: WorkspaceGit }> {
  const worktrees = new WorktreeManager({ repoDir: repoDirOf(config), rootDir: worktreesDirOf(config), logger });
  try {
    if (config.workspace.repo === undefined) {
      const scratch = await ensureScratchRepository(repoDirOf(config));
      logger.info({ repo: scratch.dir }, 'workspace.repo not set: the agents work on a scratch repository');
    }
    // Opens the repository first: not_a_git_repository when it is none.
    await worktrees.reconcile(new Set());
  } catch (error) {
    if (error instanceof MiyabiError && error.code === ErrorCodes.NotAGitRepository) await refuse('workspace.repo', error.message);
    await flushLogger(logger);
    throw error;
  }

  let baseBranch: string;
  try {
    baseBranch = await checkBaseBranch(repoDirOf(config), config.workspace.baseBranch);
  } catch (error) {
    baseBranch = await refuse('workspace.baseBranch', describeError(error));
  }
  if (config.issues.source === 'github' && !(await hasRemote(repoDirOf(config), 'origin'))) {
    // Nothing reaches GitHub's copy of the branches, and GitHub's merges never reach this clone.
    logger.warn(
      { repo: repoDirOf(config) },
      'workspace.repo has no origin remote: branches are not pushed, and dependents start from the local base branch, without what GitHub merged',
    );
  }
  const workspace = new WorkspaceGit({
    repoDir: repoDirOf(config),
    baseBranch,
    worktrees,
    tempDir: join(config.dataDir, 'restack'),
    logger: logger.child({ actorId: 'workspace' }),
  });
  return { worktrees, workspace };
}

/** A nats-server orphaned by a killed orchestra still holds our store; stop it if it is ours. */
function stopOrphanedNatsServer(runFile: RunFile | undefined, logger: Logger): void {
  const pid = runFile?.natsServerPid;
  if (!pid || !processAlive(pid)) return;
  const argv = commandLineOf(pid);
  if (!argv.some((arg) => arg.includes('nats-server')) || !runFile?.natsStoreDir || !argv.includes(runFile.natsStoreDir)) return;
  logger.warn({ pid }, 'stopping orphaned embedded nats-server');
  try {
    process.kill(pid, 'SIGKILL');
  } catch (error) {
    logger.warn({ pid, err: describeError(error) }, 'could not stop orphaned nats-server');
  }
}

/**
 * The base branch: the configured one, else the one checked out in the repository. It must exist
 * (locally, or on `origin` for a clone): `up` refuses to start, naming it, when it does not.
 */
async function checkBaseBranch(repoDir: string, configured: string | undefined): Promise<string> {
  const branch = configured ?? (await defaultBranch(repoDir)) ?? 'main';
  if (await resolveCommit(repoDir, `refs/heads/${branch}`)) return branch;
  if ((await hasRemote(repoDir, 'origin')) && (await fetchBranch(repoDir, 'origin', branch).catch(() => undefined))) return branch;
  throw new Error(`the base branch ${branch} does not exist in ${repoDir}${configured ? '' : ' (set workspace.baseBranch)'}`);
}
