import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { removeOldPaneLogDays } from '../../src/infra/panes/log.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'miyabi-log-days-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('retention of the agents\' log days', () => {
  it('removes the day files (rotated parts too) older than keepDays, keeps the rest and anything else', async () => {
    const files: Record<string, string[]> = {
      'codegen-1': ['2026-01-01.log', '2026-01-01.log.1', '2026-01-01.log.2', '2026-01-09.log', '2026-01-10.log', '2026-01-11.log', 'notes.txt'],
      'review-1': ['2026-01-05.log.1', '2026-01-11.log'],
    };
    for (const [agent, names] of Object.entries(files)) {
      await mkdir(path.join(dir, agent));
      for (const name of names) await writeFile(path.join(dir, agent, name), 'x\n');
    }
    const now = Date.parse('2026-01-11T12:00:00Z');
    expect(await removeOldPaneLogDays(dir, 1, now)).toBe(5);
    expect((await readdir(path.join(dir, 'codegen-1'))).sort()).toEqual(['2026-01-10.log', '2026-01-11.log', 'notes.txt']);
    expect(await readdir(path.join(dir, 'review-1'))).toEqual(['2026-01-11.log']);
    // 0 days: only today's files stay.
    expect(await removeOldPaneLogDays(dir, 0, now)).toBe(1);
    expect((await readdir(path.join(dir, 'codegen-1'))).sort()).toEqual(['2026-01-11.log', 'notes.txt']);
  });

  it('is a no-op on a directory that is not there yet', async () => {
    expect(await removeOldPaneLogDays(path.join(dir, 'missing'), 30)).toBe(0);
  });
});
