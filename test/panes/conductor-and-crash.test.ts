/**
 * What a person sees and what a crash leaves: the Conductor's pane shows the orchestra's tree,
 * and after `kill -9` of the orchestra the next `up` stops the runners and the tmux session it
 * left before starting its own; `stop` then leaves nothing.
 */
import { execa } from 'execa';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processAlive } from '../../src/infra/os/process.ts';
import { runCli, startUp, tempDir, type TempDir } from '../support/cli.ts';
import { gitRepo } from '../support/orchestra.ts';
import { waitFor } from '../support/wait.ts';

let dir: TempDir;
let config: string;
let dataDir: string;
const socket = `miyabi-test-crash-${process.pid}`;
const tmux = (...args: string[]) => execa('tmux', ['-L', socket, ...args], { reject: false });

beforeAll(async () => {
  dir = await tempDir('miyabi-crash-');
  const repo = join(dir.path, 'repo');
  await mkdir(repo);
  await gitRepo(repo);
  dataDir = join(dir.path, 'data');
  config = await dir.file(
    'miyabi.yaml',
    [
      `dataDir: ${dataDir}`,
      'http: { enabled: false }',
      `panes: { backend: tmux, socket: ${socket}, heartbeatIntervalMs: 500 }`,
      `workspace: { repo: ${repo} }`,
      'agents:',
      '  conductor: { command: [node, "{packageRoot}/examples/agents/conductor.mjs"], min: 1 }',
      '  codegen: { command: [node, "{packageRoot}/examples/agents/codegen.mjs"], min: 1 }',
      '',
    ].join('\n'),
  );
});
afterAll(async () => {
  await tmux('kill-server');
  await dir?.[Symbol.asyncDispose]();
});

const runnerPids = async (): Promise<number[]> => {
  const panes = await tmux('list-panes', '-a', '-F', '#{pane_pid} #{pane_dead}');
  return panes.stdout.split('\n').filter((line) => line.endsWith(' 0')).map((line) => Number(line.split(' ')[0]));
};

async function runFilePid(): Promise<number> {
  return JSON.parse(await readFile(join(dataDir, 'orchestra.json'), 'utf8')).pid as number;
}

describe('the Conductor pane and a crash of the orchestra', { timeout: 120_000 }, () => {
  it('shows the tree in the Conductor pane; after kill -9, the next up cleans up and stop leaves nothing', async () => {
    const first = startUp(['--config', config]);
    let second: ReturnType<typeof startUp> | undefined;
    try {
      await waitFor(async () => (await runFilePid()) === first.pid, { timeoutMs: 60_000, what: 'first orchestra up' });
      // The Conductor redraws the tree in its pane, next to the agent panes.
      const conductorPane = await waitFor(async () => {
        const panes = (await tmux('list-panes', '-a', '-F', '#{pane_id}\t#{pane_title}')).stdout.split('\n');
        return panes.find((line) => line.includes('Conductor · conductor'))?.split('\t')[0];
      }, { timeoutMs: 30_000, what: 'conductor pane' });
      await waitFor(async () => {
        const screen = (await tmux('capture-pane', '-p', '-t', conductorPane)).stdout;
        return screen.includes('Conductor') && screen.includes('codegen-1') && screen.includes('root (rest_for_one)');
      }, { timeoutMs: 30_000, what: 'tree drawn in the conductor pane' });
      // the conductor, codegen-1, and codegen's spare runner
      const orphans = await waitFor(async () => {
        const pids = await runnerPids();
        return pids.length === 3 ? pids : undefined;
      }, { timeoutMs: 30_000, what: 'three runner panes' });

      first.kill('SIGKILL');
      await first;
      // the runners outlive the orchestra in their tmux panes…
      expect(orphans.every(processAlive)).toBe(true);

      second = startUp(['--config', config]);
      await waitFor(async () => (await runFilePid()) === second!.pid, { timeoutMs: 60_000, what: 'second orchestra up' });
      // …until the next orchestra stops them and starts its own.
      await waitFor(() => orphans.every((pid) => !processAlive(pid)), { what: 'orphaned runners stopped' });
      await waitFor(async () => (await runnerPids()).length === 3, { timeoutMs: 30_000, what: 'new runners' });
      const fresh = await runnerPids();
      expect(fresh.some((pid) => orphans.includes(pid))).toBe(false);

      const stop = await runCli(['stop', '--config', config]);
      expect(stop.exitCode).toBe(0);
      expect((await second).exitCode).toBe(0);
      expect(fresh.every((pid) => !processAlive(pid))).toBe(true);
      expect((await tmux('list-sessions')).exitCode).not.toBe(0);
    } finally {
      if (first.exitCode === null) first.kill('SIGKILL');
      if (second && second.exitCode === null) second.kill('SIGKILL');
      await Promise.allSettled([first, second]);
    }
  });
});
