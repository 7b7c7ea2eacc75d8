/** Worktrees across runs: stale ones reconciled at start, an issue's removed when it finishes. */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import { ConfigInvalidError } from '../../src/config/problems.ts';
import { WorktreeManager } from '../../src/infra/git/worktrees.ts';
import { startOrchestra } from '../../src/orchestra/orchestra.ts';
import { tempDir, type TempDir } from '../support/cli.ts';
import { gitRepo } from '../support/orchestra.ts';
import { waitFor } from '../support/wait.ts';

const dirs: TempDir[] = [];
afterAll(async () => {
  for (const dir of dirs) await dir[Symbol.asyncDispose]();
});

async function setup(repoIsGit = true) {
  const dir = await tempDir('miyabi-workspace-');
  dirs.push(dir);
  const repo = join(dir.path, 'repo');
  await mkdir(repo);
  if (repoIsGit) await gitRepo(repo);
  const dataDir = join(dir.path, 'data');
  const config = await dir.file(
    'miyabi.yaml',
    `dataDir: ${dataDir}\nhttp: { enabled: false }\nlog: { file: false }\npanes: { backend: process }\nworkspace: { repo: ${repo} }\n`,
  );
  return { dir, repo, dataDir, config };
}

describe('workspace', { timeout: 60_000 }, () => {
  it('removes worktrees an earlier run left, keeps their branches, and removes an issue worktree when it finishes', async () => {
    const { repo, dataDir, config } = await setup();
    const earlier = new WorktreeManager({ repoDir: repo, rootDir: join(dataDir, 'worktrees') });
    const stale = await earlier.ensure('issue-4', 'miyabi/issue-4');
    expect(existsSync(stale.path)).toBe(true);

    const orchestra = await startOrchestra(await loadConfig(config), { logStream: false });
    try {
      expect(existsSync(stale.path)).toBe(false);
      expect((await execa('git', ['branch', '--list', 'miyabi/issue-4'], { cwd: repo })).stdout).toContain('miyabi/issue-4');

      const current = await orchestra.resources.worktrees.ensure('issue-5', 'miyabi/issue-5');
      await orchestra.resources.bus!.publish('miyabi.events.issue.5', 'issue.finished', { number: 5 });
      await waitFor(() => !existsSync(current.path), { what: 'worktree of #5 removed' });
      expect((await execa('git', ['branch', '--list', 'miyabi/issue-5'], { cwd: repo })).stdout).toContain('miyabi/issue-5');
    } finally {
      await orchestra.stop();
    }
  });

  it('refuses to start on a target that is not a git repository, naming the field', async () => {
    const { config } = await setup(false);
    const error = await startOrchestra(await loadConfig(config), { logStream: false }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigInvalidError);
    expect((error as ConfigInvalidError).problems[0]).toMatchObject({ path: 'workspace.repo' });
    expect((error as Error).message).toContain('is not a git repository');
  });
});
