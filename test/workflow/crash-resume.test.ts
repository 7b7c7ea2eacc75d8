/**
 * `kill -9` of the orchestrator at random points of a backlog run, then `up` again, once in the
 * default suite and three times in `npm run test:long`: the run still completes with every issue done and no side effect twice. The kill
 * points are random counts of dispatched stages (printed, to replay a failure). And no task
 * stranded: with `min: 0` roles (the default), a kill while a task is ack-pending — delivered to a runner
 * that dies with the orchestrator — leaves no role without an agent for it after the restart.
 * (The workflow's own actors killed in turn: crash-actors.test.ts, a file of its own so that the
 * two long runs go on side by side.)
 */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliPath, repoRoot, tempDir } from '../support/cli.ts';
import { backlogConfig, CRASH_BACKLOG_WORKED, dispatchedSoFar, expectEachSideEffectOnce } from '../support/crash-backlog.ts';
import { waitFor } from '../support/wait.ts';

const dir = await tempDir('miyabi-crash-');
const socket = `miyabi-crash-${process.pid}`;
afterAll(async () => {
  await execa('tmux', ['-L', socket, 'kill-server'], { reject: false });
  await dir[Symbol.asyncDispose]();
});

describe('kill -9 of the orchestrator mid-backlog', () => {
  it('resumes each time and completes with the same final states and no duplicate side effects', async () => {
    // How many more stages to let through before each kill: random, printed, replayable.
    // One kill in the default suite (the chaos suite kills the orchestrator too), three in
    // `npm run test:long` (MIYABI_LONG=1): each round is a run of the crash backlog.
    const rounds = process.env.MIYABI_LONG === '1' ? 3 : 1;
    const gaps = process.env.MIYABI_CRASH_GAPS?.split(',').map(Number) ?? Array.from({ length: rounds }, () => 2 + Math.floor(Math.random() * 6));
    console.log(`crash-resume gaps ${gaps.join(',')} (MIYABI_CRASH_GAPS=${gaps.join(',')} to replay)`);
    const dataDir = join(dir.path, 'data');
    const config = await backlogConfig(dir, socket, 'crash', dataDir);
    const up = () => execa(cliPath, ['up', '--once', '--config', config], { cwd: repoRoot, reject: false, timeout: 150_000 });

    // The backlog dispatches about 25 stages in all: kill after a random number more, each round.
    for (let round = 0; round < gaps.length; round += 1) {
      const before = await dispatchedSoFar(dataDir);
      const killAt = before + gaps[round]!;
      const run = up();
      await waitFor(async () => (await dispatchedSoFar(dataDir)) >= killAt || run.exitCode !== null, {
        timeoutMs: 120_000,
        what: `${killAt} stages dispatched`,
      });
      run.kill('SIGKILL');
      await run;
    }
    const last = await up();
    expect(last.exitCode, last.stderr.slice(-2000)).toBe(0);
    expect(last.stdout).toContain(`${CRASH_BACKLOG_WORKED.length} of ${CRASH_BACKLOG_WORKED.length} issue(s) done`);

    await expectEachSideEffectOnce(dataDir);
  }, 400_000);

  it('with min: 0 roles, a task left ack-pending by kill -9 is not stranded: an agent starts for it and the issue is done', async () => {
    const dataDir = join(dir.path, 'min0');
    const issues = join(dir.path, 'min0-issues');
    const held = join(dir.path, 'min0-held');
    await mkdir(issues, { recursive: true });
    await writeFile(join(issues, '1.md'), '---\nnumber: 1\ntitle: Held at the kill\nlabels: [miyabi, type:docs]\nauthor: aiko\n---\nWrite it down.\n');
    const role = (command: string[]) => ({ command, min: 0, max: 1 });
    const config = await dir.file(
      'min0.yaml',
      [
        `dataDir: ${dataDir}`,
        'http: { enabled: false }',
        // A normal scale-down while the health monitor looks, often: it is not "degraded".
        'health: { checkIntervalMs: 20 }',
        'bus: { ackWaitMs: 3000 }',
        `issues: { local: { dir: ${issues}, pollIntervalMs: 500 } }`,
        'panes: { backend: process, scaleIntervalMs: 300 }',
        'workflow: { retry: { initialDelayMs: 200 } }',
        `agents: ${JSON.stringify({
          codegen: role(['node', join(repoRoot, 'test/support/agents/codegen.mjs'), 'hold', held]),
          pr: role(['node', join(repoRoot, 'examples/agents/pr.mjs')]),
        })}`,
      ].join('\n'),
    );
    const up = () => execa(cliPath, ['up', '--once', '--config', config], { cwd: repoRoot, reject: false, timeout: 60_000 });
    const first = up();
    // Codegen holds its first attempt: the task is delivered to its runner and not acked.
    await waitFor(() => existsSync(join(held, 'held-1')) || first.exitCode !== null, { timeoutMs: 60_000, what: 'the task held' });
    first.kill('SIGKILL');
    await first;
    const second = await up();
    expect(second.timedOut).toBe(false);
    expect(second.exitCode, second.stderr.slice(-2000)).toBe(0);
    expect(second.stdout).toContain('1 of 1 issue(s) done');
    const log = await readFile(join(dataDir, 'logs', 'orchestra.log'), 'utf8');
    expect(log).toContain('"msg":"pool idle: stopping an agent"');
    // The runner that held it died (the next `up` kills what the last one left): no result, and
    // still a line for the retry, from the runner that took the task over.
    const redelivered = log.split('\n').filter((line) => line.includes('"msg":"stage redelivered"')).map((line) => JSON.parse(line));
    expect(redelivered).toEqual([expect.objectContaining({ issue: 1, stage: 'codegen', role: 'codegen', attempt: 2, deliveryCount: 2 })]);
    expect(log).not.toContain('"msg":"orchestra degraded"');
  }, 150_000);
});
