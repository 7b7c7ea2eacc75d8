/** runAgent with real processes in real git worktrees: files, env, cwd, output, timeout, cancel. */
import { mkdir, readFile, realpath, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AgentErrorCodes } from '../../src/agents/errors.ts';
import { runAgent, taskFilesOf, type AgentSpec, type RunAgentOptions } from '../../src/agents/run-agent.ts';
import { waitFor } from '../support/wait.ts';
import { alive, findNamed, sandbox, taskFor, type Sandbox } from './helpers.ts';

const probe = join(import.meta.dirname, 'fixtures', 'probe.mjs');

interface Probed {
  run: Awaited<ReturnType<typeof runAgent>>;
  lines: { line: string; stream: string }[];
  spawned: number[];
}

async function runProbe(box: Sandbox, args: string[], over: Partial<AgentSpec> = {}, options: Partial<RunAgentOptions> = {}): Promise<Probed> {
  const lines: Probed['lines'] = [];
  const spawned: number[] = [];
  const run = await runAgent({
    agent: { command: [process.execPath, probe, ...args], taskTimeoutMs: 20_000, graceMs: 500, prompt: over.prompt ?? (await template(box)), ...over },
    task: taskFor(box, 'codegen'),
    dataDir: box.dataDir,
    parentEnv: { ...process.env, HOME: box.home },
    onOutput: (line, stream) => lines.push({ line, stream }),
    onSpawn: (pid) => spawned.push(pid),
    ...options,
  });
  return { run, lines, spawned };
}

async function template(box: Sandbox, text = 'Implement #{{issue.number}}: {{issue.title}}\n\n{{issue.body}}\n', name = 'codegen.md'): Promise<string> {
  const file = join(box.root, 'prompts', name);
  await mkdir(join(box.root, 'prompts'), { recursive: true });
  await writeFile(file, text);
  return file;
}

const grandchildPid = (lines: Probed['lines']) =>
  Number(lines.map(({ line }) => /^grandchild (\d+)$/.exec(line)?.[1]).find((pid) => pid !== undefined));

const gone = (pid: number) => waitFor(() => !alive(pid), { timeoutMs: 3_000, what: `process ${pid} to be gone` });

describe('runAgent: the task files, the environment and the working directory', () => {
  it('runs the argv in the worktree with the task file, the prompt file and MIYABI_* set', async () => {
    await using box = await sandbox(7);
    const parentEnv = { ...process.env, HOME: box.home, SECRET_TOKEN: 'never-passed', PASSED_KEY: 'passed' };
    const { run, lines, spawned } = await runProbe(box, ['report', '{issue}', '{attempt}'], { env: ['PASSED_KEY'] }, { parentEnv });

    expect(run).toMatchObject({ status: 'success', reason: 'exit code 0', exitCode: 0, signal: undefined });
    expect(run.durationMs).toBeGreaterThan(0);
    expect(spawned).toEqual([run.pid]);
    const report = JSON.parse(lines.find(({ line }) => line.startsWith('REPORT '))!.line.slice('REPORT '.length));
    expect(report.cwd).toBe(await realpath(box.worktree));
    expect(report.argv).toEqual(['7', '1']);
    expect(report.pid).toBe(run.pid);

    const files = taskFilesOf(box.dataDir, report.task.taskId);
    expect(run.files).toEqual(files);
    expect(relative(box.worktree, files.dir).startsWith('..')).toBe(true);
    expect(report.env).toEqual({
      PATH: process.env.PATH,
      HOME: box.home,
      PASSED_KEY: 'passed',
      MIYABI_TASK_ID: report.task.taskId,
      MIYABI_TASK_FILE: files.taskFile,
      MIYABI_RESULT_FILE: files.resultFile,
      MIYABI_COST_FILE: files.costFile,
      MIYABI_PROMPT_FILE: files.promptFile,
      MIYABI_TASK_DIR: files.dir,
      MIYABI_ROLE: 'codegen',
      MIYABI_STAGE: 'codegen',
      MIYABI_ISSUE: '7',
      MIYABI_ATTEMPT: '1',
      MIYABI_ROUND: '0',
      MIYABI_WORKTREE: box.worktree,
    });
    expect(report.task).toMatchObject({
      schema: 1,
      issue: { number: 7, title: 'Add a greeting', body: 'Say hello.', labels: [], author: 'octocat' },
      role: 'codegen',
      stage: 'codegen',
      attempt: 1,
      worktree: box.worktree,
      branch: 'miyabi/issue-7',
      previous: {},
      prompt: 'Implement #7: Add a greeting\n\nSay hello.\n',
      resultFile: files.resultFile,
    });
    expect(report.prompt).toBe(report.task.prompt);
    expect(await readFile(files.promptFile, 'utf8')).toBe(report.prompt);

    expect(lines).toContainEqual({ line: 'a line on stderr', stream: 'stderr' });
    expect(lines).toContainEqual({ line: 'last line without a newline', stream: 'stdout' });
  });

  it('streams output line by line while the agent runs', async () => {
    await using box = await sandbox();
    let seenBeforeExit = false;
    const lines: string[] = [];
    const task = taskFor(box, 'codegen');
    const run = await runAgent({
      agent: { command: [process.execPath, probe, 'wait-go'], taskTimeoutMs: 20_000, prompt: await template(box) },
      task,
      dataDir: box.dataDir,
      onOutput: (line) => {
        lines.push(line);
        // The agent waits for this file: the run can only finish if 'started' arrived while it ran.
        if (line === 'started') {
          seenBeforeExit = true;
          void writeFile(join(taskFilesOf(box.dataDir, task.taskId).dir, 'go'), '');
        }
      },
    });
    expect(seenBeforeExit).toBe(true);
    expect(lines).toEqual(['started', 'done']);
    expect(run.status).toBe('success');
  });

  it('passes hostile placeholder values as single arguments', async () => {
    const hostile = 'a b; rm -rf ~ $(touch PWNED) `touch PWNED2` "q\' {role} \\n';
    await using box = await sandbox(3, { worktreeName: hostile });
    const { run, lines } = await runProbe(box, ['argv', '{worktree}', '--at={worktree}/x']);
    expect(run.status).toBe('success');
    const argv = JSON.parse(lines.find(({ line }) => line.startsWith('ARGV '))!.line.slice(5));
    expect(argv).toEqual([box.worktree, `--at=${box.worktree}/x`]);
    expect(await findNamed(box.root, 'PWNED')).toEqual([]);
    expect(await findNamed(tmpdir(), 'PWNED', false)).toEqual([]);
  });
});

describe('runAgent: the outcome', () => {
  it.each([
    [0, 'success', 'exit code 0'],
    [75, 'retry', 'exit code 75 (EX_TEMPFAIL): try again later'],
    [3, 'failure', 'exit code 3'],
  ])('exit %i without a result file is %s', async (code, status, reason) => {
    await using box = await sandbox();
    const { run } = await runProbe(box, ['result', '-', String(code)]);
    expect(run).toMatchObject({ status, reason, exitCode: code });
  });

  it('a result file wins over the exit code', async () => {
    await using box = await sandbox();
    const answer = JSON.stringify({ status: 'changes_requested', summary: 'needs tests', outputs: { feedback: ['add tests'] }, cost: { usd: 0.5 } });
    const { run } = await runProbe(box, ['result', answer, '1']);
    expect(run).toMatchObject({ status: 'changes_requested', summary: 'needs tests', outputs: { feedback: ['add tests'] }, cost: { usd: 0.5 }, exitCode: 1 });
  });

  it('an invalid result file is a failure naming the problem', async () => {
    await using box = await sandbox();
    const { run } = await runProbe(box, ['result', JSON.stringify({ status: 'ok' }), '0']);
    expect(run).toMatchObject({ status: 'failure', code: AgentErrorCodes.ResultInvalid });
    expect(run.reason).toContain('status: Invalid option');
  });

  it('a result file left by an earlier attempt is removed before the next one', async () => {
    await using box = await sandbox();
    const task = taskFor(box, 'codegen');
    const prompt = await template(box);
    const attempt = (n: number, args: string[]) =>
      runAgent({ agent: { command: [process.execPath, probe, 'result', ...args], taskTimeoutMs: 20_000, prompt }, task: { ...task, attempt: n }, dataDir: box.dataDir });
    expect((await attempt(1, [JSON.stringify({ status: 'success' }), '0'])).status).toBe('success');
    expect(await attempt(2, ['-', '3'])).toMatchObject({ status: 'failure', reason: 'exit code 3' });
  });
});

describe('runAgent: the timeout and cancellation kill the whole process group', () => {
  it('at the timeout: SIGTERM, then SIGKILL after the grace; no process of the group is left', async () => {
    await using box = await sandbox();
    const { run, lines } = await runProbe(box, ['hang-group', 'ignore-term'], { taskTimeoutMs: 400, graceMs: 300 });
    expect(run.status).toBe('retry');
    expect(run.reason).toBe('timed out after 400 ms; the agent\'s process group was killed');
    expect(run.signal).toBe('SIGKILL');
    expect(lines.map(({ line }) => line)).toContain('leader ignores SIGTERM');
    expect(run.durationMs).toBeGreaterThanOrEqual(650);
    await gone(run.pid!);
    await gone(grandchildPid(lines));
  });

  it('a leader that ends at SIGTERM takes the children that ignore it along', async () => {
    await using box = await sandbox();
    const { run, lines } = await runProbe(box, ['hang-group'], { taskTimeoutMs: 300, graceMs: 20_000 });
    // Ended by the SIGTERM: the grace (20 s) was not waited out, and no SIGKILL was needed.
    expect(run).toMatchObject({ status: 'retry', signal: 'SIGTERM' });
    expect(run.durationMs).toBeLessThan(20_000);
    await gone(grandchildPid(lines));
  });

  it('an agent that exits leaving a process behind (holding its stdout): the process is killed, the run ends', async () => {
    await using box = await sandbox();
    const { run, lines } = await runProbe(box, ['leave-child']);
    expect(run).toMatchObject({ status: 'success', exitCode: 0 });
    await gone(grandchildPid(lines));
  });

  it('a process that left the group and holds the output does not keep the run from ending', async () => {
    await using box = await sandbox();
    const { run, lines } = await runProbe(box, ['escape-group']);
    const escaped = Number(lines.map(({ line }) => /^escaped (\d+)$/.exec(line)?.[1]).find((pid) => pid !== undefined));
    try {
      // The escaped process sleeps for ever: that the run ended at all is the point.
      expect(run).toMatchObject({ status: 'success', exitCode: 0 });
    } finally {
      process.kill(escaped, 'SIGKILL');
    }
    await gone(escaped);
  });

  it('an abort cancels the run: the group is killed and the outcome is retry', async () => {
    await using box = await sandbox();
    const controller = new AbortController();
    const lines: string[] = [];
    const run = await runAgent({
      agent: { command: [process.execPath, probe, 'hang-group'], taskTimeoutMs: 20_000, graceMs: 300, prompt: await template(box) },
      task: taskFor(box, 'codegen'),
      dataDir: box.dataDir,
      signal: controller.signal,
      onOutput: (line) => {
        lines.push(line);
        if (line === 'hanging') controller.abort();
      },
    });
    expect(run).toMatchObject({ status: 'retry', reason: 'cancelled' });
    await gone(run.pid!);
    await gone(grandchildPid(lines.map((line) => ({ line, stream: 'stdout' }))));
  });

  it('an already aborted signal runs nothing', async () => {
    await using box = await sandbox();
    const { run, spawned } = await runProbe(box, ['report'], {}, { signal: AbortSignal.abort() });
    expect(run).toMatchObject({ status: 'retry', reason: 'cancelled', pid: undefined });
    expect(spawned).toEqual([]);
  });
});

describe('runAgent: what never starts an agent', () => {
  it('a command that does not exist is a failure naming it', async () => {
    await using box = await sandbox();
    const { run, spawned } = await runProbe(box, [], { command: ['no-such-agent-miyabi', '{taskFile}'] });
    expect(run).toMatchObject({ status: 'failure', code: AgentErrorCodes.CommandNotFound, reason: 'command not found: no-such-agent-miyabi' });
    expect(spawned).toEqual([]);
  });

  it('a command that is not executable is a failure saying so', async () => {
    await using box = await sandbox();
    const { run } = await runProbe(box, [], { command: [probe] });
    expect(run).toMatchObject({ status: 'failure', code: AgentErrorCodes.CommandNotFound, reason: `command not executable: ${probe}` });
  });

  it('an unknown placeholder is a failure naming it', async () => {
    await using box = await sandbox();
    const { run, spawned } = await runProbe(box, ['argv', '{issueTitle}']);
    expect(run).toMatchObject({ status: 'failure', code: AgentErrorCodes.CommandUnknownPlaceholder });
    expect(run.reason).toContain('{issueTitle}');
    expect(spawned).toEqual([]);
  });

  it('a template with an unknown variable is a failure naming the variable and the file', async () => {
    await using box = await sandbox();
    const prompt = await template(box, 'Fix {{issue.titel}}\n', 'broken.md');
    const { run, spawned } = await runProbe(box, ['report'], { prompt });
    expect(run).toMatchObject({ status: 'failure', code: AgentErrorCodes.PromptUnknownVariable });
    expect(run.reason).toContain(`unknown variable {{issue.titel}} in ${prompt} line 1`);
    expect(spawned).toEqual([]);
  });

  it('a worktree that does not exist, or a data directory inside the worktree, is a failure', async () => {
    await using box = await sandbox();
    const prompt = await template(box);
    const agent = { command: [process.execPath, probe, 'report'], taskTimeoutMs: 20_000, prompt };
    const missing = await runAgent({ agent, task: taskFor(box, 'codegen', { worktree: join(box.root, 'nope') }), dataDir: box.dataDir });
    expect(missing).toMatchObject({ status: 'failure', code: AgentErrorCodes.WorktreeMissing });
    const inside = await runAgent({ agent, task: taskFor(box, 'codegen'), dataDir: join(box.worktree, '.miyabi') });
    expect(inside).toMatchObject({ status: 'failure', code: AgentErrorCodes.TaskFilesUnwritable });
    expect(inside.reason).toContain('is inside the worktree');
    await expect(stat(join(box.worktree, '.miyabi'))).rejects.toThrow();
  });

  it('an invalid task is the caller\'s bug: rejected with task_invalid', async () => {
    await using box = await sandbox();
    const error = await runAgent({
      agent: { command: ['true'], taskTimeoutMs: 1000 },
      task: { ...taskFor(box, 'codegen'), taskId: '../escape' },
      dataDir: box.dataDir,
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: AgentErrorCodes.TaskInvalid });
  });
});
