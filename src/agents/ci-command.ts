/**
 * The local CI command (`workflow.ci.command`): the judge of an issue's branch before the merge
 * stage merges it, on the local source. An argv array run in the issue's worktree, never through
 * a shell; its exit code is the verdict, its last lines are kept to show the agent that fixes it.
 *
 * Like an agent it runs in a process group of its own (src/agents/process-group.ts): at the
 * timeout the whole group is killed, and nothing it started outlives it. It gets the base
 * environment (PATH, HOME, locale …) and the `MIYABI_*` variables below, nothing else of the
 * orchestra's environment (which may hold a token).
 *
 * Placeholders, inside single arguments: {worktree} {issue} {branch} {baseBranch} {headSha}
 * {packageRoot}. Values are paths, names and numbers only: issue text never reaches the command.
 */
import { AgentErrorCodes } from './errors.ts';
import { packageDir, placeholdersOutside, substitute } from './command.ts';
import { runInProcessGroup } from './process-group.ts';
import { BASE_ENV } from './run-agent.ts';

export const CI_PLACEHOLDERS = ['worktree', 'issue', 'branch', 'baseBranch', 'headSha', 'packageRoot'] as const;

export interface CiCommandValues {
  worktree: string;
  issue: number;
  branch: string;
  baseBranch: string;
  headSha: string;
}

export interface CiRun {
  status: 'success' | 'failure';
  /** One line: the exit code, the timeout, or why it could not run. */
  reason: string;
  /** `command_not_found` when the program does not exist: a config problem, not a red build. */
  code?: 'command_not_found' | 'command_unknown_placeholder';
  /** The last lines it printed (stdout and stderr interleaved), each at most 500 characters. */
  logTail: string[];
  durationMs: number;
}

export const CI_LOG_TAIL_LINES = 40;

export async function runCiCommand(options: {
  command: readonly string[];
  values: CiCommandValues;
  timeoutMs: number;
  graceMs?: number;
  signal?: AbortSignal;
  parentEnv?: NodeJS.ProcessEnv;
}): Promise<CiRun> {
  const started = Date.now();
  const unknown = placeholdersOutside(options.command, CI_PLACEHOLDERS);
  if (unknown.length > 0) {
    return {
      status: 'failure',
      code: AgentErrorCodes.CommandUnknownPlaceholder,
      reason: `unknown placeholder {${unknown[0]!.name}} in workflow.ci.command; known: ${CI_PLACEHOLDERS.map((name) => `{${name}}`).join(' ')}`,
      logTail: [],
      durationMs: 0,
    };
  }
  const { values } = options;
  const [file, ...args] = substitute(options.command, { ...values, packageRoot: packageDir() });
  const parent = options.parentEnv ?? process.env;
  const env: Record<string, string> = {};
  for (const name of BASE_ENV) if (parent[name] !== undefined) env[name] = parent[name]!;
  Object.assign(env, {
    MIYABI_ISSUE: String(values.issue),
    MIYABI_BRANCH: values.branch,
    MIYABI_BASE_BRANCH: values.baseBranch,
    MIYABI_HEAD_SHA: values.headSha,
    MIYABI_WORKTREE: values.worktree,
  });
  const tail: string[] = [];
  const end = await runInProcessGroup({
    file: file!,
    args,
    cwd: values.worktree,
    env,
    timeoutMs: options.timeoutMs,
    graceMs: options.graceMs ?? 5_000,
    ...(options.signal ? { signal: options.signal } : {}),
    onOutput: (line) => {
      tail.push(line.length > 500 ? `${line.slice(0, 500)}…` : line);
      if (tail.length > CI_LOG_TAIL_LINES) tail.shift();
    },
  });
  const durationMs = Date.now() - started;
  if (end.spawnError) {
    const missing = end.spawnError.code === 'ENOENT' || end.spawnError.code === 'EACCES';
    return {
      status: 'failure',
      ...(missing ? { code: AgentErrorCodes.CommandNotFound } : {}),
      reason: missing ? `workflow.ci.command: command not found: ${file}` : `workflow.ci.command could not start: ${end.spawnError.message}`,
      logTail: tail,
      durationMs,
    };
  }
  if (end.timedOut) return { status: 'failure', reason: `timed out after ${options.timeoutMs} ms`, logTail: tail, durationMs };
  if (end.signal !== undefined) return { status: 'failure', reason: `killed by ${end.signal}`, logTail: tail, durationMs };
  if (end.exitCode === 0) return { status: 'success', reason: 'exit code 0', logTail: tail, durationMs };
  return { status: 'failure', reason: `exit code ${end.exitCode}`, logTail: tail, durationMs };
}
