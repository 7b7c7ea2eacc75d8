/**
 * Runs one task with one agent: the whole agent protocol from the caller's side.
 *
 *   const run = await runAgent({ agent: config.agents.codegen, task, dataDir, onOutput, signal });
 *   // run.status: 'success' | 'retry' | 'failure' | 'changes_requested', run.reason, run.outputs …
 *
 * 1. Renders the role's prompt template for the task (a template error fails the task, naming
 *    the variable and the file).
 * 2. Writes `task.json` and `prompt.md` into `<dataDir>/tasks/<taskId>/`, OUTSIDE the worktree
 *    (refused if it would be inside), and removes a `result.json` left by an earlier attempt.
 * 3. Substitutes the command's `{placeholders}` (paths and numbers only) and runs the argv with
 *    cwd = the worktree, no shell, stdin ignored, a minimal environment plus `MIYABI_*`, output
 *    line by line to `onOutput`, in a process group killed at the timeout or on abort.
 * 4. Maps the end of the run and the result file to an outcome (`outcomeOf`, ./task.ts).
 *
 * Resolves with an outcome for everything about the run, including a missing command and a bad
 * template; rejects only when the task given is invalid (the caller's bug). The task directory
 * stays for inspection while the issue is open; `removeIssueTaskFiles` deletes them once it is finished
 * and `workspace.taskFilesRetentionHours` have passed (the workspace actor).
 */
import { mkdir, open, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { performance } from 'node:perf_hooks';
import { packageDir, substituteCommand } from './command.ts';
import { checkAgentProgram } from './command-check.ts';
import { isolatedArgv, type AgentIsolation } from './isolation.ts';
import { AgentErrorCodes, AgentProtocolError, type AgentErrorCode } from './errors.ts';
import { runInProcessGroup, type OutputStream } from './process-group.ts';
import { promptFileOf, renderPromptFile } from './prompt.ts';
import { probeSandbox, sandboxPlan, signalOfExitCode, type SandboxPlan } from './sandbox.ts';
import {
  agentTaskSchema,
  describeZodError,
  MAX_RESULT_FILE_BYTES,
  outcomeOf,
  TASK_SCHEMA_VERSION,
  type AgentOutcome,
  type AgentTask,
  type AgentTaskInput,
  type TaskFile,
} from './task.ts';

/** What the runner needs of a role's config (`AgentConfig` fits). */
export interface AgentSpec {
  command: readonly string[];
  taskTimeoutMs: number;
  /** SIGTERM → SIGKILL grace after a timeout or a cancel. Default 10 s. */
  graceMs?: number;
  /** Prompt template file. Default: the shipped `config/prompts/<role>.md`. */
  prompt?: string;
  /** Names of extra environment variables passed to the agent (`ANTHROPIC_API_KEY`). */
  env?: readonly string[];
  /** Another Unix user, a systemd scope with limits, the sandbox (./isolation.ts; unset: none of them). */
  isolation?: AgentIsolation;
}

export interface RunAgentOptions {
  agent: AgentSpec;
  task: AgentTaskInput;
  /** The orchestra's data directory; task files go to `<dataDir>/tasks/<taskId>/`. */
  dataDir: string;
  /** Each line the agent prints, as it prints it; must not throw. */
  onOutput?: (line: string, stream: OutputStream) => void;
  /** Aborting kills the agent's process group; the outcome is `retry` (`cancelled`). */
  signal?: AbortSignal;
  /** Called with the agent's pid (= its process group id) once it runs. */
  onSpawn?: (pid: number) => void;
  /** Where passed-through variables are read from. Default: process.env. */
  parentEnv?: NodeJS.ProcessEnv;
}

export interface AgentRun extends AgentOutcome {
  exitCode: number | undefined;
  /** The agent was stopped at `agent.taskTimeoutMs`. */
  timedOut?: boolean;
  signal: string | undefined;
  durationMs: number;
  pid: number | undefined;
  files: TaskFiles;
  /** Whether the agent ran in the sandbox (./sandbox.ts). */
  sandboxed: boolean;
}

export interface TaskFiles {
  dir: string;
  taskFile: string;
  promptFile: string;
  resultFile: string;
  /** Where the agent may keep its cost so far while it runs (the runner stops it past the task's cap). */
  costFile: string;
}

export const DEFAULT_GRACE_MS = 10_000;

/** Passed to every agent when set: what a CLI needs to find its home, its tools and its locale. */
export const BASE_ENV = [
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'LANG',
  'LANGUAGE',
  'LC_ALL',
  'LC_CTYPE',
  'LC_MESSAGES',
  'TERM',
  'COLORTERM',
  'TZ',
  'TMPDIR',
  'XDG_CONFIG_HOME',
  'XDG_CACHE_HOME',
  'XDG_DATA_HOME',
  'XDG_STATE_HOME',
  'XDG_RUNTIME_DIR',
] as const;

export function taskFilesOf(dataDir: string, taskId: string): TaskFiles {
  const dir = join(resolve(dataDir), 'tasks', taskId);
  return { dir, taskFile: join(dir, 'task.json'), promptFile: join(dir, 'prompt.md'), resultFile: join(dir, 'result.json'), costFile: join(dir, 'cost.json') };
}

export async function removeTaskFiles(dataDir: string, taskId: string): Promise<void> {
  await rm(taskFilesOf(dataDir, taskId).dir, { recursive: true, force: true });
}

/**
 * Removes the task directories of issue `issue` (`tasks/issue-<n>.*`, each stage, round and
 * attempt of every generation), once it is finished; with `olderThan` (epoch ms) only those last
 * changed before it. Returns how many went.
 */
export async function removeIssueTaskFiles(dataDir: string, issue: number, options: { olderThan?: number } = {}): Promise<number> {
  const prefix = `issue-${issue}.`;
  const entries = await readdir(join(resolve(dataDir), 'tasks')).catch(() => [] as string[]);
  let removed = 0;
  for (const name of entries.filter((entry) => entry.startsWith(prefix))) {
    const modified = (await stat(taskFilesOf(dataDir, name).dir).catch(() => undefined))?.mtimeMs;
    if (options.olderThan !== undefined && modified !== undefined && modified > options.olderThan) continue;
    await removeTaskFiles(dataDir, name);
    removed += 1;
  }
  return removed;
}

/** The agent's whole environment: BASE_ENV and `agent.env` from the parent, then `MIYABI_*`. */
export function agentEnv(task: AgentTask, files: TaskFiles, names: readonly string[], parent: NodeJS.ProcessEnv): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of [...BASE_ENV, ...names]) {
    const value = parent[name];
    if (value !== undefined) env[name] = value;
  }
  return Object.assign(env, {
    MIYABI_TASK_ID: task.taskId,
    MIYABI_TASK_FILE: files.taskFile,
    MIYABI_RESULT_FILE: files.resultFile,
    MIYABI_COST_FILE: files.costFile,
    MIYABI_PROMPT_FILE: files.promptFile,
    MIYABI_TASK_DIR: files.dir,
    MIYABI_ROLE: task.role,
    MIYABI_STAGE: task.stage,
    MIYABI_ISSUE: String(task.issue.number),
    MIYABI_ATTEMPT: String(task.attempt),
    MIYABI_ROUND: String(task.round),
    MIYABI_WORKTREE: task.worktree,
  });
}

function refused(code: AgentErrorCode, reason: string): AgentOutcome {
  return { status: 'failure', code, reason };
}

/** Renders the prompt, writes the task directory and builds the argv; or says why not. */
async function prepare(options: RunAgentOptions, task: AgentTask, files: TaskFiles): Promise<AgentOutcome | string[]> {
  const worktree = await stat(task.worktree).catch(() => undefined);
  if (!worktree?.isDirectory()) return refused(AgentErrorCodes.WorktreeMissing, `worktree does not exist: ${task.worktree}`);
  const inside = relative(task.worktree, files.dir);
  if (inside !== '..' && !inside.startsWith(`..${sep}`) && !isAbsolute(inside)) {
    return refused(AgentErrorCodes.TaskFilesUnwritable, `task directory ${files.dir} is inside the worktree ${task.worktree}`);
  }
  let prompt: string;
  let argv: string[];
  try {
    prompt = await renderPromptFile(promptFileOf(task.role, options.agent.prompt), { ...task, resultFile: files.resultFile });
    argv = substituteCommand(options.agent.command, {
      ...files,
      taskDir: files.dir,
      worktree: task.worktree,
      issue: task.issue.number,
      role: task.role,
      attempt: task.attempt,
      round: task.round,
      packageRoot: packageDir(),
    });
  } catch (error) {
    if (error instanceof AgentProtocolError) return refused(error.code, error.message);
    throw error;
  }
  const taskFile: TaskFile = { schema: TASK_SCHEMA_VERSION, ...task, prompt, resultFile: files.resultFile };
  try {
    await mkdir(files.dir, { recursive: true });
    await rm(files.resultFile, { force: true });
    await rm(files.costFile, { force: true });
    await writeFile(files.promptFile, prompt);
    await writeFile(files.taskFile, `${JSON.stringify(taskFile, null, 2)}\n`);
  } catch (error) {
    return refused(AgentErrorCodes.TaskFilesUnwritable, `cannot write the task files in ${files.dir}: ${(error as Error).message}`);
  }
  return argv;
}

/**
 * The sandbox the agent runs in (`isolation.sandbox`): what it hides and keeps; undefined for
 * none (`off`, or `auto` on a host that cannot make it); or why the agent may not run (`required`).
 */
async function sandboxOf(options: RunAgentOptions, task: AgentTask, files: TaskFiles): Promise<SandboxPlan | AgentOutcome | undefined> {
  const mode = options.agent.isolation?.sandbox ?? 'off';
  if (mode === 'off') return undefined;
  const probe = await probeSandbox(options.agent.isolation?.unshare);
  if (!probe.ok) {
    if (mode === 'auto') return undefined;
    return refused(AgentErrorCodes.SandboxUnavailable, `the agent's sandbox is required (isolation.sandbox: required) but this host cannot make it: ${probe.reason}`);
  }
  return sandboxPlan({ dataDir: options.dataDir, worktree: task.worktree, taskDir: files.dir, env: options.parentEnv ?? process.env });
}

/** The result file's text, at most one byte more than allowed (outcomeOf refuses that); undefined when absent. */
async function readResultFile(path: string): Promise<string | undefined> {
  const handle = await open(path, 'r').catch(() => undefined);
  if (handle === undefined) return undefined;
  try {
    const buffer = Buffer.alloc(MAX_RESULT_FILE_BYTES + 1);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
}

export async function runAgent(options: RunAgentOptions): Promise<AgentRun> {
  const started = performance.now();
  const parsed = agentTaskSchema.safeParse(options.task);
  if (!parsed.success) {
    throw new AgentProtocolError(AgentErrorCodes.TaskInvalid, `invalid task: ${describeZodError(parsed.error)}`);
  }
  const task = parsed.data;
  const files = taskFilesOf(options.dataDir, task.taskId);
  let sandbox: SandboxPlan | undefined;
  const ended = (outcome: AgentOutcome, end: Partial<Pick<AgentRun, 'exitCode' | 'signal' | 'pid' | 'timedOut'>> = {}): AgentRun => ({
    ...outcome,
    ...(end.timedOut ? { timedOut: true } : {}),
    exitCode: end.exitCode,
    signal: end.signal,
    pid: end.pid,
    durationMs: Math.round(performance.now() - started),
    files,
    sandboxed: sandbox !== undefined,
  });

  const cancelled = () => ended(outcomeOf({ exitCode: undefined, signal: undefined, timedOut: false, cancelled: true, resultFile: undefined }));
  if (options.signal?.aborted) return cancelled();
  const prepared = await prepare(options, task, files);
  if (!Array.isArray(prepared)) return ended(prepared);
  const planned = await sandboxOf(options, task, files);
  if (planned !== undefined && !('hidden' in planned)) return ended(planned);
  sandbox = planned;
  if (options.signal?.aborted) return cancelled();
  const [command] = prepared as [string, ...string[]];
  const env = agentEnv(task, files, options.agent.env ?? [], options.parentEnv ?? process.env);
  const [file, ...args] = isolatedArgv(prepared, options.agent.isolation, Object.keys(env), undefined, sandbox) as [string, ...string[]];
  if (sandbox !== undefined) {
    // In the sandbox a missing program is unshare's exit 127: said here as it is without one.
    try {
      checkAgentProgram([isAbsolute(command) || !command.includes('/') ? command : resolve(task.worktree, command)], env);
    } catch (error) {
      if (error instanceof AgentProtocolError) return ended(refused(error.code, error.message));
      throw error;
    }
  }

  const end = await runInProcessGroup({
    file,
    args,
    cwd: task.worktree,
    env,
    timeoutMs: options.agent.taskTimeoutMs,
    graceMs: options.agent.graceMs ?? DEFAULT_GRACE_MS,
    signal: options.signal,
    onOutput: options.onOutput,
    onSpawn: options.onSpawn,
  });
  if (end.spawnError) {
    const reason =
      end.spawnError.code === 'ENOENT'
        ? `command not found: ${file === command ? file : `${file} (running ${command})`}`
        : end.spawnError.code === 'EACCES'
          ? `command not executable: ${file}`
          : `command could not start: ${end.spawnError.message}`;
    return ended(refused(AgentErrorCodes.CommandNotFound, reason));
  }
  // The sandbox's PID 1 reports an agent killed by a signal as 128 + its number (./sandbox.ts).
  const signalInSandbox = sandbox !== undefined && end.signal === undefined ? signalOfExitCode(end.exitCode) : undefined;
  if (signalInSandbox !== undefined) Object.assign(end, { exitCode: undefined, signal: signalInSandbox });
  const outcome = outcomeOf({
    exitCode: end.exitCode,
    signal: end.signal,
    timedOut: end.timedOut,
    timeoutMs: options.agent.taskTimeoutMs,
    cancelled: end.cancelled,
    resultFile: await readResultFile(files.resultFile),
  });
  return ended(outcome, end);
}
