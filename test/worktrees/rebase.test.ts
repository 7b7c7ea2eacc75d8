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

  describe('a branch holding a merge commit of its own (an agent resolved a conflict between two heads)', () => {
    /** `stacked` on `dep`, with `other` merged in by hand (its conflict on shared.txt resolved), then one more commit. */
    async function merged() {
      const f = await fixture();
      const dep1 = await commitFiles(f.repo, 'dep', { 'shared.txt': 'one, dep\n' }, 'feat: dep');
      const other = await commitFiles(f.repo, 'other', { 'shared.txt': 'one, other\n', 'other.txt': 'other\n' }, 'feat: other');
      await commitFiles(f.repo, 'stacked', { 's1.txt': 's1\n' }, 'feat: s1', 'dep');
      // The agent's merge: the tree of its resolution, parents the branch and `other`.
      const resolution = await commitFiles(f.repo, 'resolution', { 'shared.txt': 'one, dep and other\n', 'other.txt': 'other\n' }, 'resolution', 'stacked');
      const tree = (await git(['rev-parse', `${resolution}^{tree}`], f.repo)).trim();
      const merge = (await git(['commit-tree', tree, '-p', 'stacked', '-p', other, '-m', 'Merge other into stacked'], f.repo)).trim();
      await git(['update-ref', 'refs/heads/stacked', merge], f.repo);
      await commitFiles(f.repo, 'stacked', { 's2.txt': 's2\n' }, 'feat: s2');
      const tempDir = path.join(f.dir, 'tmp');
      await mkdir(tempDir);
      return { ...f, dep1, other, merge, tempDir };
    }
    const show = (repo: string, file: string) => git(['show', `stacked:${file}`], repo);

    it('what it was built on moved on: the new commits are merged in, and the merge and its resolution stay as they were', async () => {
      const { repo, dep1, other, merge, tempDir } = await merged();
      const dep2 = await commitFiles(repo, 'dep', { 'dep2.txt': 'review fix\n' }, 'fix: review round');
      const result = await rebaseBranch(repo, { branch: 'stacked', upstream: dep1, onto: 'dep', tempDir });
      if (!('sha' in result)) throw new Error(JSON.stringify(result));
      expect(result.changed).toBe(true);
      for (const ancestor of [dep2, other, merge]) expect(await isAncestor(repo, ancestor, 'stacked')).toBe(true);
      expect(await show(repo, 'shared.txt')).toBe('one, dep and other\n');
      expect(await show(repo, 'dep2.txt')).toBe('review fix\n');
      expect(await show(repo, 's2.txt')).toBe('s2\n');
      expect(await git(['log', '-1', '--format=%s|%cn', 'stacked'], repo)).toBe('Restack stacked onto dep|miyabi-orchestra\n');
      expect(await worktreePaths(repo)).toEqual([repo]);
      expect(await readdir(tempDir)).toEqual([]);
    });

    it('what it was built on was rewritten: the rebase makes the merge again, still holding `other`; a merge that conflicts again is a conflict, the branch untouched', async () => {
      const { repo, root, dep1, other, tempDir } = await merged();
      const before = await sha(repo, 'stacked');
      // `dep` rewritten (amended, say) with shared.txt as it was: making the merge again meets its conflict again (no rerere).
      await git(['update-ref', 'refs/heads/dep', root], repo);
      const amended = await commitFiles(repo, 'dep', { 'shared.txt': 'one, dep\n', 'dep.txt': 'amended\n' }, 'feat: dep (amended)');
      expect(await rebaseBranch(repo, { branch: 'stacked', upstream: dep1, onto: 'dep', tempDir })).toMatchObject({
        conflict: { files: ['shared.txt'], ours: { ref: 'dep', sha: amended }, theirs: { ref: 'stacked', sha: before } },
      });
      expect(await sha(repo, 'stacked')).toBe(before);

      // Rewritten without shared.txt: nothing conflicts, and the merge is made again on the new base.
      await git(['update-ref', 'refs/heads/dep', root], repo);
      const bare = await commitFiles(repo, 'dep', { 'dep.txt': 'amended\n' }, 'feat: dep (amended, without shared.txt)');
      const result = await rebaseBranch(repo, { branch: 'stacked', upstream: dep1, onto: 'dep', tempDir });
      if (!('sha' in result)) throw new Error(JSON.stringify(result));
      for (const ancestor of [bare, other]) expect(await isAncestor(repo, ancestor, 'stacked')).toBe(true);
      expect(await isAncestor(repo, dep1, 'stacked')).toBe(false);
      expect(await git(['log', '--merges', '--format=%s', 'dep..stacked'], repo)).toBe('Merge other into stacked\n');
      expect(await git(['log', '--no-merges', '--first-parent', '--format=%s', 'dep..stacked'], repo)).toBe('feat: s2\nfeat: s1\n');
      expect(await worktreePaths(repo)).toEqual([repo]);
    });
  });
});

