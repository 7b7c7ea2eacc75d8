/**
 * Where the data goes, as an operator meets it: a data directory under /etc (a config there
 * without `dataDir` would put it next to itself) is refused naming the fix, and a data directory
 * the user cannot write makes `up` exit 2 naming the path and the user — the exit code a
 * systemd unit's `RestartPreventExitStatus=2` does not restart.
 */
import { execa } from 'execa';
import { chmod, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataDirProblem } from '../../src/config/load.ts';
import { cliPath, runCli, tempDir, type TempDir } from '../support/cli.ts';

let dir: TempDir;
beforeAll(async () => {
  dir = await tempDir('miyabi-datadir-');
});
afterAll(async () => {
  await dir[Symbol.asyncDispose]();
});

describe('the data directory', { timeout: 120_000 }, () => {
  it('is never under /etc: a config there without dataDir is told what to set', async () => {
    const config = await dir.file('etc.yaml', 'dataDir: /etc/miyabi/.miyabi\n');
    const result = await runCli(['up', '--config', config]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('dataDir');
    expect(result.stderr).toContain('/etc/miyabi/.miyabi is under /etc');
    expect(result.stderr).toContain('dataDir: /var/lib/miyabi');
    await expect(stat('/etc/miyabi/.miyabi')).rejects.toThrow();
    // The same file under /etc with no dataDir: the message says where the data would have gone.
    expect(dataDirProblem('/etc/miyabi/.miyabi', false)?.message).toMatch(/sets no dataDir, so the data would land next to it in \/etc\/miyabi\/\.miyabi: set `dataDir: \/var\/lib\/miyabi`/);
    expect(dataDirProblem('/var/lib/miyabi', false)).toBeUndefined();
  });

  it.skipIf(process.getuid?.() !== 0)('that the user cannot write makes up exit 2 naming the path and the user', async () => {
    // As `nobody`: a directory of root's, readable by all and writable by root only.
    await chmod(dir.path, 0o755);
    const locked = join(dir.path, 'locked');
    await mkdir(locked, { mode: 0o755 });
    const dataDir = join(locked, 'data');
    const config = await dir.file('nobody.yaml', `dataDir: ${dataDir}\n`);
    await chmod(config, 0o644);
    // Fresh bundle first (built as root; nobody cannot write dist/).
    expect((await runCli(['help'])).exitCode).toBe(0);
    const result = await execa('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', cliPath, 'up', '--config', config], {
      cwd: '/',
      reject: false,
      timeout: 60_000,
      env: { HOME: '/nonexistent', PATH: process.env.PATH! },
    });
    expect(result.stderr).toContain(`the data directory ${dataDir} is not writable by the user nobody`);
    expect(result.exitCode).toBe(2);
    await expect(stat(dataDir)).rejects.toThrow();
  });
});
