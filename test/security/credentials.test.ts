/**
 * The NATS identities' files as bad input. The embedded server's are repaired at start (generated,
 * modes tightened, a copied key replaced: test/security/attacks.test.ts starts on a broken set).
 * An external server knows only the keys `nats-config` gave it, so there `up` refuses a missing
 * or loose file, naming it, instead of inventing a key the server would not know.
 */
import { chmod, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.ts';
import { identityFile } from '../../src/infra/nats/identities.ts';
import { natsIdentityDir, prepareNatsAuth } from '../../src/orchestra/nats-auth.ts';
import { runCli, tempDir, type TempDir } from '../support/cli.ts';

let dir: TempDir;
beforeAll(async () => {
  dir = await tempDir('miyabi-credentials-');
});
afterAll(async () => {
  await dir[Symbol.asyncDispose]();
});

const configFor = (dataDir: string, external: boolean) =>
  configSchema.parse({
    dataDir,
    agents: { codegen: { command: ['true'] }, review: { command: ['true'] } },
    ...(external ? { nats: { urls: ['nats://127.0.0.1:1'], auth: { identities: true } } } : {}),
  });

describe('identity files', () => {
  it('embedded: missing ones are made, loose ones tightened, a key held twice replaced', async () => {
    const dataDir = join(dir.path, 'embedded');
    const first = await prepareNatsAuth(configFor(dataDir, false), { repair: true });
    const seeds = natsIdentityDir(dataDir);
    await chmod(identityFile(seeds, 'runner-review-1'), 0o644);
    await writeFile(identityFile(seeds, 'runner-review-1'), await readFile(identityFile(seeds, 'runner-codegen-1')));
    const repaired: string[] = [];
    const second = await prepareNatsAuth(configFor(dataDir, false), { repair: true, onRepair: (file, what) => repaired.push(`${file}: ${what}`) });
    expect(repaired).toEqual([
      `${identityFile(seeds, 'runner-review-1')}: is readable by others (mode 0644; chmod 600 it); mode tightened to 0600`,
      `${identityFile(seeds, 'runner-review-1')}: held the key of runner-codegen-1; a new one was generated`,
    ]);
    expect(second.identities.get('runner-codegen-1')!.publicKey).toBe(first.identities.get('runner-codegen-1')!.publicKey);
    // orchestrator, operator, and per role one runner per agent slot (max 1) and the spare: six keys, all different.
    expect(new Set([...second.identities.values()].map((identity) => identity.publicKey)).size).toBe(6);
    expect(((await stat(identityFile(seeds, 'runner-review-1'))).mode & 0o777).toString(8)).toBe('600');
    // The server's config names the new key and holds no seed.
    const server = await readFile(second.serverConfigFile!, 'utf8');
    expect(server).toContain(second.identities.get('runner-review-1')!.publicKey);
    for (const identity of second.identities.values()) expect(server).not.toContain(identity.seed);
    // A larger max: the next start makes the new slot's key and lists it, keeping the others.
    const grown = configSchema.parse({ dataDir, agents: { codegen: { command: ['true'], max: 2 }, review: { command: ['true'] } } });
    const third = await prepareNatsAuth(grown, { repair: true });
    expect([...third.identities.keys()].filter((name) => name.startsWith('runner-codegen'))).toEqual(['runner-codegen-1', 'runner-codegen-2', 'runner-codegen-spare']);
    expect(third.identities.get('runner-codegen-1')!.publicKey).toBe(first.identities.get('runner-codegen-1')!.publicKey);
    expect(await readFile(third.serverConfigFile!, 'utf8')).toContain(`# runner-codegen-2\n    {\n      nkey: "${third.identities.get('runner-codegen-2')!.publicKey}"`);
  });

  it("embedded: the seeds no runner of the config uses are deleted at start (a role's one seed of before per-slot identities, a slot above a lowered max, a role gone), naming each; the others kept", async () => {
    const dataDir = join(dir.path, 'stale');
    const grown = configSchema.parse({ dataDir, agents: { codegen: { command: ['true'], max: 2 }, review: { command: ['true'] }, deploy: { command: ['true'] } } });
    const first = await prepareNatsAuth(grown, { repair: true });
    const seeds = natsIdentityDir(dataDir);
    // What an orchestra of before per-slot identities left: one seed per role.
    for (const role of ['codegen', 'review']) await writeFile(identityFile(seeds, `runner-${role}`), (await readFile(identityFile(seeds, `runner-${role}-1`))), { mode: 0o600 });
    await writeFile(join(seeds, 'notes.txt'), 'not a seed\n');
    const repaired: string[] = [];
    const second = await prepareNatsAuth(configFor(dataDir, false), { repair: true, onRepair: (file, what) => repaired.push(`${file}: ${what}`) });
    const gone = ['runner-codegen', 'runner-codegen-2', 'runner-deploy-1', 'runner-deploy-spare', 'runner-review'];
    expect(repaired.sort()).toEqual(gone.map((name) => `${identityFile(seeds, name)}: removed: no runner of this config uses this identity`).sort());
    expect((await readdir(seeds)).sort()).toEqual(
      ['notes.txt', 'operator.nk', 'orchestrator.nk', 'runner-codegen-1.nk', 'runner-codegen-spare.nk', 'runner-review-1.nk', 'runner-review-spare.nk', 'server.conf'],
    );
    for (const name of ['orchestrator', 'operator', 'runner-codegen-1', 'runner-review-1']) {
      expect(second.identities.get(name)!.publicKey).toBe(first.identities.get(name)!.publicKey);
    }
  });

  it('external: refused, naming the file, when missing or loose or another identity’s', async () => {
    const dataDir = join(dir.path, 'external');
    await expect(prepareNatsAuth(configFor(dataDir, true), { repair: false })).rejects.toThrow(`NATS credentials ${join(dataDir, 'secrets')} is missing`);
    await prepareNatsAuth(configFor(dataDir, true), { repair: true, writeServerConfig: false });
    const seeds = natsIdentityDir(dataDir);
    await chmod(identityFile(seeds, 'operator'), 0o640);
    await expect(prepareNatsAuth(configFor(dataDir, true), { repair: false })).rejects.toThrow(`NATS credentials ${identityFile(seeds, 'operator')} is readable by others (mode 0640`);
    await chmod(identityFile(seeds, 'operator'), 0o600);
    await writeFile(identityFile(seeds, 'runner-review-1'), await readFile(identityFile(seeds, 'runner-codegen-1')));
    await expect(prepareNatsAuth(configFor(dataDir, true), { repair: false })).rejects.toThrow(`${identityFile(seeds, 'runner-review-1')} holds the same key as`);
  });
});

describe('nats-config and up on an external server', { timeout: 60_000 }, () => {
  it('nats-config makes the seeds and prints the users; up refuses a loose seed, naming it', async () => {
    const dataDir = join(dir.path, 'cli');
    const config = await dir.file(
      'external.yaml',
      [`dataDir: ${dataDir}`, 'nats:', '  urls: [nats://127.0.0.1:1]', '  connectDeadlineMs: 500', '  auth: { identities: true }', 'agents:', '  codegen: { command: [node, agent.mjs] }', ''].join('\n'),
    );
    const printed = await runCli(['nats-config', '--config', config, '--account', 'ORCHESTRA']);
    expect(printed.exitCode, printed.stderr).toBe(0);
    expect(printed.stdout).toContain('ORCHESTRA {\n    jetstream: enabled');
    for (const name of ['orchestrator', 'operator', 'runner-codegen-1']) {
      const seed = (await readFile(identityFile(natsIdentityDir(dataDir), name), 'utf8')).trim();
      expect(printed.stdout).toContain(`# ${name}`);
      expect(printed.stdout).not.toContain(seed);
    }

    await chmod(identityFile(natsIdentityDir(dataDir), 'runner-codegen-1'), 0o644);
    const loose = await runCli(['up', '--config', config]);
    expect(loose.exitCode).toBe(1);
    expect(loose.stderr).toContain(`NATS credentials ${identityFile(natsIdentityDir(dataDir), 'runner-codegen-1')} is readable by others`);
    expect(((await stat(identityFile(natsIdentityDir(dataDir), 'runner-codegen-1'))).mode & 0o777).toString(8)).toBe('644');
  });
});
