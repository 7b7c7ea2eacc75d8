/**
 * `install-service [--user NAME] [--config PATH] [--create-user] [--print] [--unit-dir DIR]`:
 * writes the hardened systemd unit (src/orchestra/service-unit.ts) to
 * /etc/systemd/system/miyabi-orchestra.service, a starter config at PATH when there is none
 * (its data in /var/lib/miyabi), creates the system user when asked, and prints the next
 * commands. `--print` only prints the unit. An existing config is checked first: an invalid
 * one exits 2, and a `dataDir`, `workspace.repo` or `workspace.worktreesDir` outside /var/lib/miyabi is
 * made writable.
 */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { loadConfigOrExit } from '../connect.ts';
import { packageRoot } from '../../package-root.ts';
import {
  DEFAULT_SERVICE_CONFIG,
  DEFAULT_SERVICE_USER,
  renderUnit,
  SERVICE_DATA_DIR,
  SERVICE_NAME,
  starterConfig,
} from '../../orchestra/service-unit.ts';
import { CliExit, ExitCode } from '../output.ts';

export interface InstallServiceFlags {
  user?: string;
  config?: string;
  print?: boolean;
  'create-user'?: boolean;
  'unit-dir'?: string;
}

export async function installService(flags: InstallServiceFlags): Promise<number> {
  const user = flags.user ?? DEFAULT_SERVICE_USER;
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(user)) throw new CliExit(ExitCode.invalid, `--user ${user}: not a valid user name`);
  const config = resolve(flags.config ?? DEFAULT_SERVICE_CONFIG);
  const extraWritable: string[] = [];
  if (existsSync(config)) {
    const loaded = await loadConfigOrExit(config);
    for (const dir of [loaded.config.dataDir, loaded.config.workspace.repo, loaded.config.workspace.worktreesDir]) {
      if (dir !== undefined && !inside(dir, SERVICE_DATA_DIR)) extraWritable.push(dir);
    }
  }
  const unit = renderUnit({ bin: join(packageRoot(), 'bin', 'miyabi-orchestra'), nodeDir: dirname(process.execPath), user, config, extraWritable });
  if (flags.print) {
    process.stdout.write(unit);
    return ExitCode.ok;
  }

  const unitFile = join(flags['unit-dir'] ?? '/etc/systemd/system', SERVICE_NAME);
  await mkdir(dirname(unitFile), { recursive: true });
  await writeFile(unitFile, unit, { mode: 0o644 });
  process.stdout.write(`wrote ${unitFile}\n`);
  if (!existsSync(config)) {
    await mkdir(dirname(config), { recursive: true, mode: 0o755 });
    await writeFile(config, starterConfig(), { mode: 0o644 });
    process.stdout.write(`wrote ${config} (dataDir ${SERVICE_DATA_DIR}); set the issue source and agents: docs/CONFIGURATION.md\n`);
  }
  if (flags['create-user']) await createUser(user);

  process.stdout.write(
    [
      '',
      'next:',
      `  ${flags['create-user'] ? '' : `sudo useradd --system --home-dir ${SERVICE_DATA_DIR} --shell /usr/sbin/nologin ${user}   # unless it exists\n  `}sudoedit ${config}            # the issue source, agents, workspace.repo`,
      '  sudoedit /etc/miyabi/env                # tokens, e.g. GITHUB_TOKEN=… (mode 0600)',
      `  sudo -u ${user} ${join(packageRoot(), 'bin', 'miyabi-orchestra')} config check --config ${config}`,
      '  sudo systemctl daemon-reload',
      `  sudo systemctl enable --now ${SERVICE_NAME}`,
      `  systemctl status ${SERVICE_NAME}        # STATUS= line: what it is doing`,
      `  journalctl -u ${SERVICE_NAME} -f`,
      '',
    ].join('\n'),
  );
  return ExitCode.ok;
}

function inside(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith('..') && !rel.startsWith('/'));
}

async function createUser(user: string): Promise<void> {
  const exists = await execa('id', ['-u', user], { reject: false });
  if (exists.exitCode === 0) {
    process.stdout.write(`user ${user} exists\n`);
    return;
  }
  const made = await execa('useradd', ['--system', '--user-group', '--home-dir', SERVICE_DATA_DIR, '--no-create-home', '--shell', '/usr/sbin/nologin', user], {
    reject: false,
  });
  if (made.exitCode !== 0) throw new CliExit(ExitCode.failure, `could not create the user ${user}: ${made.stderr.trim()}`);
  process.stdout.write(`created the system user ${user}\n`);
}
