/**
 * `--help` after a command prints the usage and does nothing of the command: `up --help` must not
 * start an orchestra, `nats-config --help` must not make seeds in a data directory.
 */
import { readdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir, type TempDir } from '../support/cli.ts';

let dir: TempDir;
beforeAll(async () => {
  dir = await tempDir('miyabi-help-');
});
afterAll(async () => {
  await dir[Symbol.asyncDispose]();
});

describe('--help', { timeout: 60_000 }, () => {
  it.each(['up', 'nats-config', 'cluster up'])('%s --help: the usage on stdout, exit 0, nothing done', async (command) => {
    const result = await runCli([...command.split(' '), '--help'], { cwd: dir.path });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^usage: miyabi-orchestra <command>/);
    expect(result.stderr).toBe('');
    // No data directory (.miyabi), no cluster directory: nothing was started or written.
    expect(await readdir(dir.path)).toEqual([]);
  });
});
