/**
 * Ctrl-C in a terminal (issue 15): the terminal signals the whole foreground process group, the
 * embedded nats-server included. The orchestra must stop in its own order — agents, core, bus,
 * then the server — not against a bus whose server the signal already killed.
 */
import { execa } from 'execa';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processAlive } from '../../src/infra/os/process.ts';
import { cliPath, repoRoot, runCli, tempDir, type TempDir } from '../support/cli.ts';
import { gitRepo } from '../support/orchestra.ts';
import { waitFor } from '../support/wait.ts';

let dir: TempDir;
let repo: string;
beforeAll(async () => {
  dir = await tempDir();
  repo = join(dir.path, 'target');
  await mkdir(repo);
  await gitRepo(repo);
});
afterAll(async () => {
  await dir[Symbol.asyncDispose]();
});

describe('Ctrl-C', { timeout: 120_000 }, () => {
  it('stops everything in order when the whole process group gets SIGINT, the server last', async () => {
    const dataDir = join(dir.path, 'data');
    const socket = `miyabi-test-interrupt-${process.pid}`;
    const config = await dir.file(
      'up.yaml',
      [
        `dataDir: ${dataDir}`,
        'http:',
        '  port: 0',
        'panes:',
        '  backend: tmux',
        `  socket: ${socket}`,
        'workspace:',
        `  repo: ${repo}`,
        'agents:',
        '  codegen:',
        '    command: [node, agent.mjs]',
        '    min: 1',
        '    max: 1',
        '',
      ].join('\n'),
    );
    // A job of its own, as a shell runs a foreground command: the group Ctrl-C signals.
    const up = execa(cliPath, ['up', '--config', config], { cwd: repoRoot, reject: false, timeout: 120_000, detached: true });
    try {
      const run = await waitFor(
        async () => JSON.parse(await readFile(join(dataDir, 'orchestra.json'), 'utf8')) as { natsServerPid: number },
        { timeoutMs: 30_000, what: 'run file' },
      );
      await waitFor(
        async () => {
          const status = await runCli(['status', '--json', '--config', config]);
          return status.exitCode === 0 && status.stdout.includes('alive.ready.idle') ? true : undefined;
        },
        { timeoutMs: 60_000, what: 'the agent ready' },
      );

      process.kill(-up.pid!, 'SIGINT');
      const result = await up;
      expect(result.exitCode).toBe(0);
      expect(processAlive(run.natsServerPid)).toBe(false);
      expect((await execa('tmux', ['-L', socket, 'list-sessions'], { reject: false })).exitCode).not.toBe(0);

      const log = (await readFile(join(dataDir, 'logs/orchestra.log'), 'utf8')).split('\n').filter(Boolean).map((line) => JSON.parse(line));
      const stopping = log.findIndex((line) => /stopping|shutting down/i.test(line.msg));
      expect(stopping).toBeGreaterThanOrEqual(0);
      // Nothing lost its server while stopping: no disconnection, no server exit, no warning at all.
      const afterStop = log.slice(stopping);
      expect(afterStop.filter((line) => line.level >= 40).map((line) => line.msg)).toEqual([]);
      const stopped = afterStop.filter((line) => line.msg === 'actor stopped').map((line) => line.actorId);
      expect(stopped.indexOf('bus')).toBeGreaterThanOrEqual(0);
      expect(stopped.indexOf('bus')).toBeLessThan(stopped.indexOf('nats-server'));
    } finally {
      if (up.exitCode === null && up.pid) process.kill(-up.pid, 'SIGKILL');
      await up;
    }
  });
});
