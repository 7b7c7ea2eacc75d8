/**
 * A sandbox for agent runs: a temp directory holding a real git repository (branch `main`, one
 * commit), a worktree of it on `miyabi/issue-<n>`, a data directory and a HOME of its own.
 * Removed (worktree first) by `await using`.
 */
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentSpec, AgentRun } from '../../src/agents/run-agent.ts';
import { runAgent } from '../../src/agents/run-agent.ts';
import type { AgentTaskInput, Issue } from '../../src/agents/task.ts';
import { defaultAgents } from '../../src/config/sections/agents.ts';

export interface Sandbox {
  root: string;
  repo: string;
  worktree: string;
  branch: string;
  dataDir: string;
  home: string;
  issueNumber: number;
  git(...args: string[]): Promise<string>;
  [Symbol.asyncDispose](): Promise<void>;
}

const gitEnv = {
  GIT_AUTHOR_NAME: 'Test',
  GIT_AUTHOR_EMAIL: 'test@example.invalid',
  GIT_COMMITTER_NAME: 'Test',
  GIT_COMMITTER_EMAIL: 'test@example.invalid',
  GIT_CONFIG_NOSYSTEM: '1',
};

async function git(cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await execa('git', args, { cwd, env: gitEnv, stripFinalNewline: true, maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

export async function sandbox(issueNumber = 7, options: { worktreeName?: string } = {}): Promise<Sandbox> {
  const root = await mkdtemp(join(tmpdir(), 'miyabi-agents-'));
  const repo = join(root, 'repo');
  const worktree = join(root, 'worktrees', options.worktreeName ?? `issue-${issueNumber}`);
  const branch = `miyabi/issue-${issueNumber}`;
  const home = join(root, 'home');
  await mkdir(repo, { recursive: true });
  await mkdir(join(home, 'x'), { recursive: true });
  await git(repo, 'init', '--quiet', '--initial-branch=main');
  await git(repo, 'commit', '--quiet', '--allow-empty', '-m', 'initial commit');
  await git(repo, 'worktree', 'add', '--quiet', '-b', branch, worktree);
  return {
    root,
    repo,
    worktree,
    branch,
    dataDir: join(root, 'data'),
    home,
    issueNumber,
    git: (...args) => git(worktree, ...args),
    async [Symbol.asyncDispose]() {
      await git(repo, 'worktree', 'remove', '--force', worktree).catch(() => undefined);
      await rm(root, { recursive: true, force: true });
    },
  };
}

export function issueOf(box: Sandbox, issue: Partial<Issue> = {}): Issue {
  return { number: box.issueNumber, title: 'Add a greeting', body: 'Say hello.', labels: [], author: 'octocat', ...issue };
}

let taskSeq = 0;

export function taskFor(box: Sandbox, role: string, overrides: Partial<AgentTaskInput> & { issue?: Issue } = {}): AgentTaskInput {
  taskSeq += 1;
  return {
    taskId: `issue-${box.issueNumber}.${role}.${process.pid}.${taskSeq}`,
    issue: issueOf(box),
    role,
    stage: role,
    attempt: 1,
    worktree: box.worktree,
    branch: box.branch,
    previous: {},
    ...overrides,
  };
}

export type ExampleRole = keyof typeof defaultAgents;
export const exampleRoles = Object.keys(defaultAgents) as ExampleRole[];

/** Runs a shipped example agent with its default command, HOME pointed into the sandbox. */
export async function runExample(
  box: Sandbox,
  role: ExampleRole,
  overrides: Partial<AgentTaskInput> & { issue?: Issue } = {},
  agent: Partial<AgentSpec> = {},
): Promise<AgentRun & { output: string[] }> {
  const output: string[] = [];
  const run = await runAgent({
    agent: { command: defaultAgents[role].command, taskTimeoutMs: 20_000, graceMs: 500, ...agent },
    task: taskFor(box, role, overrides),
    dataDir: box.dataDir,
    parentEnv: { ...process.env, HOME: box.home },
    onOutput: (line, stream) => output.push(`${stream}: ${line}`),
  });
  return Object.assign(run, { output });
}

/** Alive and not a zombie (a killed child not yet reaped is gone for our purposes). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Every file or directory in `dir` (and below it, if `recursive`) whose name starts with `prefix`. */
export async function findNamed(dir: string, prefix: string, recursive = true): Promise<string[]> {
  const entries = await readdir(dir, { recursive, withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => entry.name.startsWith(prefix)).map((entry) => join(entry.parentPath, entry.name));
}

export async function readJson(path: string): Promise<unknown> {
  return JSON.parse(await readFile(path, 'utf8'));
}
