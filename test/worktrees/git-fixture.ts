/**
 * Real repositories in temporary folders for the git tests. Commits are made with plumbing and a
 * temporary index (`commitFiles`), so making history never needs a checkout of the branch.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';
import { git, gitRun } from '../../src/infra/git/git.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

export const AUTHOR = { name: 'Ada Author', email: 'ada@test.invalid', date: '1700000000 +0200' };
const authorConfig = ['-c', `user.name=${AUTHOR.name}`, '-c', `user.email=${AUTHOR.email}`, '-c', 'commit.gpgsign=false'];
const authorEnv = { GIT_AUTHOR_DATE: AUTHOR.date, GIT_COMMITTER_DATE: AUTHOR.date };

export interface Fixture {
  dir: string;
  repo: string;
  /** The first commit, on `main`. */
  root: string;
}

/**
 * A temp dir holding `repo`: one commit on `main` (README.md), its checkout left on a detached
 * HEAD at that commit, so no branch is checked out until a test switches to one.
 */
export async function fixture(): Promise<Fixture> {
  const dir = await mkdtemp(path.join(tmpdir(), 'miyabi-branches-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const repo = path.join(dir, 'repo');
  await mkdir(repo);
  await git(['init', '-q', '-b', 'main'], repo);
  await writeFile(path.join(repo, 'README.md'), 'hello\n');
  await git(['add', 'README.md'], repo);
  await gitRun([...authorConfig, 'commit', '-q', '-m', 'init'], repo, { env: authorEnv });
  await git(['switch', '-q', '--detach'], repo);
  return { dir, repo, root: await sha(repo, 'main') };
}

export async function sha(repo: string, ref: string): Promise<string> {
  return (await git(['rev-parse', `${ref}^{commit}`], repo)).trim();
}

/**
 * A commit on `branch` (created from `from` when missing) changing `files` (null deletes),
 * made without a worktree; returns its sha.
 */
export async function commitFiles(
  repo: string,
  branch: string,
  files: Record<string, string | null>,
  message: string,
  from?: string,
): Promise<string> {
  const exists = await gitRun(['rev-parse', '--verify', '--quiet', `refs/heads/${branch}`], repo, { okExitCodes: [0, 1] });
  const parent = exists.exitCode === 0 ? exists.stdout.trim() : await sha(repo, from ?? 'main');
  const index = path.join(await mkdtemp(path.join(tmpdir(), 'miyabi-index-')), 'index');
  const env = { ...authorEnv, GIT_INDEX_FILE: index };
  try {
    await gitRun(['read-tree', parent], repo, { env });
    for (const [file, text] of Object.entries(files)) {
      if (text === null) {
        await gitRun(['update-index', '--force-remove', file], repo, { env });
        continue;
      }
      const blob = (await gitRun(['hash-object', '-w', '--stdin'], repo, { input: text })).stdout.trim();
      await gitRun(['update-index', '--add', '--cacheinfo', `100644,${blob},${file}`], repo, { env });
    }
    const tree = (await gitRun(['write-tree'], repo, { env })).stdout.trim();
    const commit = (await gitRun([...authorConfig, 'commit-tree', tree, '-p', parent, '-m', message], repo, { env })).stdout.trim();
    await git(['update-ref', `refs/heads/${branch}`, commit, exists.exitCode === 0 ? parent : ''], repo);
    return commit;
  } finally {
    await rm(path.dirname(index), { recursive: true, force: true });
  }
}

/** The content of `file` in commit `ref`, or undefined when it has none. */
export async function show(repo: string, ref: string, file: string): Promise<string | undefined> {
  const result = await gitRun(['show', `${ref}:${file}`], repo, { okExitCodes: [0, 128] });
  return result.exitCode === 0 ? result.stdout : undefined;
}

export async function parents(repo: string, ref: string): Promise<string[]> {
  return (await git(['rev-list', '--parents', '-n', '1', ref], repo)).trim().split(' ').slice(1);
}

/** Registered worktrees (their paths). */
export async function worktreePaths(repo: string): Promise<string[]> {
  const out = await git(['worktree', 'list', '--porcelain'], repo);
  return out
    .split('\n')
    .filter((line) => line.startsWith('worktree '))
    .map((line) => line.slice('worktree '.length));
}
