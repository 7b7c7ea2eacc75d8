/**
 * No source file past 400 lines (docs/ARCHITECTURE.md, Layers; about 300 is the aim):
 * every .ts, .js and .mjs file git knows of under src/, test/, bench/ and scripts/ — tracked, or
 * new and not ignored, so a file is caught before its first commit. Built bundles (dist/) and
 * dependencies (node_modules/) are not ours to split. A failure names each file with its length.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const MAX_LINES = 400;
const SOURCE = /\.(ts|js|mjs)$/;
const NOT_OURS = /(^|\/)(node_modules|dist)\//;

function sourceFiles(): string[] {
  const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard', '--', 'src', 'test', 'bench', 'scripts'], { cwd: root, encoding: 'utf8' });
  // A file deleted but not yet staged is still listed by --cached.
  return [...new Set(listed.split('\0'))].filter((path) => SOURCE.test(path) && !NOT_OURS.test(path) && existsSync(join(root, path)));
}

function lineCount(text: string): number {
  if (text === '') return 0;
  return text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
}

describe('file length', () => {
  it(`has no source file over ${MAX_LINES} lines`, () => {
    const files = sourceFiles();
    // The listing itself works: the sources are there (a broken git call must not pass as "nothing too long").
    expect(files).toContain('src/workflow/engine.ts');
    expect(files).toContain('test/architecture/file-length.test.ts');
    const tooLong = files
      .map((path) => ({ path, lines: lineCount(readFileSync(join(root, path), 'utf8')) }))
      .filter(({ lines }) => lines > MAX_LINES)
      .map(({ path, lines }) => `${path}: ${lines} lines`);
    expect(tooLong, `files over ${MAX_LINES} lines: split each along its responsibilities`).toEqual([]);
  });
});
