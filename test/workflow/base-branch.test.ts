/**
 * Bad input: `workspace.baseBranch` naming a branch the repository does not have. `up` refuses
 * to start (exit 2, the config's usage error), naming the field and the branch, and leaves
 * nothing behind it: nothing running, no data directory.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runCli, tempDir } from '../support/cli.ts';
import { gitRepo } from '../support/orchestra.ts';
import { issueFile } from '../support/workflow-run.ts';

const dir = await tempDir('miyabi-base-branch-');
afterAll(() => dir[Symbol.asyncDispose]());

describe('workspace.baseBranch that does not exist', () => {
  it('up exits 2 naming workspace.baseBranch and the branch; nothing starts', async () => {
    const repo = join(dir.path, 'repo');
    const issues = join(dir.path, 'issues');
    const dataDir = join(dir.path, 'data');
    await mkdir(repo);
    await mkdir(issues);
    await gitRepo(repo);
    await dir.file('issues/1.md', issueFile({ number: 1 }));
    const config = await dir.file(
      'miyabi.yaml',
      stringify({
        dataDir,
        http: { enabled: false },
        issues: { local: { dir: issues } },
        panes: { backend: 'process' },
        workspace: { repo, baseBranch: 'trunk' },
      }),
    );
    const run = await runCli(['up', '--once', '--config', config]);
    expect(run.exitCode, String(run.stdout)).toBe(2);
    expect(String(run.stderr)).toMatch(/workspace\.baseBranch: the base branch trunk does not exist in /);
    // It stopped before anything started, and the data directory it had made is gone again.
    expect(existsSync(dataDir)).toBe(false);
  });
});
