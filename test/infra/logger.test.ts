import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { actorLogger, createLogger, flushLogger, REDACTED } from '../../src/infra/observe/logger.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'miyabi-logger-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

type Line = Record<string, unknown>;

async function linesOf(path: string): Promise<Line[]> {
  const text = await readFile(path, 'utf8');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Line);
}

function capture(): { stream: Writable; lines: () => Line[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return {
    stream,
    lines: () => chunks.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line),
  };
}

describe('createLogger', () => {
  it('writes JSON lines to stdout and to the file, creating its directory', async () => {
    const file = join(dir, 'logs', 'nested', 'orchestra.log');
    const out = capture();
    const logger = createLogger({ level: 'info', filePath: file, stdout: out.stream });
    logger.info({ issue: 7 }, 'hello');
    logger.debug('below the level');
    await flushLogger(logger);
    const [line, ...rest] = await linesOf(file);
    expect(rest).toEqual([]);
    expect(line).toMatchObject({ level: 'info', msg: 'hello', issue: 7, pid: process.pid });
    expect(typeof line!.hostname).toBe('string');
    expect(Number.isNaN(Date.parse(String(line!.time)))).toBe(false);
    expect(out.lines()).toEqual([line]);
  });

  it('gives every line of an actor logger its actorId', async () => {
    const file = join(dir, 'a.log');
    const logger = createLogger({ level: 'debug', filePath: file, stdout: false });
    const actor = actorLogger(logger, 'agent.codegen.1', { issue: 42 });
    actor.debug('spawning');
    actor.child({ task: 't1' }).info('busy');
    await flushLogger(actor);
    const lines = await linesOf(file);
    expect(lines.map((l) => [l.actorId, l.issue, l.msg])).toEqual([
      ['agent.codegen.1', 42, 'spawning'],
      ['agent.codegen.1', 42, 'busy'],
    ]);
  });

  it('censors secret fields by path, and the configured extra paths', async () => {
    const file = join(dir, 'r.log');
    const logger = createLogger({ level: 'info', filePath: file, stdout: false, redactPaths: ['job.apiKeyOfMine'] });
    logger.info(
      {
        token: 't0',
        nats: { token: 't1', password: 'p1', user: 'orchestra' },
        req: { headers: { authorization: 'Bearer abc', accept: 'json' } },
        github: { credentials: { id: 1 }, secret: 's' },
        list: [{ password: 'p2' }],
        job: { apiKeyOfMine: 'k', name: 'build' },
      },
      'connecting',
    );
    await flushLogger(logger);
    const [line] = await linesOf(file);
    expect(line).toMatchObject({
      token: REDACTED,
      nats: { token: REDACTED, password: REDACTED, user: 'orchestra' },
      req: { headers: { authorization: REDACTED, accept: 'json' } },
      github: { credentials: REDACTED, secret: REDACTED },
      list: [{ password: REDACTED }],
      job: { apiKeyOfMine: REDACTED, name: 'build' },
    });
  });

  // Every key censored by field, spelled out here (not read from the module) so that dropping
  // one from the logger's list fails its rows: at the top level, two and three levels down, and
  // in an object inside an array; its sibling field is kept.
  const secretFields = [
    'token',
    'accessToken',
    'access_token',
    'password',
    'passwd',
    'secret',
    'authorization',
    'credentials',
    'cookie',
    'apiKey',
    'api_key',
    'seed',
  ];
  it.each(secretFields.flatMap((key) => [
    [key, 'at the top level', { [key]: 'S3CRET', keep: 'k' }, { [key]: REDACTED, keep: 'k' }],
    [key, 'one level down', { a: { [key]: 'S3CRET', keep: 'k' } }, { a: { [key]: REDACTED, keep: 'k' } }],
    [key, 'two levels down', { a: { b: { [key]: 'S3CRET', keep: 'k' } } }, { a: { b: { [key]: REDACTED, keep: 'k' } } }],
    [key, 'in an array', { list: [{ [key]: 'S3CRET', keep: 'k' }] }, { list: [{ [key]: REDACTED, keep: 'k' }] }],
  ] as const))('censors the field %s %s', async (_key, _where, fields, expected) => {
    const out = capture();
    const logger = createLogger({ level: 'info', stdout: out.stream });
    logger.info(fields, 'fields');
    await flushLogger(logger);
    const [line] = out.lines();
    expect(line).toMatchObject(expected);
    expect(JSON.stringify(line)).not.toContain('S3CRET');
  });

  it('replaces secret values wherever they appear: message, fields, errors, bindings', async () => {
    const token = 'ghp_S3cr3t"with\\quote';
    const password = 'hunter2-long-enough';
    const file = join(dir, 'v.log');
    const out = capture();
    const logger = createLogger({ level: 'info', filePath: file, stdout: out.stream, secrets: [token, password, ''] });
    const child = actorLogger(logger, 'github', { url: `https://x:${password}@example.com` });
    child.info({ argv: ['git', 'push', `https://${token}@github.com/o/r`], note: { deep: [`pw=${password}`] } }, `using ${token}`);
    child.error({ err: new Error(`auth failed for ${token}`) }, 'request failed');
    child.info('%s then %o', password, { t: token });
    await flushLogger(logger);
    const raw = await readFile(file, 'utf8');
    expect(raw).not.toContain('S3cr3t');
    expect(raw).not.toContain('hunter2');
    const lines = await linesOf(file);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatchObject({
      msg: `using ${REDACTED}`,
      url: `https://x:${REDACTED}@example.com`,
      argv: ['git', 'push', `https://${REDACTED}@github.com/o/r`],
      note: { deep: [`pw=${REDACTED}`] },
      actorId: 'github',
    });
    const err = lines[1]!.err as { message: string; stack: string };
    expect(err.message).toBe(`auth failed for ${REDACTED}`);
    expect(err.stack).toContain(`auth failed for ${REDACTED}`);
    expect(lines[2]!.msg).toBe(`${REDACTED} then {"t":"${REDACTED}"}`);
    expect(out.lines()).toEqual(lines);
  });

  it('logs nothing at level silent', async () => {
    const file = join(dir, 's.log');
    const logger = createLogger({ level: 'silent', filePath: file, stdout: false });
    logger.fatal('nothing');
    await flushLogger(logger);
    expect(await readFile(file, 'utf8')).toBe('');
  });
});
