/**
 * Agents in panes, end to end: a task published on the bus reaches a runner (in a tmux pane or a
 * headless process), its agent runs in the issue's worktree, the result comes back on the bus
 * and the message is acknowledged. The same tests run on both backends.
 */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issue, startTestOrchestra, waitAgentReady, type TestOrchestra } from '../support/orchestra.ts';
import { waitFor } from '../support/wait.ts';

const codegen = { command: ['node', '{packageRoot}/examples/agents/codegen.mjs'], min: 1, max: 1, taskTimeoutMs: 20_000 };

describe.each(['process', 'tmux'] as const)('a task through a %s runner', { timeout: 120_000 }, (backend) => {
  let test: TestOrchestra;
  beforeAll(async () => {
    test = await startTestOrchestra({ backend, agents: { codegen } });
    await waitAgentReady(test, 'codegen', 'codegen-1');
  }, 60_000);
  afterAll(async () => {
    await test?.stop();
  });

  it('runs the agent in the issue worktree, publishes the result, then acks', async () => {
    const taskId = await test.dispatch('codegen', { issue: issue(7, { title: 'Add a greeting' }) });
    const result = await test.result(taskId);
    expect(result).toMatchObject({ status: 'success', issue: 7, attempt: 1, agentId: 'codegen-1', branch: 'miyabi/issue-7' });
    expect(result.worktree).toBe(join(test.dataDir, 'worktrees', 'issue-7'));
    const log = await execa('git', ['log', '--format=%s', 'miyabi/issue-7'], { cwd: test.repo });
    expect(log.stdout.split('\n').length).toBeGreaterThan(1);
    expect(await readFile(join(result.worktree, 'miyabi/issue-7.md'), 'utf8')).toContain('Add a greeting');
    // acknowledged: nothing pending or waiting for an ack on the role's consumer. The runner acks
    // after it published the result, so the ack may land a moment after the result arrived here.
    const consumer = async () =>
      (await test.orchestra.resources.bus!.streams())
        .find((stream) => stream.name === 'MIYABI_TASKS')!
        .consumers.find((candidate) => candidate.name === 'agents-codegen')!;
    await waitFor(async () => (await consumer()).ackPending === 0, { what: 'the task acked' });
    expect(await consumer()).toMatchObject({ pending: 0, ackPending: 0 });
  });

  it('keeps hostile issue text as data: nothing but the agent runs', async () => {
    const hostile = issue(8, {
      title: '$(touch PWNED) `touch PWNED2`; rm -rf ./x "quoted" \'single\'',
      body: `line1\n$(touch PWNED3)\n${'long text '.repeat(5_000)}`,
    });
    const taskId = await test.dispatch('codegen', { issue: hostile });
    const result = await test.result(taskId);
    expect(result.status).toBe('success');
    for (const where of [process.cwd(), test.repo, result.worktree, test.dataDir]) {
      for (const name of ['PWNED', 'PWNED2', 'PWNED3']) expect(existsSync(join(where, name)), `${where}/${name}`).toBe(false);
    }
    expect(await readFile(join(result.worktree, 'miyabi/issue-8.md'), 'utf8')).toContain('$(touch PWNED)');
  });

  it('writes the agent output to its log with task markers', async () => {
    // A task of its own, not one an earlier test ran.
    const taskId = await test.dispatch('codegen', { issue: issue(9, { title: 'Log me' }) });
    expect((await test.result(taskId)).status).toBe('success');
    // One file a day: read them all, should the task have crossed midnight.
    const dir = join(test.dataDir, 'logs', 'agents', 'codegen-1');
    const files = (await readdir(dir)).filter((name) => /\.log(\.\d+)?$/.test(name)).sort();
    const log = (await Promise.all(files.map((name) => readFile(join(dir, name), 'utf8')))).join('');
    expect(log).toMatch(new RegExp(`=== miyabi task start .*"taskId":"${taskId}".*"issue":9`));
    expect(log).toMatch(new RegExp(`=== miyabi task end .*"taskId":"${taskId}".*"issue":9.*"status":"success"`));
  });
});
