/** `doctor`: checks what the host needs and says what to install. */
import { execa } from 'execa';
import { access, constants, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ConfigInvalidError, formatProblem } from '../../config/problems.ts';
import { loadConfig } from '../../config/load.ts';
import { pino } from 'pino';
import { resolveSecrets } from '../../config/secrets.ts';
import { createIssueSource } from '../../issues/create-source.ts';
import { describeError } from '../../errors.ts';
import { findNatsServerBinary } from '../../infra/nats/embedded-server.ts';
import { probeSandbox } from '../../agents/sandbox.ts';
import type { OrchestraConfig } from '../../config/schema.ts';
import { cliRedactor, connectCli } from '../connect.ts';
import { ExitCode } from '../output.ts';

interface Check {
  name: string;
  ok: boolean;
  detail: string;
  /** What to do about it, when not ok (or a warning). */
  fix?: string;
  /** Not a failure, but said with `!` and its fix. */
  warn?: boolean;
}

const MIN_NODE = [20, 6] as const;

async function versionOf(command: string, args: string[]): Promise<string | undefined> {
  const result = await execa(command, args, { reject: false, timeout: 5_000 });
  return result.exitCode === 0 ? `${result.stdout}${result.stderr}`.split('\n')[0]!.trim() : undefined;
}

export async function doctor(flags: { config?: string }): Promise<number> {
  const checks: Check[] = [];
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  checks.push({
    name: 'node',
    ok: major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1]),
    detail: `v${process.versions.node}`,
    fix: `install Node.js >= ${MIN_NODE.join('.')}`,
  });

  let config: OrchestraConfig | undefined;
  try {
    const loaded = await loadConfig(flags.config);
    config = loaded.config;
    const { problems } = resolveSecrets(loaded.config);
    checks.push({
      name: 'config',
      ok: problems.length === 0,
      detail: problems.length === 0 ? loaded.path : problems.map(formatProblem).join('; '),
      fix: 'export the environment variables the config names',
    });
    if (problems.length === 0 && loaded.config.issues.source === 'github') {
      // A token GitHub rejects (401), a repository it cannot see, a permission missing: a failed check, not a pass.
      const { secrets } = resolveSecrets(loaded.config);
      const source = createIssueSource(loaded.config, secrets, pino({ level: 'silent' }));
      const redact = cliRedactor(loaded.config);
      try {
        const access = (await source.checkAccess?.()) as { fullName?: string } | undefined;
        checks.push({ name: 'github', ok: true, detail: `the token can read ${access?.fullName ?? loaded.config.issues.github?.repo}` });
      } catch (error) {
        checks.push({ name: 'github', ok: false, detail: redact(describeError(error)), fix: 'check the token the config names (issues.github.tokenEnv), its expiry and its permissions' });
      } finally {
        await source.close();
      }
    }
    if (problems.length === 0 && loaded.config.nats.urls.length > 0) {
      try {
        const nc = await connectCli(loaded, loaded.config.nats.urls, 3_000);
        checks.push({ name: 'nats', ok: true, detail: `reachable at ${nc.getServer()}` });
        await nc.close();
      } catch (error) {
        checks.push({ name: 'nats', ok: false, detail: describeError(error), fix: 'check nats.urls, the network and the credentials' });
      }
    }
  } catch (error) {
    const detail = error instanceof ConfigInvalidError ? error.problems.map(formatProblem).join('; ') : describeError(error);
    checks.push({ name: 'config', ok: false, detail, fix: 'miyabi-orchestra config check --config FILE' });
  }

  if (!config || config.nats.urls.length === 0) {
    try {
      const binary = findNatsServerBinary(config?.nats.embedded.binary);
      checks.push({ name: 'nats-server', ok: true, detail: `${binary} (${(await versionOf(binary, ['--version'])) ?? 'version unknown'})` });
    } catch (error) {
      checks.push({ name: 'nats-server', ok: false, detail: 'not found (needed for the embedded NATS)', fix: describeError(error) });
    }
  }
  const tmux = await versionOf('tmux', ['-V']);
  checks.push({ name: 'tmux', ok: tmux !== undefined, detail: tmux ?? 'not found', fix: 'apt-get install tmux (or run agents headless: the process backend)' });
  const git = await versionOf('git', ['--version']);
  checks.push({ name: 'git', ok: git !== undefined, detail: git ?? 'not found', fix: 'apt-get install git' });

  if (config) {
    try {
      // A check makes nothing: a data directory not there yet is fine when `up` can make it.
      const existing = await nearestExisting(config.dataDir);
      await access(existing, constants.W_OK);
      const detail = existing === config.dataDir ? 'writable' : `not there yet; ${existing} is writable, so up can make it`;
      checks.push({ name: 'data dir', ok: true, detail: `${config.dataDir} ${detail}` });
    } catch (error) {
      checks.push({ name: 'data dir', ok: false, detail: describeError(error), fix: `make ${config.dataDir} writable or set dataDir` });
    }
  }

  checks.push(await sandboxCheck(config));

  for (const check of checks) {
    process.stdout.write(`${check.ok ? (check.warn ? '!' : '✓') : '✗'} ${check.name.padEnd(12)} ${check.detail}\n`);
    if ((!check.ok || check.warn) && check.fix) process.stdout.write(`  → ${check.fix}\n`);
  }
  const failed = checks.filter((check) => !check.ok);
  process.stdout.write(failed.length === 0 ? '\nall checks passed\n' : `\n${failed.length} check(s) failed\n`);
  return failed.length === 0 ? ExitCode.ok : ExitCode.failure;
}

/**
 * Whether this host can make the agents' sandbox (src/agents/sandbox.ts), probed for real. Failed
 * only when a role requires it; otherwise a host without it is said, as a warning.
 */
async function sandboxCheck(config: OrchestraConfig | undefined): Promise<Check> {
  const roles = Object.entries(config?.agents ?? {}).filter(([, agent]) => agent.isolation.sandbox !== 'off');
  if (config && roles.length === 0) return { name: 'sandbox', ok: true, detail: 'off for every role: agents can read the data directory and signal the orchestra' };
  const unshare = roles[0]?.[1].isolation.unshare;
  const probe = await probeSandbox(unshare);
  if (probe.ok) return { name: 'sandbox', ok: true, detail: `available: agents run in user, mount and PID namespaces (${unshare ?? 'unshare'})` };
  const required = roles.filter(([, agent]) => agent.isolation.sandbox === 'required').map(([role]) => role);
  return {
    name: 'sandbox',
    ok: required.length === 0,
    warn: true,
    detail: `not available: ${probe.reason}; ${required.length > 0 ? `required by ${required.join(', ')}: up refuses to start` : 'agents run without it (auto): they can read the data directory and signal the orchestra'}`,
    fix: 'allow unprivileged user namespaces (sysctl user.max_user_namespaces, kernel.unprivileged_userns_clone=1 on Debian, kernel.apparmor_restrict_unprivileged_userns=0 on Ubuntu), install util-linux, or run agents as another user (docs/SECURITY.md)',
  };
}

/** `dir` itself, or its nearest ancestor that exists (the one `mkdir -p` would write into). */
async function nearestExisting(dir: string): Promise<string> {
  for (let current = dir; ; current = dirname(current)) {
    const found = await stat(current).then(() => true, (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return false;
      throw error;
    });
    if (found || dirname(current) === current) return current;
  }
}
