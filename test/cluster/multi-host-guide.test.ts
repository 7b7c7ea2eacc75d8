/**
 * docs/CLUSTER.md's multi-host guide, as written: its nats-server config passes `nats-server -t`
 * (certificates, store and the users `nats-config` prints included) and its node config passes
 * `config check`. Only the paths move into a temporary directory, and the certificates are made
 * here, from one CA, as the guide says.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, runCli, tempDir, type TempDir } from '../support/cli.ts';
import { gitRepo } from '../support/orchestra.ts';

let dir: TempDir;
beforeAll(async () => {
  dir = await tempDir('miyabi-guide-');
});
afterAll(async () => {
  await dir[Symbol.asyncDispose]();
});

/** The fenced blocks of `language` in the guide's section. */
async function guideBlocks(language: string): Promise<string[]> {
  const doc = await readFile(join(repoRoot, 'docs/CLUSTER.md'), 'utf8');
  const start = doc.indexOf('## Deploying on several hosts');
  expect(start, 'the guide in docs/CLUSTER.md').toBeGreaterThan(-1);
  const end = doc.indexOf('\n## ', start + 1);
  const section = doc.slice(start, end === -1 ? undefined : end);
  return [...section.matchAll(new RegExp('```' + language + '\\n([\\s\\S]*?)```', 'g'))].map((match) => match[1]!);
}

async function openssl(args: string[]): Promise<void> {
  await execa('openssl', args, { cwd: join(dir.path, 'tls') });
}

/** A key and a certificate for `name`, signed by the CA, naming `san`. */
async function certificate(name: string, san: string): Promise<void> {
  await writeFile(join(dir.path, 'tls', `${name}.ext`), `subjectAltName=${san}\n`);
  await openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}-key.pem`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
  await openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', `${name}.pem`, '-days', '1', '-extfile', `${name}.ext`]);
}

describe('the multi-host guide', { timeout: 60_000 }, () => {
  it('its node config passes config check, and its server config, with the users nats-config prints, passes nats-server -t', async () => {
    const [yaml] = await guideBlocks('yaml');
    const [conf] = await guideBlocks('conf');
    expect(yaml, 'the node config block').toBeDefined();
    expect(conf, 'the nats-server config block').toBeDefined();
    const tls = join(dir.path, 'tls');
    await mkdir(tls);
    await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=miyabi-guide-ca']);
    await certificate('n1', 'DNS:n1.example.internal');
    await certificate('node1', 'DNS:node1');

    const srv = join(dir.path, 'srv');
    for (const sub of ['repo', 'worktrees', 'backlog', 'tracker']) await mkdir(join(srv, sub), { recursive: true });
    await gitRepo(join(srv, 'repo'));
    const nodeConfig = join(dir.path, 'miyabi.yaml');
    await writeFile(
      nodeConfig,
      yaml!
        .replaceAll('/var/lib/miyabi', join(dir.path, 'data'))
        .replaceAll('/etc/miyabi/nats/', `${tls}/`)
        .replaceAll('/srv/miyabi', srv),
    );
    const check = await runCli(['config', 'check', '--config', nodeConfig]);
    expect(check.stderr).toBe('');
    expect(check.exitCode).toBe(0);

    const users = await runCli(['nats-config', '--config', nodeConfig, '--account', 'MIYABI']);
    expect(users.exitCode).toBe(0);
    expect(users.stdout).toContain('runner-node1-codegen-1');
    await writeFile(join(dir.path, 'miyabi-users.conf'), users.stdout);
    const serverConfig = join(dir.path, 'nats-server.conf');
    await writeFile(serverConfig, conf!.replaceAll('/etc/nats/tls/', `${tls}/`).replaceAll('/var/lib/nats/jetstream', join(dir.path, 'jetstream')));
    const tested = await execa('nats-server', ['-c', serverConfig, '-t'], { reject: false, cwd: dir.path });
    expect(tested.stderr + tested.stdout).not.toMatch(/error/i);
    expect(tested.exitCode).toBe(0);
  });
});
