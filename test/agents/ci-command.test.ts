/**
 * The local CI command (`workflow.ci.command`) as the merge stage runs it: an argv array, never a
 * shell, in the issue's worktree, with the placeholders filled and only the base environment and
 * the `MIYABI_*` variables; its exit code the verdict, its last lines kept.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CI_LOG_TAIL_LINES, runCiCommand } from '../../src/agents/ci-command.ts';
import { packageDir } from '../../src/agents/command.ts';

let worktree: string | undefined;
afterEach(async () => {
  if (worktree) await rm(worktree, { recursive: true, force: true });
  worktree = undefined;
});

async function values() {
  worktree = await mkdtemp(join(tmpdir(), 'miyabi-ci-'));
  return { worktree, issue: 12, branch: 'miyabi/issue-12', baseBranch: 'main', headSha: 'a'.repeat(40) };
}

/** Prints what it got, one JSON line each (a kept line is cut at 500 characters): its argv, its working directory, its environment's names, the MIYABI_* values. */
const REPORT = [
  'console.log(JSON.stringify(process.argv.slice(1)))',
  'console.log(JSON.stringify(process.cwd()))',
  'console.log(JSON.stringify(Object.keys(process.env).sort()))',
  'console.log(JSON.stringify(Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith("MIYABI_") || name === "HOME"))))',
].join(';');

describe('workflow.ci.command', () => {
  it('runs the argv without a shell, in the worktree, placeholders filled, with the MIYABI_* variables and no secret of the orchestra', async () => {
    const run = await runCiCommand({
      command: ['node', '-e', REPORT, '{issue}', '{branch}', '{baseBranch}', '{headSha}', '{worktree}', '{packageRoot}', '$(touch pwned); echo `id` > x'],
      values: await values(),
      timeoutMs: 20_000,
      parentEnv: { PATH: process.env.PATH, HOME: '/home/ci', GITHUB_TOKEN: 'ghp_secret', NATS_PASSWORD: 'hunter2' },
    });
    expect(run).toMatchObject({ status: 'success', reason: 'exit code 0' });
    const [argv, cwd, names, env] = run.logTail.map((line) => JSON.parse(line) as unknown);
    expect(argv).toEqual(['12', 'miyabi/issue-12', 'main', 'a'.repeat(40), worktree, packageDir(), '$(touch pwned); echo `id` > x']);
    expect(cwd).toBe(worktree);
    expect(env).toEqual({
      HOME: '/home/ci',
      MIYABI_ISSUE: '12',
      MIYABI_BRANCH: 'miyabi/issue-12',
      MIYABI_BASE_BRANCH: 'main',
      MIYABI_HEAD_SHA: 'a'.repeat(40),
      MIYABI_WORKTREE: worktree,
    });
    expect(names).not.toContain('GITHUB_TOKEN');
    expect(names).not.toContain('NATS_PASSWORD');
  });

  it('a non-zero exit is red, with the last lines it printed', async () => {
    const run = await runCiCommand({
      command: ['node', '-e', 'for (let i = 1; i <= 100; i += 1) console.log("line " + i); console.error("1 test failed"); process.exit(3)'],
      values: await values(),
      timeoutMs: 20_000,
    });
    expect(run).toMatchObject({ status: 'failure', reason: 'exit code 3' });
    expect(run.logTail).toHaveLength(CI_LOG_TAIL_LINES);
    expect(run.logTail).toContain('1 test failed');
    expect(run.logTail).toContain('line 100');
    expect(run.logTail).not.toContain('line 1');
  });

  it('a program that does not exist is command_not_found, and an unknown placeholder is named', async () => {
    const missing = await runCiCommand({ command: ['no-such-ci-binary', '{worktree}'], values: await values(), timeoutMs: 20_000 });
    expect(missing).toMatchObject({ status: 'failure', code: 'command_not_found', reason: 'workflow.ci.command: command not found: no-such-ci-binary' });
    const unknown = await runCiCommand({ command: ['node', '{title}'], values: await values(), timeoutMs: 20_000 });
    expect(unknown).toMatchObject({ status: 'failure', code: 'command_unknown_placeholder' });
    expect(unknown.reason).toContain('{title}');
  });
});
