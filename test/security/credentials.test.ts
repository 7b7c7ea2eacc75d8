/**
 * The NATS identities' files as bad input. The embedded server's are repaired at start (generated,
 * modes tightened, a copied key replaced: test/security/attacks.test.ts starts on a broken set).
 * An external server knows only the keys `nats-config` gave it, so there `up` refuses a missing
 * or loose file, naming it, instead of inventing a key the server would not know.
 */
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
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
    await chmod(identityFile(seeds, 'runner-review'), 0o644);
    await writeFile(identityFile(seeds, 'runner-review'), await readFile(identityFile(seeds, 'runner-codegen')));
    const repaired: string[] = [];
    const second = await prepareNatsAuth(configFor(dataDir, false), { repair: true, onRepair: (file, what) => repaired.push(`${file}: ${what}`) });
    expect(repaired).toEqual([
      `${identityFile(seeds, 'runner-review')}: is readable by others (mode 0644; chmod 600 it); mode tightened to 0600`,
      `${identityFile(seeds, 'runner-review')}: held the key of runner-codegen; a new one was generated`,
    ]);
    expect(second.identities.get('runner-codegen')!.publicKey).toBe(first.identities.get('runner-codegen')!.publicKey);
    expect(new Set([...second.identities.values()].map((identity) => identity.publicKey)).size).toBe(4);
    expect(((await stat(identityFile(seeds, 'runner-review'))).mode & 0o777).toString(8)).toBe('600');
    // The server's config names the new key and holds no seed.
    const server = await readFile(second.serverConfigFile!, 'utf8');
    expect(server).toContain(second.identities.get('runner-review')!.publicKey);
    for (const identity of second.identities.values()) expect(server).not.toContain(identity.seed);
  });

  it('external: refused, naming the file, when missing or loose or another identity’s', async () => {
    const dataDir = join(dir.path, 'external');
    await expect(prepareNatsAuth(configFor(dataDir, true), { repair: false })).rejects.toThrow(`NATS credentials ${join(dataDir, 'secrets')} is missing`);
    await prepareNatsAuth(configFor(dataDir, true), { repair: true, writeServerConfig: false });
    const seeds = natsIdentityDir(dataDir);
    await chmod(identityFile(seeds, 'operator'), 0o640);
    await expect(prepareNatsAuth(configFor(dataDir, true), { repair: false })).rejects.toThrow(`NATS credentials ${identityFile(seeds, 'operator')} is readable by others (mode 0640`);
    await chmod(identityFile(seeds, 'operator'), 0o600);
    await writeFile(identityFile(seeds, 'runner-review'), await readFile(identityFile(seeds, 'runner-codegen')));
    await expect(prepareNatsAuth(configFor(dataDir, true), { repair: false })).rejects.toThrow(`${identityFile(seeds, 'runner-review')} holds the same key as`);
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
    for (const name of ['orchestrator', 'operator', 'runner-codegen']) {
      const seed = (await readFile(identityFile(natsIdentityDir(dataDir), name), 'utf8')).trim();
      expect(printed.stdout).toContain(`# ${name}`);
      expect(printed.stdout).not.toContain(seed);
    }

    await chmod(identityFile(natsIdentityDir(dataDir), 'runner-codegen'), 0o644);
    const loose = await runCli(['up', '--config', config]);
    expect(loose.exitCode).toBe(1);
    expect(loose.stderr).toContain(`NATS credentials ${identityFile(natsIdentityDir(dataDir), 'runner-codegen')} is readable by others`);
    expect(((await stat(identityFile(natsIdentityDir(dataDir), 'runner-codegen'))).mode & 0o777).toString(8)).toBe('644');
  });
});
