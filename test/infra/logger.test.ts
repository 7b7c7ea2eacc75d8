import fs from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { actorLogger, createLogger, flushLogger, REDACTED, secretScrubber } from '../../src/infra/observe/logger.ts';

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

  it('appends to an existing file, which it creates readable by its owner only', async () => {
    const kept = join(dir, 'kept.log');
    await writeFile(kept, '{"msg":"from an earlier run"}\n');
    const earlier = createLogger({ level: 'info', filePath: kept, stdout: false });
    earlier.info('next run');
    await flushLogger(earlier);
    expect((await linesOf(kept)).map((l) => l.msg)).toEqual(['from an earlier run', 'next run']);

    const fresh = join(dir, 'fresh.log');
    const logger = createLogger({ level: 'info', filePath: fresh, stdout: false });
    logger.info('first');
    await flushLogger(logger);
    expect((await stat(fresh)).mode & 0o777).toBe(0o600);
  });

  it('writes a line to the file before the call returns, so a crash right after loses nothing', () => {
    const file = join(dir, 'sync.log');
    const logger = createLogger({ level: 'info', filePath: file, stdout: false });
    logger.info('last words');
    expect(fs.readFileSync(file, 'utf8')).toContain('"msg":"last words"');
  });

  it('writes the stdout copy to file descriptor 1 by default, before the call returns', () => {
    // fd 1 is the test runner's: the write is intercepted (and not passed on) to be seen.
    const toStdout: string[] = [];
    const writeSync = fs.writeSync;
    const intercept = (fd: number, data: string, ...rest: never[]) => {
      if (fd !== 1) return writeSync(fd, data, ...rest);
      toStdout.push(String(data));
      return Buffer.byteLength(String(data));
    };
    const spy = vi.spyOn(fs, 'writeSync').mockImplementation(intercept as typeof fs.writeSync);
    try {
      const logger = createLogger({ level: 'info' });
      logger.info('to the terminal');
      expect(toStdout.join('')).toContain('"msg":"to the terminal"');
    } finally {
      spy.mockRestore();
    }
  });

  it('changes nothing else when no secrets and no extra paths are given', async () => {
    // Among the samples, the filler text a mutation tool puts into an empty list: a logger that
    // invented a secret or a redact path out of nothing would censor it.
    const out = capture();
    const logger = createLogger({ level: 'info', stdout: out.stream });
    const sample = 'Stryker was here';
    logger.info({ [sample]: sample, note: 'plain', list: [sample] }, `${sample}: nothing secret`);
    await flushLogger(logger);
    expect(out.lines()[0]).toMatchObject({
      [sample]: sample,
      note: 'plain',
      list: [sample],
      msg: `${sample}: nothing secret`,
    });
  });

  it('flushes a destination that buffers, given as the stdout copy', async () => {
    const file = join(dir, 'buffered.log');
    // Sync, but held until 4 KiB are gathered: only a flush writes a short line out.
    const buffered = pino.destination({ dest: file, sync: true, minLength: 4096 });
    try {
      const logger = createLogger({ level: 'info', stdout: buffered });
      logger.info('held back');
      expect(fs.readFileSync(file, 'utf8')).toBe('');
      await flushLogger(logger);
      expect(fs.readFileSync(file, 'utf8')).toContain('"msg":"held back"');
    } finally {
      buffered.destroy();
    }
  });

  it("ends each destination when the logger's streams are ended, one without flushSync too", () => {
    // pino's multistream flushes (where it can) then ends each destination; a Node Writable has
    // end() but no flushSync().
    const out = capture();
    const logger = createLogger({ level: 'info', stdout: out.stream });
    logger.info('before the end');
    destinationsOf(logger).end();
    expect(out.stream.writableEnded).toBe(true);
    expect(out.lines().map((l) => l.msg)).toEqual(['before the end']);
  });
});

/** The logger's own destination (pino's multistream), as pino exposes it. */
function destinationsOf(logger: Logger): { end(): void } {
  return (logger as unknown as Record<symbol, { end(): void }>)[pino.symbols.streamSym]!;
}

describe('secretScrubber', () => {
  it('replaces the longest secret first, so one that holds another goes whole', () => {
    // Given shortest first on purpose: a scrubber that kept that order would leave "-suffix".
    const scrub = secretScrubber(['abc123', 'abc123-suffix'])!;
    const line = '{"msg":"x abc123-suffix y abc123 z"}';
    expect(scrub(line)).toBe(`{"msg":"x ${REDACTED} y ${REDACTED} z"}`);
  });

  it('returns a line without any secret as it is', () => {
    const scrub = secretScrubber(['s3cr3t-value'])!;
    expect(scrub('{"msg":"nothing to hide","n":1}')).toBe('{"msg":"nothing to hide","n":1}');
  });

  it('is none at all when there is no secret to look for', () => {
    expect(secretScrubber([])).toBeUndefined();
    expect(secretScrubber(['', ''])).toBeUndefined();
  });
});
