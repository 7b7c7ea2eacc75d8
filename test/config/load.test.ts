import { mkdtemp, readFile, rm, truncate, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes, MiyabiError } from '../../src/errors.ts';
import { defaultConfigPath, loadConfig, parseConfigText } from '../../src/config/load.ts';
import { logFilePath } from '../../src/config/paths.ts';
import { ConfigInvalidError } from '../../src/config/problems.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'miyabi-config-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('loadConfig', () => {
  it('resolves relative paths against the config file directory', async () => {
    await mkdir(join(dir, 'etc'));
    const file = join(dir, 'etc', 'miyabi.yaml');
    await writeFile(
      file,
      [
        'dataDir: state',
        'nats:',
        '  embedded: { binary: bin/nats-server }',
        '  tls: { caFile: ca.pem }',
        'issues: { local: { dir: ../backlog } }',
        'agents:',
        '  codegen: { command: [node, agent.mjs], prompt: prompts/codegen.md }',
      ].join('\n'),
    );
    const loaded = await loadConfig(file);
    expect(loaded).toMatchObject({ path: file, baseDir: join(dir, 'etc'), isDefault: false });
    const { config } = loaded;
    expect(config.dataDir).toBe(join(dir, 'etc', 'state'));
    expect(config.nats.embedded.binary).toBe(join(dir, 'etc', 'bin', 'nats-server'));
    expect(config.nats.tls).toEqual({ caFile: join(dir, 'etc', 'ca.pem'), certFile: undefined, keyFile: undefined });
    expect(config.issues.local.dir).toBe(join(dir, 'backlog'));
    expect(config.agents.codegen?.prompt).toBe(join(dir, 'etc', 'prompts', 'codegen.md'));
    // argv is never rewritten: the agent runner decides the working directory.
    expect(config.agents.codegen?.command).toEqual(['node', 'agent.mjs']);
    expect(logFilePath(config)).toBe(join(dir, 'etc', 'state', 'logs', 'orchestra.log'));
  });

  it('takes a path relative to the given cwd, and keeps absolute paths and bare commands', async () => {
    await writeFile(join(dir, 'm.yaml'), 'dataDir: /var/lib/miyabi\nnats: { embedded: { binary: nats-server } }\n');
    const { config } = await loadConfig('m.yaml', { cwd: dir });
    expect(config.dataDir).toBe('/var/lib/miyabi');
    expect(config.nats.embedded.binary).toBe('nats-server');
  });

  it('without a path, reads the shipped default and resolves it against the cwd', async () => {
    const loaded = await loadConfig(undefined, { cwd: dir });
    expect(loaded.isDefault).toBe(true);
    expect(loaded.path).toBe(defaultConfigPath());
    expect(loaded.config.dataDir).toBe(join(dir, '.miyabi'));
    expect(loaded.config.issues.local.dir).toBe(join(dir, 'examples', 'backlog'));
    expect(loaded.config.nats.urls).toEqual([]);
    expect(loaded.config.issues.source).toBe('local');
  });

  it('throws config_unreadable for a missing file', async () => {
    const error = await loadConfig(join(dir, 'nope.yaml')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MiyabiError);
    expect((error as MiyabiError).code).toBe(ErrorCodes.ConfigUnreadable);
    expect((error as MiyabiError).message).toContain('nope.yaml');
  });

  it('throws config_unreadable for a directory', async () => {
    const error = await loadConfig(dir).catch((e: unknown) => e);
    expect((error as MiyabiError).code).toBe(ErrorCodes.ConfigUnreadable);
  });

  it('throws config_invalid carrying every problem', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(file, 'agents:\n  codegen:\n    command: "claude -p"\nhttp: { prot: 1 }\n');
    const error = await loadConfig(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigInvalidError);
    const invalid = error as ConfigInvalidError;
    expect(invalid.code).toBe(ErrorCodes.ConfigInvalid);
    expect(invalid.problems.map((p) => p.path)).toEqual(['agents.codegen.command', 'http.prot']);
    expect(invalid.message).toContain('agents.codegen.command: expected array, received string');
  });

  it('refuses a file over 1 MiB by its size, without reading it', async () => {
    const file = join(dir, 'huge.yaml');
    // Sparse: 3 MiB of nothing on disk, which a read would still have to go through.
    await writeFile(file, '');
    await truncate(file, 3 * 1024 * 1024);
    const error = await loadConfig(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigInvalidError);
    expect((error as ConfigInvalidError).message).toContain(`${file} is 3.0 MiB; a config may be at most 1 MiB`);
  });
});

describe('the shipped default config/miyabi.yaml', () => {
  it('validates, and says exactly what an empty file means', async () => {
    const text = await readFile(defaultConfigPath(), 'utf8');
    const shipped = parseConfigText(text, defaultConfigPath());
    const empty = parseConfigText('', 'empty');
    expect(shipped.ok && empty.ok).toBe(true);
    if (shipped.ok && empty.ok) expect(shipped.config).toEqual(empty.config);
  });

  it('points editors at the generated JSON Schema', async () => {
    const text = await readFile(defaultConfigPath(), 'utf8');
    expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=./miyabi.schema.json');
  });
});
