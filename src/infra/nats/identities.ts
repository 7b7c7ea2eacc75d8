/**
 * NATS identities kept as files: one nkey seed per identity (`<dir>/<name>.nk`, mode 0600, in a
 * directory of mode 0700). The server is told only the public keys, so its config holds no
 * secret; a client proves who it is by signing the server's challenge with the seed.
 *
 *   const identities = await loadIdentities(dir, ['orchestrator', 'operator'], { repair: true });
 *   connect({ authenticator: nkeyAuthenticator(identities.get('orchestrator')!.seed) });
 *
 * `repair: true` (the embedded server, whose config the orchestra writes itself): a missing or
 * unreadable seed is generated, loose modes are tightened, a seed that is another identity's is
 * replaced. `repair: false` (an external server, configured from `nats-config`'s output): any of
 * those is an error naming the file, since a new key would not be known to that server.
 *
 * Seeds are secrets: never logged, never in the run file; `secretValues` of the caller redacts
 * them by value.
 */
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nkeys } from '@nats-io/transport-node';
import { ErrorCodes, MiyabiError } from '../../errors.ts';

export interface NatsIdentity {
  readonly name: string;
  readonly file: string;
  /** The seed (`SU…`): the secret. */
  readonly seed: string;
  /** The public key (`U…`): what the server's config names. */
  readonly publicKey: string;
}

export interface LoadIdentitiesOptions {
  /** Generate what is missing or broken and tighten modes (true); or refuse, naming the file (false). */
  repair: boolean;
  /** Told of each repair (`created`: a seed made where there was none, the first start's case). */
  onRepair?: (file: string, what: string, created?: boolean) => void;
}

const SEED_FILE = /^[A-Za-z0-9._-]+$/;

/** Where an identity's request replies arrive (`_INBOX.<name>.…`): the server lets only it subscribe there. */
export function inboxPrefixOf(identity: string): string {
  return `_INBOX.${identity}`;
}

/** `<dir>/<name>.nk` */
export function identityFile(dir: string, name: string): string {
  if (!SEED_FILE.test(name)) throw new MiyabiError(ErrorCodes.InvalidArgument, `identity name ${JSON.stringify(name)} is not a plain name`);
  return join(dir, `${name}.nk`);
}

/** The identity a seed is, or undefined when the text is not a user seed. */
export function identityOfSeed(name: string, file: string, text: string): NatsIdentity | undefined {
  const seed = text.trim();
  if (!seed.startsWith('SU')) return undefined;
  try {
    return { name, file, seed, publicKey: nkeys.fromSeed(new TextEncoder().encode(seed)).getPublicKey() };
  } catch {
    return undefined;
  }
}

/** Reads one identity file as a client does: it must exist, hold a user seed, and be private. */
export async function readIdentity(file: string, name = file): Promise<NatsIdentity> {
  const problem = await privateFileProblem(file);
  if (problem) throw credentialsError(file, problem);
  const identity = identityOfSeed(name, file, await readFile(file, 'utf8'));
  if (!identity) throw credentialsError(file, 'does not hold an nkey user seed');
  return identity;
}

/** Makes `dir` exist with mode 0700 (tightening a looser one when `repair`). */
export async function ensurePrivateDir(dir: string, options: LoadIdentitiesOptions): Promise<void> {
  const found = await stat(dir).catch(() => undefined);
  if (!found) {
    if (!options.repair) throw credentialsError(dir, 'is missing (run `miyabi-orchestra nats-config`)');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
    return;
  }
  if ((found.mode & 0o077) !== 0) {
    if (!options.repair) throw credentialsError(dir, `is readable by others (mode ${modeOf(found.mode)}; chmod 700 it)`);
    await chmod(dir, 0o700);
    options.onRepair?.(dir, `mode ${modeOf(found.mode)} tightened to 0700`);
  }
}

/** Every identity named, from `dir`; see the module's doc for `repair`. */
export async function loadIdentities(dir: string, names: readonly string[], options: LoadIdentitiesOptions): Promise<Map<string, NatsIdentity>> {
  await ensurePrivateDir(dir, options);
  const identities = new Map<string, NatsIdentity>();
  const owners = new Map<string, string>();
  for (const name of names) {
    const file = identityFile(dir, name);
    let identity = await loadOne(name, file, options);
    const other = owners.get(identity.publicKey);
    if (other !== undefined) {
      // Two identities with one key would let one role act as another.
      if (!options.repair) throw credentialsError(file, `holds the same key as ${identityFile(dir, other)}`);
      identity = await generate(name, file);
      options.onRepair?.(file, `held the key of ${other}; a new one was generated`);
    }
    owners.set(identity.publicKey, name);
    identities.set(name, identity);
  }
  return identities;
}

async function loadOne(name: string, file: string, options: LoadIdentitiesOptions): Promise<NatsIdentity> {
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw credentialsError(file, `cannot be read (${error.code ?? error.message})`);
  });
  if (text === undefined) {
    if (!options.repair) throw credentialsError(file, 'is missing (run `miyabi-orchestra nats-config` and give the server its output)');
    options.onRepair?.(file, 'created', true);
    return generate(name, file);
  }
  const identity = identityOfSeed(name, file, text);
  if (!identity) {
    if (!options.repair) throw credentialsError(file, 'does not hold an nkey user seed');
    options.onRepair?.(file, 'did not hold an nkey user seed; a new one was generated');
    return generate(name, file);
  }
  const problem = await privateFileProblem(file);
  if (problem) {
    if (!options.repair) throw credentialsError(file, problem);
    await chmod(file, 0o600);
    options.onRepair?.(file, `${problem}; mode tightened to 0600`);
  }
  return identity;
}

async function generate(name: string, file: string): Promise<NatsIdentity> {
  const pair = nkeys.createUser();
  const seed = new TextDecoder().decode(pair.getSeed());
  await writeFile(file, `${seed}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return { name, file, seed, publicKey: pair.getPublicKey() };
}

/** Why a credentials file is not private to its owner, or undefined. */
export async function privateFileProblem(file: string): Promise<string | undefined> {
  const found = await stat(file).catch(() => undefined);
  if (!found) return 'is missing';
  if (!found.isFile()) return 'is not a file';
  if ((found.mode & 0o077) !== 0) return `is readable by others (mode ${modeOf(found.mode)}; chmod 600 it)`;
  if (typeof process.getuid === 'function' && found.uid !== process.getuid()) return `belongs to uid ${found.uid}, not to this user`;
  return undefined;
}

function modeOf(mode: number): string {
  return `0${(mode & 0o777).toString(8)}`;
}

export function credentialsError(file: string, why: string): MiyabiError {
  return new MiyabiError(ErrorCodes.NatsCredentialsInvalid, `NATS credentials ${file} ${why}`);
}
