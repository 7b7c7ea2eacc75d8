import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { commitsBetween, isAncestor } from '../../src/infra/git/branches.ts';
import { git } from '../../src/infra/git/git.ts';
import { rebaseBranch } from '../../src/infra/git/rebase.ts';
import { AUTHOR, commitFiles, fixture, sha, worktreePaths } from './git-fixture.ts';

/**
 * A stack: `dep` (one commit on main) and `stacked` built on it (two commits); then `dep` gets
 * a new commit (a review round), which `stacked` lacks.
 */
async function stack(depChange: Record<string, string> = { 'dep2.txt': 'review fix\n' }) {
  const f = await fixture();
  const dep1 = await commitFiles(f.repo, 'dep', { 'dep.txt': 'dep\n', 'shared.txt': 'one\n' }, 'feat: dep');
  await commitFiles(f.repo, 'stacked', { 's1.txt': 's1\n', 'shared.txt': 'one, stacked\n' }, 'feat: s1', 'dep');
  const stackedOld = await commitFiles(f.repo, 'stacked', { 's2.txt': 's2\n' }, 'feat: s2');
  const dep2 = await commitFiles(f.repo, 'dep', depChange, 'fix: review round');
  const tempDir = path.join(f.dir, 'tmp');
  await mkdir(tempDir);
  return { ...f, dep1, dep2, stackedOld, tempDir };
}

describe('rebaseBranch', () => {
  it('moves a stacked branch onto the new commits of its base, in a temporary worktree', async () => {
    const { repo, dep1, dep2, stackedOld, tempDir } = await stack();
    const result = await rebaseBranch(repo, { branch: 'stacked', upstream: dep1, onto: 'dep', tempDir });
    if (!('sha' in result)) throw new Error(JSON.stringify(result));
    expect(result.changed).toBe(true);
    expect(result.sha).not.toBe(stackedOld);
    expect(await sha(repo, 'stacked')).toBe(result.sha);
    expect(await isAncestor(repo, dep2, 'stacked')).toBe(true);
    await expect(git(['merge-base', '--is-ancestor', dep2, 'stacked'], repo)).resolves.toBe('');
    expect((await commitsBetween(repo, 'dep', 'stacked')).map((c) => c.subject)).toEqual(['feat: s2', 'feat: s1']);
    const authors = await git(['log', '--format=%an|%cn', 'dep..stacked'], repo);
    expect(authors).toBe(`${AUTHOR.name}|miyabi-orchestra\n`.repeat(2));
    // the temporary worktree is gone, and nothing else was checked out
    expect(await worktreePaths(repo)).toEqual([repo]);
    expect(await readdir(tempDir)).toEqual([]);

    // once more: nothing to move
    expect(await rebaseBranch(repo, { branch: 'stacked', upstream: 'dep', onto: 'dep', tempDir })).toEqual({
      sha: result.sha,
      changed: false,
    });
  });

  it('aborts a conflicting rebase: the branch stays at its old sha, the file is named', async () => {
    const { repo, dep1, stackedOld, tempDir } = await stack({ 'shared.txt': 'one, reviewed\n' });
    const result = await rebaseBranch(repo, { branch: 'stacked', upstream: dep1, onto: 'dep', tempDir });
    const s1 = await sha(repo, 'stacked~1');
    expect(result).toEqual({
      conflict: {
        files: ['shared.txt'],
        ours: { ref: 'dep', sha: await sha(repo, 'dep') },
        theirs: { ref: 'stacked', sha: stackedOld },
        commit: s1,
      },
    });
    expect(await sha(repo, 'stacked')).toBe(stackedOld);
    expect(await worktreePaths(repo)).toEqual([repo]);
    expect(await readdir(tempDir)).toEqual([]);
  });

  it('runs in the worktree where the branch is checked out, which must be clean', async () => {
    const { repo, dir, dep1, dep2, stackedOld } = await stack();
    const worktree = path.join(dir, 'wt-stacked');
    await git(['worktree', 'add', '-q', worktree, 'stacked'], repo);
    await writeFile(path.join(worktree, 's1.txt'), 'uncommitted\n');
    const refused = await rebaseBranch(repo, { branch: 'stacked', upstream: dep1, onto: 'dep', worktree });
    expect(refused).toEqual({ refused: `branch stacked is checked out in ${worktree} with uncommitted changes` });
    expect(await sha(repo, 'stacked')).toBe(stackedOld);
    expect(await readFile(path.join(worktree, 's1.txt'), 'utf8')).toBe('uncommitted\n');

    await git(['checkout', '-q', '--', 's1.txt'], worktree);
    await writeFile(path.join(worktree, 'untracked.txt'), 'stays\n');
    // found by itself when not given
    const result = await rebaseBranch(repo, { branch: 'stacked', upstream: dep1, onto: 'dep' });
    if (!('sha' in result)) throw new Error(JSON.stringify(result));
    expect(await isAncestor(repo, dep2, result.sha)).toBe(true);
    expect(await sha(worktree, 'HEAD')).toBe(result.sha);
    expect(await readFile(path.join(worktree, 'dep2.txt'), 'utf8')).toBe('review fix\n');
    expect(await readFile(path.join(worktree, 'untracked.txt'), 'utf8')).toBe('stays\n');
    expect(await worktreePaths(repo)).toEqual([repo, worktree]);

    await expect(rebaseBranch(repo, { branch: 'stacked', upstream: 'dep', onto: 'dep', worktree: repo })).rejects.toMatchObject({
      code: 'worktree_conflict',
    });
  });
});
