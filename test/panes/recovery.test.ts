/**
 * Agents that misbehave, and runners that die: every failure is noticed, the runner is replaced,
 * and no task is lost. The same tests run on the tmux and the process backend.
 */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnyActorRef } from 'xstate';
import { processAlive } from '../../src/infra/os/process.ts';
import { parseMarker, type TaskMarker } from '../../src/infra/panes/log.ts';
import { taskSubject, TASK_DISPATCHED, type TaskMessage } from '../../src/runner/task-message.ts';
import { issue, startTestOrchestra, waitAgentReady, type TestOrchestra } from '../support/orchestra.ts';
import { waitFor } from '../support/wait.ts';

const example = (role: string) => ['node', `{packageRoot}/examples/agents/${role}.mjs`];
const hangOnce = ['node', resolve(import.meta.dirname, 'fixtures/hang-once.mjs')];
const answerThenHang = ['node', resolve(import.meta.dirname, 'fixtures/answer-then-hang.mjs')];
// Roles of the tests' own have no shipped template: they borrow codegen's.
const prompt = resolve(import.meta.dirname, '../../config/prompts/codegen.md');

async function readPaneMarkers(dir: string): Promise<TaskMarker[]> {
  const texts = await Promise.all((await readdir(dir)).map((file) => readFile(join(dir, file), 'utf8')));
  return texts.flatMap((text) => text.split('\n').map(parseMarker)).filter((marker) => marker !== undefined);
}

describe.each(['process', 'tmux'] as const)('recovery with the %s backend', { timeout: 120_000 }, (backend) => {
  let test: TestOrchestra;
  const agentActor = (role: string, id: string): AnyActorRef =>
    test.orchestra.root()!.childSupervisor('agents')!.childSupervisor(`pool.${role}`)!.childActor(id)!;
  const runnerPid = (role: string, id: string): number => (agentActor(role, id).getSnapshot() as { context: { pid: number } }).context.pid;
  const restarts = (role: string, id: string) => test.node(`root/agents/pool.${role}/${id}`)!.restarts;
  /** Until the role's task consumer has nothing pending and nothing waiting for an ack. */
  const consumerDrained = (role: string, what: string) =>
    waitFor(async () => {
      const streams = await test.orchestra.resources.bus!.streams();
      const { pending, ackPending } = streams.find((stream) => stream.name === 'MIYABI_TASKS')!.consumers.find((c) => c.name === `agents-${role}`)!;
      return pending === 0 && ackPending === 0;
    }, { what });

  beforeAll(async () => {
    test = await startTestOrchestra({
      backend,
      agents: {
        codegen: { command: example('codegen'), min: 1, max: 1, taskTimeoutMs: 20_000 },
        review: { command: example('review'), min: 1, max: 1, taskTimeoutMs: 20_000 },
        // No sandbox: the test reads the agent's pid from outside, which a PID namespace would not give.
        slow: { command: hangOnce, min: 1, max: 1, taskTimeoutMs: 60_000, prompt, isolation: { sandbox: 'off' } },
        hang: { command: example('codegen'), min: 1, max: 1, taskTimeoutMs: 1_500, graceMs: 500, prompt },
        answers: { command: answerThenHang, min: 1, max: 1, taskTimeoutMs: 60_000, prompt },
        ghost: { command: ['/nonexistent/agent-cli', '{taskFile}'], min: 1, max: 1, prompt },
      },
      // The replacements are the roles' spare runners.
      config: { panes: { spareRunners: true } },
    });
    for (const role of ['codegen', 'review', 'slow', 'hang', 'answers']) await waitAgentReady(test, role, `${role}-1`, 60_000);
  }, 120_000);
  afterAll(async () => {
    await test?.stop();
  });

  it('redelivers the task of a runner killed mid-task to its replacement, as attempt 2', async () => {
    const before = restarts('slow', 'slow-1');
    const firstRunner = runnerPid('slow', 'slow-1');
    const taskId = await test.dispatch('slow', { issue: issue(30) });
    const startedFile = join(test.dataDir, 'tasks', taskId, 'started-1');
    const agentPid = Number(await waitFor(() => readFile(startedFile, 'utf8'), { what: 'agent started' }));
    process.kill(firstRunner, 'SIGKILL');
    // Redelivered because the orchestra nak'd it for the dead runner, not by the 30 s ack wait.
    const result = await test.result(taskId, { attempt: 2, timeoutMs: 20_000 });
    expect(result).toMatchObject({ status: 'success', attempt: 2, agentId: 'slow-1' });
    // The runner that took it over said so at once, for the orchestra's log (the dead one never will).
    // With what the dead run spent: its cost so far, and its wall-clock up to the redelivery.
    const reports = test.redeliveries.filter((report) => report.taskId === taskId);
    expect(reports).toEqual([
      { taskId, issue: 30, role: 'slow', stage: 'slow', attempt: 2, deliveryCount: 2, agentId: 'slow-1', spent: { attempt: 1, durationMs: expect.any(Number), cost: { usd: 0.25, outputTokens: 10 } } },
    ]);
    expect(reports[0]!.spent!.durationMs).toBeGreaterThan(0);
    expect(restarts('slow', 'slow-1')).toBe(before + 1);
    expect(runnerPid('slow', 'slow-1')).not.toBe(firstRunner);
    // the replacement was the role's spare runner, started ahead and taken over
    const log = await readFile(join(test.dataDir, 'logs', 'orchestra.log'), 'utf8');
    expect(log).toMatch(/"agentId":"slow-1".*"msg":"agent took over a spare runner"/);
    // the orphaned agent of the dead runner was stopped, not left running
    await waitFor(() => !processAlive(agentPid), { what: 'orphaned agent stopped' });
    expect(test.results.filter((candidate) => candidate.taskId === taskId).map((candidate) => candidate.attempt)).toEqual([2]);
  });

  it('does not run a task again whose agent answered: its next delivery republishes the kept result and is acked', async () => {
    const taskId = await test.dispatch('codegen', { issue: issue(38) });
    expect((await test.result(taskId)).status).toBe('success');
    // As after a kill -9 of nats-server, which forgets an ack it had not yet written down: the task comes again.
    const again: TaskMessage = { taskId, role: 'codegen', stage: 'codegen', attempt: 1, branch: 'miyabi/issue-38', previous: {}, issue: issue(38) };
    await test.orchestra.resources.bus!.publish(taskSubject('codegen'), TASK_DISPATCHED, again, { msgId: `${taskId}.again` });
    await consumerDrained('codegen', 'the second delivery acked');
    const markers = await readPaneMarkers(join(test.dataDir, 'logs', 'agents', 'codegen-1'));
    expect(markers.filter((marker) => marker.kind === 'start' && marker.taskId === taskId)).toHaveLength(1);
    expect(test.results.filter((result) => result.taskId === taskId).map((result) => result.attempt)).not.toContain(2);
  });

  it('takes the answer an agent left in its result file when its runner died before keeping it: published once, not run again', async () => {
    const runner = runnerPid('answers', 'answers-1');
    const taskId = await test.dispatch('answers', { issue: issue(39) });
    const taskDir = join(test.dataDir, 'tasks', taskId);
    await waitFor(() => readFile(join(taskDir, 'answered'), 'utf8'), { what: 'the agent answered' });
    process.kill(runner, 'SIGKILL');
    // The replacement takes the answer of attempt 1 from the result file; it does not start attempt 2.
    const result = await test.result(taskId, { attempt: 1, timeoutMs: 20_000 });
    expect(result).toMatchObject({ status: 'success', attempt: 1, summary: 'answered before its runner died', agentId: 'answers-1' });
    expect(runnerPid('answers', 'answers-1')).not.toBe(runner);
    expect((await readFile(join(taskDir, 'runs'), 'utf8')).trim().split('\n')).toEqual(['1']);
    await consumerDrained('answers', 'the redelivery acked');
    expect(test.results.filter((candidate) => candidate.taskId === taskId)).toHaveLength(1);
  });

  it('restarts a runner that stops sending heartbeats', async () => {
    const before = restarts('slow', 'slow-1');
    const frozen = runnerPid('slow', 'slow-1');
    // A frozen process where we can (tmux continues a stopped pane at once): the runner's own
    // fault-injection signal silences its heartbeats instead.
    process.kill(frozen, backend === 'process' ? 'SIGSTOP' : 'SIGUSR2');
    await waitFor(() => restarts('slow', 'slow-1') === before + 1 && !processAlive(frozen), { what: 'frozen runner replaced' });
    await waitAgentReady(test, 'slow', 'slow-1');
    expect(runnerPid('slow', 'slow-1')).not.toBe(frozen);
  });

  it('kills an agent that hangs past its timeout and retries the task', async () => {
    const taskId = await test.dispatch('hang', { issue: issue(31, { labels: ['demo:hang'] }) });
    const result = await test.result(taskId, { attempt: 1 });
    expect(result.status).toBe('retry');
    expect(result.reason).toContain('timed out after 1500 ms');
    const second = await test.result(taskId, { attempt: 2 });
    expect(second.status).toBe('retry');
  });

  it('retries an agent that exits 75 and succeeds the next time', async () => {
    const taskId = await test.dispatch('codegen', { issue: issue(32, { labels: ['demo:tempfail-once'] }) });
    const first = await test.result(taskId, { attempt: 1 });
    expect(first).toMatchObject({ status: 'retry' });
    expect(first.reason).toContain('75');
    expect(await test.result(taskId, { attempt: 2 })).toMatchObject({ status: 'success' });
  });

  it('reports an agent that exits 1 as failed, once, and does not redeliver it', async () => {
    const taskId = await test.dispatch('codegen', { issue: issue(33, { labels: ['demo:fail'] }) });
    expect(await test.result(taskId)).toMatchObject({ status: 'failure', reason: 'exit code 1', attempt: 1 });
    // a later task on the same runner is served, and the failed one never came back
    const next = await test.dispatch('codegen', { issue: issue(34) });
    expect((await test.result(next)).status).toBe('success');
    expect(test.results.filter((result) => result.taskId === taskId)).toHaveLength(1);
  });

  it('passes on a review that asks for changes, with its feedback', async () => {
    const built = await test.dispatch('codegen', { issue: issue(35) });
    expect((await test.result(built)).status).toBe('success');
    const review = await test.dispatch('review', { issue: issue(35, { labels: ['demo:changes-requested-once'] }), stage: 'review' });
    const result = await test.result(review);
    expect(result.status).toBe('changes_requested');
    expect(result.summary ?? '').not.toBe('');
  });

  it('keeps a role whose command does not exist from taking tasks, says why, backs off, and the rest works', async () => {
    const taskId = await test.dispatch('ghost', { issue: issue(36) });
    await waitFor(() => restarts('ghost', 'ghost-1') >= 2, { timeoutMs: 30_000, what: 'ghost runner restarted with backoff' });
    const log = await readFile(join(test.dataDir, 'logs', 'orchestra.log'), 'utf8');
    expect(log).toContain('agents.ghost.command: command not found: /nonexistent/agent-cli');
    const delays = log
      .split('\n')
      .filter((line) => line.includes('"restarting actor"') && line.includes('"actorId":"ghost-1"'))
      .map((line) => JSON.parse(line).delayMs as number);
    expect(delays.length).toBeGreaterThanOrEqual(2);
    expect(delays[1]!).toBeGreaterThan(delays[0]!);
    // the task waits for a runner that can serve it: not failed, not dead-lettered
    expect(test.results.some((result) => result.taskId === taskId)).toBe(false);
    expect(test.node('root')!.status).toBe('running');
    const next = await test.dispatch('codegen', { issue: issue(37) });
    expect((await test.result(next)).status).toBe('success');
  });

  // Only tmux keeps a pane after its process died (remain-on-exit, for the post-mortem).
  if (backend === 'tmux') {
    it('replaces a spare runner that died and closes its dead pane', async () => {
      const panes = async () => {
        const listed = await execa('tmux', ['-L', test.socket, 'list-panes', '-a', '-F', '#{pane_pid} #{pane_dead} #{pane_title}']);
        return listed.stdout.split('\n').filter(Boolean).map((line) => {
          const [pid, dead, ...title] = line.split(' ');
          return { pid: Number(pid), dead: dead === '1', title: title.join(' ') };
        });
      };
      const spare = await waitFor(async () => (await panes()).find((pane) => pane.title === 'spare · codegen' && !pane.dead), { timeoutMs: 30_000, what: "codegen's spare runner" });
      process.kill(spare.pid, 'SIGKILL');
      await waitFor(async () => (await panes()).some((pane) => pane.title === 'spare · codegen' && !pane.dead && pane.pid !== spare.pid), { timeoutMs: 30_000, what: 'a new spare' });
      await waitFor(async () => !(await panes()).some((pane) => pane.pid === spare.pid), { timeoutMs: 10_000, what: "the dead spare's pane closed" });
    });
  }

  it('leaves no runner behind after stop', async () => {
    const pids = ['codegen', 'review', 'slow', 'hang'].map((role) => runnerPid(role, `${role}-1`));
    const dataDir = test.dataDir;
    await test.stop();
    test = undefined as never;
    await waitFor(() => pids.every((pid) => !processAlive(pid)), { what: 'runners gone' });
    expect(existsSync(join(dataDir, 'orchestra.json'))).toBe(false);
  });
});
