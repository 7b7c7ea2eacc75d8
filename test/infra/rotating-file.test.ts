import { mkdtemp, readdir, readFile, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger, flushLogger } from '../../src/infra/observe/logger.ts';
import { RotatingFile } from '../../src/infra/observe/rotating-file.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'miyabi-rotate-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const line = (n: number) => `${JSON.stringify({ n, pad: 'x'.repeat(80) })}\n`;

describe('RotatingFile', () => {
  it('rotates by size, keeps maxFiles rotated files and deletes older ones', async () => {
    const file = join(dir, 'logs', 'orchestra.log');
    const out = new RotatingFile({ file, maxBytes: 1_000, maxAgeMs: 86_400_000, maxFiles: 3 });
    for (let n = 0; n < 200; n++) out.write(line(n));
    out.end();
    const names = (await readdir(join(dir, 'logs'))).sort();
    expect(names).toEqual(['orchestra.log', 'orchestra.log.1', 'orchestra.log.2', 'orchestra.log.3']);
    for (const name of names) expect((await stat(join(dir, 'logs', name))).size).toBeLessThanOrEqual(1_000);
    // Each rotated file filled up to its size, not rotated after every line.
    for (const name of names.slice(1)) expect((await stat(join(dir, 'logs', name))).size).toBeGreaterThan(1_000 - 2 * line(0).length);
    // The newest lines are in the current file, the ones just before in .1: nothing in between lost.
    const current = (await readFile(file, 'utf8')).trim().split('\n').map((text) => JSON.parse(text) as { n: number });
    const previous = (await readFile(`${file}.1`, 'utf8')).trim().split('\n').map((text) => JSON.parse(text) as { n: number });
    expect(current.at(-1)!.n).toBe(199);
    expect(previous.at(-1)!.n + 1).toBe(current[0]!.n);
  });

  it('rotates a small file once it is older than maxAgeMs', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const file = join(dir, 'runner.log');
    const out = new RotatingFile({ file, maxBytes: 1_000_000, maxAgeMs: 3_600_000, maxFiles: 2, clock: () => now });
    out.write(line(1));
    now += 3_600_001;
    out.write(line(2));
    out.end();
    expect(await readFile(`${file}.1`, 'utf8')).toBe(line(1));
    expect(await readFile(file, 'utf8')).toBe(line(2));
  });

  it('with maxFiles 0 keeps only the current file', async () => {
    const file = join(dir, 'a.log');
    const out = new RotatingFile({ file, maxBytes: 1_024, maxAgeMs: 86_400_000, maxFiles: 0 });
    for (let n = 0; n < 50; n++) out.write(line(n));
    out.end();
    expect(await readdir(dir)).toEqual(['a.log']);
  });
});

// A file on a full disk: /dev/full answers every write with ENOSPC (issue #15).
describe('RotatingFile on a disk that is full', () => {
  it('drops the lines it cannot write, says so once, and says how many when the file takes lines again', async () => {
    const file = join(dir, 'orchestra.log');
    await symlink('/dev/full', file);
    const said: string[] = [];
    const out = new RotatingFile({ file, maxBytes: 1_000_000, maxAgeMs: 86_400_000, maxFiles: 2, sayOutage: (message) => said.push(message) });
    for (let n = 0; n < 3; n++) expect(out.write(line(n))).toBe(true);
    expect(out.dropped).toBe(3);
    expect(said).toEqual([`${file}: cannot write (ENOSPC); dropping its lines until it can`]);
    // Room again (here: the file is an ordinary one again).
    await rm(file);
    out.write(line(3));
    out.write(line(4));
    out.end();
    expect(said.at(-1)).toBe(`${file}: writing again; 3 line(s) dropped meanwhile`);
    expect(said).toHaveLength(2);
    expect(await readFile(file, 'utf8')).toBe(line(3) + line(4));
  });

  it('never throws into whoever logged: the stdout copy keeps every line', async () => {
    const file = join(dir, 'orchestra.log');
    await symlink('/dev/full', file);
    const copy: string[] = [];
    const logger = createLogger({ level: 'info', filePath: file, stdout: { write: (text: string) => void copy.push(text) }, rotation: { maxBytes: 2_048, maxAgeMs: 86_400_000, maxFiles: 2 } });
    for (let n = 0; n < 5; n++) logger.error({ n }, 'a line the disk cannot take');
    await flushLogger(logger);
    expect(copy.map((text) => (JSON.parse(text) as { n: number }).n)).toEqual([0, 1, 2, 3, 4]);
  });
});

describe('createLogger with rotation', () => {
  it('writes the file through the rotation, still scrubbing secrets', async () => {
    const file = join(dir, 'orchestra.log');
    const logger = createLogger({ level: 'info', filePath: file, stdout: false, secrets: ['s3cr3t-value'], rotation: { maxBytes: 2_048, maxAgeMs: 86_400_000, maxFiles: 2 } });
    for (let n = 0; n < 100; n++) logger.info({ n, token2: 'has s3cr3t-value inside' }, 'a line of some length to fill the file');
    await flushLogger(logger);
    expect((await readdir(dir)).sort()).toEqual(['orchestra.log', 'orchestra.log.1', 'orchestra.log.2']);
    const text = await readFile(file, 'utf8');
    expect(text).not.toContain('s3cr3t-value');
    expect(JSON.parse(text.trim().split('\n').at(-1)!)).toMatchObject({ n: 99 });
  });
});
