/**
 * `npm run mutation` fails when one mutated file scores below the break threshold, whatever the
 * total: scripts/mutation.mjs reads Stryker's JSON report per file (here a report written by the
 * test, checked with `--report`).
 */
import { execa } from 'execa';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, tempDir, type TempDir } from '../support/cli.ts';

let dir: TempDir;
beforeAll(async () => {
  dir = await tempDir('miyabi-mutation-');
});
afterAll(async () => {
  await dir[Symbol.asyncDispose]();
});

const mutants = (statuses: Record<string, number>) => Object.entries(statuses).flatMap(([status, count]) => Array.from({ length: count }, () => ({ status })));

async function check(files: Record<string, Record<string, number>>) {
  const report = { thresholds: { break: 85 }, files: Object.fromEntries(Object.entries(files).map(([file, statuses]) => [file, { mutants: mutants(statuses) }])) };
  const path = await dir.file(`report-${Math.random().toString(36).slice(2)}.json`, JSON.stringify(report));
  return execa('node', [join(repoRoot, 'scripts/mutation.mjs'), '--report', path], { reject: false });
}

describe('the per-file mutation threshold', () => {
  it('fails naming a file below 85 % although the total is above it', async () => {
    // Total: 95 detected of 100 (95 %); b.ts alone: 5 of 10 (50 %).
    const result = await check({ 'src/a.ts': { Killed: 85, Timeout: 5 }, 'src/b.ts': { Killed: 5, Survived: 3, NoCoverage: 2 } });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('src/b.ts (50.00 %)');
    expect(result.stderr).not.toContain('src/a.ts');
  });

  it('passes when every file is at 85 % or more; compile errors and ignored mutants do not count', async () => {
    const result = await check({ 'src/a.ts': { Killed: 17, Survived: 3, CompileError: 40, Ignored: 9 }, 'src/b.ts': { Killed: 2 } });
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain(' 85.00 %  src/a.ts (20 mutants)');
  });
});
