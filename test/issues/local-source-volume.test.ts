/**
 * The local source at volume and under I/O errors (issue 15): a thousand issues under a small
 * descriptor limit, and a file that cannot be read keeping its issue rather than dropping it.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalIssueSource } from '../../src/issues/local-source.ts';

const run = promisify(execFile);
const repoRoot = path.resolve(import.meta.dirname, '../..');

let root: string;
let dir: string;
let trackerDir: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'miyabi-local-volume-'));
  dir = path.join(root, 'backlog');
  trackerDir = path.join(root, 'tracker');
  await mkdir(dir);
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const issueText = (number: number): string =>
  ['---', `number: ${number}`, `title: Issue ${number}`, 'labels: [miyabi]', '---', '', `Body of ${number}.`, ''].join('\n');

describe('the local source at volume', { timeout: 120_000 }, () => {
  it('lists 1,000 issues and serves 1,000 concurrent lookups, trust checks and writes under a limit of 128 descriptors', async () => {
    const count = 1_000;
    for (let number = 1; number <= count; number += 1) await writeFile(path.join(dir, `issue-${number}.md`), issueText(number));
    // The process the orchestra would be, with a descriptor limit far below the issue count:
    // unbounded reads (one scan per call, every file at once) die here with EMFILE.
    const script = `
      import { LocalIssueSource } from ${JSON.stringify(path.join(repoRoot, 'src/issues/local-source.ts'))};
      const source = new LocalIssueSource({ dir: ${JSON.stringify(dir)}, trackerDir: ${JSON.stringify(trackerDir)} });
      const numbers = Array.from({ length: ${count} }, (_, index) => index + 1);
      const listed = (await source.listOpen()).issues.length;
      const [found, labelers, comments] = await Promise.all([
        Promise.all(numbers.map((number) => source.get(number))),
        Promise.all(numbers.map((number) => source.labeler(number, 'miyabi'))),
        Promise.all(numbers.map((number) => source.comment(number, 'volume', 'hello'))),
      ]);
      await source.close();
      console.log(JSON.stringify({
        listed,
        found: found.filter(Boolean).length,
        labelers: labelers.filter((labeler) => labeler !== undefined).length,
        posted: comments.filter((comment) => comment.posted).length,
      }));
    `;
    const loader = path.join(repoRoot, 'node_modules/tsx/dist/loader.mjs');
    const { stdout } = await run('sh', ['-c', `ulimit -n 128 && exec node --import "file://${loader}" --input-type=module -e "$0"`, script], {
      cwd: root,
      maxBuffer: 1 << 20,
    });
    expect(JSON.parse(stdout.trim().split('\n').at(-1)!)).toEqual({ listed: count, found: count, labelers: count, posted: count });
  });
});

describe('a file that cannot be read', () => {
  it('keeps its issue at its last version, says why, and reads it again once it can', async () => {
    const warnings: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line).msg) });
    const source = new LocalIssueSource({ dir, trackerDir, logger });
    const file = path.join(dir, 'issue-7.md');
    await writeFile(file, issueText(7));
    await writeFile(path.join(dir, 'issue-8.md'), issueText(8));
    expect((await source.listOpen()).issues?.map((issue) => issue.number)).toEqual([7, 8]);

    // A link to itself: stat fails with ELOOP, an I/O error as EMFILE or EIO would be (the tests
    // run as root, so taking the read permission away would not stop the read).
    await unlink(file);
    await symlink(file, file);

    expect((await source.listOpen()).issues?.map((issue) => issue.number)).toEqual([7, 8]);
    expect((await source.get(7))?.title).toBe('Issue 7');
    expect(await source.labeler(7, 'miyabi')).toMatchObject({ login: 'local' });
    expect(warnings.some((warning) => warning.includes('issue-7.md') && /cannot be read now .*ELOOP.*last version/.test(warning))).toBe(true);

    await unlink(file);
    await writeFile(file, issueText(7).replace('Issue 7', 'Issue 7, edited'));
    expect((await source.get(7))?.title).toBe('Issue 7, edited');

    // Gone for real (no file at all): no longer listed.
    await unlink(file);
    expect((await source.listOpen()).issues?.map((issue) => issue.number)).toEqual([8]);
    await source.close();
  });

  it('that was never read is a problem, not an issue', async () => {
    const file = path.join(dir, 'issue-9.md');
    await symlink(file, file);
    const source = new LocalIssueSource({ dir, trackerDir });
    expect((await source.listOpen()).issues).toEqual([]);
    await source.close();
  });
});
