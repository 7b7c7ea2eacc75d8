/**
 * The data directory as a private place: mode 0700 (0711 when agents run as another Unix user,
 * so they can reach their worktree and task files by path but list nothing), its logs and the
 * embedded NATS store 0700, and
 * `<dataDir>/secrets` (0700) holding the per-installation secrets — the NATS identities
 * (./nats-auth.ts) and the key that signs the orchestra's comment markers (`marker.key`, 0600).
 * An agent run as the same user can read all of it: that is what `agents.<role>.isolation.user`
 * is for (docs/SECURITY.md).
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { ConfigInvalidError } from '../config/problems.ts';
import type { OrchestraConfig } from '../config/schema.ts';
import { describeError } from '../errors.ts';

/** `<dataDir>/secrets`: the orchestra's secrets (mode 0700). */
export function secretsDir(dataDir: string): string {
  return join(dataDir, 'secrets');
}

/** What a mode change did, for a warn line. */
export interface ModeRepair {
  path: string;
  from: string;
  to: string;
}

/** 0711 when some role's agents run as another user, else 0700. */
export function dataDirMode(config: Pick<OrchestraConfig, 'agents'>): number {
  return Object.values(config.agents).some((agent) => agent.isolation?.user !== undefined) ? 0o711 : 0o700;
}

/** Creates the data directory and its logs directory private, or makes them so (and the NATS store, once there); says what it changed. */
export async function prepareDataDir(config: Pick<OrchestraConfig, 'agents' | 'dataDir'>): Promise<ModeRepair[]> {
  const repairs: ModeRepair[] = [];
  for (const [path, mode, create] of [
    [config.dataDir, dataDirMode(config), true],
    [join(config.dataDir, 'logs'), 0o700, true],
    // The embedded server's store (the workflow's state, the events), once the server made it.
    [join(config.dataDir, 'nats'), 0o700, false],
  ] as const) {
    const before = await stat(path).catch(() => undefined);
    if (before === undefined && !create) continue;
    await mkdir(path, { recursive: true, mode });
    if (before === undefined || (before.mode & 0o777) !== mode) {
      await chmod(path, mode);
      if (before !== undefined) repairs.push({ path, from: octal(before.mode), to: octal(mode) });
    }
  }
  await access(config.dataDir, constants.W_OK);
  return repairs;
}

/**
 * A data directory this user may not create or write (or on a read-only file system) is the
 * config's problem (`up` exits 2), named with the user, so the fix is plain: another `dataDir`,
 * or `chown` it. Any other error is returned as it is.
 */
export function dataDirError(configPath: string, dataDir: string, error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS') return error;
  let user: string;
  try {
    user = `${userInfo().username} (uid ${process.getuid?.()})`;
  } catch {
    user = `uid ${process.getuid?.()}`;
  }
  return new ConfigInvalidError(configPath, [
    { path: 'dataDir', message: `the data directory ${dataDir} is not writable by the user ${user}: ${describeError(error)}; choose another dataDir or give it to that user (chown)` },
  ]);
}

/**
 * The installation's secret that signs comment markers: read from `<dataDir>/secrets/marker.key`,
 * made (32 random bytes) the first time. Losing it only means old markers are not recognised.
 */
export async function markerKey(dataDir: string): Promise<string> {
  const dir = secretsDir(dataDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, 'marker.key');
  const existing = (await readFile(file, 'utf8').catch(() => '')).trim();
  if (/^[0-9a-f]{64}$/.test(existing)) {
    await chmod(file, 0o600);
    return existing;
  }
  const key = randomBytes(32).toString('hex');
  await writeFile(file, `${key}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return key;
}

function octal(mode: number): string {
  return `0${(mode & 0o777).toString(8)}`;
}
