/**
 * `install-service` as an operator runs it, checked by systemd's own tools: the unit it prints
 * and the one it writes pass `systemd-analyze verify`, and `systemd-analyze security
 * --offline=true` rates them 2.5 or better; the shipped deploy/miyabi-orchestra.service is the
 * same unit for the default paths.
 */
import { execa } from 'execa';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderUnit } from '../../src/orchestra/service-unit.ts';
import { repoRoot, runCli, tempDir, type TempDir } from '../support/cli.ts';

let dir: TempDir;
beforeAll(async () => {
  dir = await tempDir('miyabi-unit-');
});
afterAll(async () => {
  await dir[Symbol.asyncDispose]();
});

async function verify(unitFile: string): Promise<void> {
  const result = await execa('systemd-analyze', ['verify', unitFile], { reject: false });
  expect(result.stderr, 'systemd-analyze verify').toBe('');
  expect(result.exitCode).toBe(0);
}

async function exposure(unitFile: string): Promise<number> {
  const result = await execa('systemd-analyze', ['security', '--offline=true', '--no-pager', unitFile], { reject: false });
  const match = /Overall exposure level for \S+: ([\d.]+)/.exec(result.stdout);
  expect(match, result.stdout + result.stderr).not.toBeNull();
  return Number(match![1]);
}

describe('install-service', { timeout: 120_000 }, () => {
  it('--print prints a unit systemd accepts and rates 2.5 or better, without writing anything', async () => {
    const config = join(dir.path, 'absent.yaml');
    const result = await runCli(['install-service', '--print', '--config', config]);
    expect(result.exitCode).toBe(0);
    const unit = result.stdout;
    for (const line of ['Type=notify', 'NotifyAccess=all', 'WatchdogSec=60', 'RestartPreventExitStatus=2', 'StateDirectory=miyabi', 'ConfigurationDirectory=miyabi', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'ReadWritePaths=/var/lib/miyabi', 'ProtectHome=yes', 'PrivateDevices=yes', 'SystemCallFilter=@system-service', 'CapabilityBoundingSet=', 'Environment=TMUX_TMPDIR=/var/lib/miyabi']) {
      expect(unit.split('\n'), line).toContain(line);
    }
    expect(unit).toContain(`ExecStart=${join(repoRoot, 'bin/miyabi-orchestra')} up --config ${config}`);
    const unitFile = join(dir.path, 'miyabi-orchestra.service');
    await writeFile(unitFile, unit);
    await verify(unitFile);
    expect(await exposure(unitFile)).toBeLessThanOrEqual(2.5);
    await expect(readFile(config)).rejects.toThrow();
  });

  it('writes the unit and a starter config whose data is in /var/lib/miyabi, and says what to run next', async () => {
    const unitDir = join(dir.path, 'units');
    const config = join(dir.path, 'etc', 'miyabi.yaml');
    const result = await runCli(['install-service', '--user', 'daemon', '--config', config, '--unit-dir', unitDir]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain('systemctl enable --now miyabi-orchestra.service');
    expect(await readFile(config, 'utf8')).toContain('dataDir: /var/lib/miyabi');
    const unitFile = join(unitDir, 'miyabi-orchestra.service');
    const unit = await readFile(unitFile, 'utf8');
    expect(unit).toContain('User=daemon\n');
    await verify(unitFile);
    expect(await exposure(unitFile)).toBeLessThanOrEqual(2.5);
    // The config it wrote is valid, and its data directory needs no extra writable path.
    expect((await runCli(['config', 'check', '--config', config])).exitCode).toBe(0);
    expect(unit).toContain('ReadWritePaths=/var/lib/miyabi\n');
  });

  it('refuses an invalid existing config with exit 2, and makes a repository and worktrees outside the data writable', async () => {
    const bad = await dir.file('bad.yaml', 'dataDir: /etc/miyabi/.miyabi\n');
    const refused = await runCli(['install-service', '--print', '--config', bad]);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain('dataDir: /var/lib/miyabi');
    const good = await dir.file('good.yaml', `dataDir: /var/lib/miyabi\nworkspace:\n  repo: /srv/target\n`);
    const printed = await runCli(['install-service', '--print', '--config', good]);
    expect(printed.stdout).toContain('ReadWritePaths=/var/lib/miyabi /srv/target\n');
    // A cluster's nodes on a shared filesystem (docs/CLUSTER.md): the worktrees there too.
    const shared = await dir.file('shared.yaml', `dataDir: /var/lib/miyabi\nworkspace:\n  repo: /srv/miyabi/repo\n  worktreesDir: /srv/miyabi/worktrees\n`);
    const sharedUnit = await runCli(['install-service', '--print', '--config', shared]);
    expect(sharedUnit.stdout).toContain('ReadWritePaths=/var/lib/miyabi /srv/miyabi/repo /srv/miyabi/worktrees\n');
  });

  // useradd needs root; CI runs as root, as the data-directory tests do.
  it.skipIf(process.getuid?.() !== 0)('--create-user makes a system user whose home is the data directory, once', async () => {
    const user = `miyabi-t${process.pid % 100_000}`;
    const unitDir = join(dir.path, 'units-user');
    const config = join(dir.path, 'etc-user', 'miyabi.yaml');
    const args = ['install-service', '--create-user', '--user', user, '--config', config, '--unit-dir', unitDir];
    await execa('userdel', [user], { reject: false });
    try {
      const made = await runCli(args);
      expect(made.exitCode, made.stderr).toBe(0);
      expect(made.stdout).toContain(`created the system user ${user}`);
      expect(made.stdout, 'no useradd left to do in the next steps').not.toContain('useradd');
      const entry = (await execa('getent', ['passwd', user])).stdout.split(':');
      expect(entry[5], 'home').toBe('/var/lib/miyabi');
      expect(entry[6], 'shell').toBe('/usr/sbin/nologin');
      const { stdout: sysMax } = await execa('sh', ['-c', "awk '/^SYS_UID_MAX/ {print $2}' /etc/login.defs"]);
      expect(Number(entry[2]), 'a system uid').toBeLessThanOrEqual(Number(sysMax || 999));
      expect((await execa('getent', ['group', user])).exitCode, 'its own group').toBe(0);
      expect(await readFile(join(unitDir, 'miyabi-orchestra.service'), 'utf8')).toContain(`User=${user}\nGroup=${user}\n`);
      const again = await runCli(args);
      expect(again.exitCode, again.stderr).toBe(0);
      expect(again.stdout).toContain(`user ${user} exists`);
    } finally {
      await execa('userdel', [user], { reject: false });
    }
  });

  it('ships deploy/miyabi-orchestra.service as the unit for the default paths', async () => {
    const shipped = await readFile(join(repoRoot, 'deploy/miyabi-orchestra.service'), 'utf8');
    expect(shipped).toBe(renderUnit({ bin: '/opt/miyabi-orchestra/bin/miyabi-orchestra', nodeDir: '/usr/bin' }));
  });
});
