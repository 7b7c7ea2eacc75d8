import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  branchExists,
  commitsBetween,
  createBranch,
  defaultBranch,
  fetchBranch,
  hasRemote,
  isAncestor,
  pushBranch,
  resolveCommit,
  setRef,
} from '../../src/infra/git/branches.ts';
import { git } from '../../src/infra/git/git.ts';
import { commitFiles, fixture, sha, worktreePaths } from './git-fixture.ts';

describe('queries', () => {
  it('resolves commits, answers undefined for what does not exist, refuses an option', async () => {
    const { repo, root } = await fixture();
    expect(await resolveCommit(repo, 'main')).toBe(root);
    expect(await resolveCommit(repo, root.slice(0, 10))).toBe(root);
    expect(await resolveCommit(repo, 'no-such-branch')).toBeUndefined();
    expect(await resolveCommit(repo, 'main^')).toBeUndefined();
    await expect(resolveCommit(repo, '--all')).rejects.toMatchObject({ code: 'invalid_argument' });
    expect(await branchExists(repo, 'main')).toBe(true);
    expect(await branchExists(repo, 'nope')).toBe(false);
  });

  it('fails outside a repository with git_command_failed naming the command', async () => {
    const { dir } = await fixture();
    const plain = path.join(dir, 'plain');
    await mkdir(plain);
    await expect(resolveCommit(plain, 'main')).rejects.toMatchObject({
      code: 'git_command_failed',
      message: expect.stringMatching(/^git rev-parse --verify in .*plain: fatal: not a git repository/),
    });
  });

  it('tells ancestors and lists the commits between two refs, newest first', async () => {
    const { repo, root } = await fixture();
    const one = await commitFiles(repo, 'feature', { 'a.txt': 'a\n' }, 'feat: one');
    const two = await commitFiles(repo, 'feature', { 'b.txt': 'b\n' }, 'feat: two\n\nwith a body');
    expect(await isAncestor(repo, root, two)).toBe(true);
    expect(await isAncestor(repo, 'main', 'feature')).toBe(true);
    expect(await isAncestor(repo, 'feature', 'main')).toBe(false);
    expect(await isAncestor(repo, one, one)).toBe(true);
    expect(await commitsBetween(repo, 'main', 'feature')).toEqual([
      { sha: two, subject: 'feat: two' },
      { sha: one, subject: 'feat: one' },
    ]);
    expect(await commitsBetween(repo, 'main', 'feature', 1)).toEqual([{ sha: two, subject: 'feat: two' }]);
    expect(await commitsBetween(repo, 'feature', 'main')).toEqual([]);
  });
});

describe('createBranch', () => {
  it('creates a branch at a sha without a checkout, and leaves an existing one alone', async () => {
    const { repo, root } = await fixture();
    const tip = await commitFiles(repo, 'other', { 'x.txt': 'x\n' }, 'x');
    const headBefore = await sha(repo, 'HEAD');
    expect(await createBranch(repo, 'miyabi/issue-1', root)).toEqual({ created: true, head: root });
    expect(await sha(repo, 'miyabi/issue-1')).toBe(root);
    expect(await sha(repo, 'HEAD')).toBe(headBefore);
    expect(await worktreePaths(repo)).toEqual([repo]);
    // no upstream configured
    await expect(git(['rev-parse', '--abbrev-ref', 'miyabi/issue-1@{upstream}'], repo)).rejects.toThrow();

    expect(await createBranch(repo, 'miyabi/issue-1', tip)).toEqual({ created: false, head: root });
    expect(await sha(repo, 'miyabi/issue-1')).toBe(root);
  });

  it('refuses a bad branch name or a start that is not a commit', async () => {
    const { repo, root } = await fixture();
    await expect(createBranch(repo, '-f', root)).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(createBranch(repo, 'a..b', root)).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(createBranch(repo, 'ok', '0'.repeat(40))).rejects.toMatchObject({ code: 'invalid_argument' });
    expect(await branchExists(repo, 'ok')).toBe(false);
  });
});

describe('setRef', () => {
  it('points a ref outside refs/heads at a sha, whatever it pointed at; refuses a branch or a name outside refs/', async () => {
    const { repo, root } = await fixture();
    const next = await commitFiles(repo, 'topic', { 'a.txt': 'a\n' }, 'a');
    await setRef(repo, 'refs/miyabi/pushed/topic', root);
    await setRef(repo, 'refs/miyabi/pushed/topic', next);
    expect(await resolveCommit(repo, 'refs/miyabi/pushed/topic')).toBe(next);
    await expect(setRef(repo, 'refs/heads/main', next)).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(setRef(repo, 'miyabi/pushed', next)).rejects.toMatchObject({ code: 'invalid_argument' });
    expect(await resolveCommit(repo, 'main')).toBe(root);
  });
});

describe('remotes', () => {
  async function withRemote() {
    const f = await fixture();
    const remote = path.join(f.dir, 'remote.git');
    await mkdir(remote);
    await git(['init', '-q', '--bare', '-b', 'main'], remote);
    await git(['remote', 'add', 'origin', remote], f.repo);
    return { ...f, remote };
  }

  it('pushes, fetches, and force-pushes only with a lease that holds', async () => {
    const { repo, remote, dir } = await withRemote();
    expect(await hasRemote(repo, 'origin')).toBe(true);
    expect(await hasRemote(repo, 'upstream')).toBe(false);
    const first = await commitFiles(repo, 'topic', { 'a.txt': 'a\n' }, 'a');
    expect(await pushBranch(repo, 'origin', 'topic')).toEqual({ pushed: true, sha: first });
    expect(await sha(remote, 'topic')).toBe(first);
    expect(await fetchBranch(repo, 'origin', 'topic')).toBe(first);
    expect(await fetchBranch(repo, 'origin', 'missing')).toBeUndefined();

    // A rewrite of the branch: refused without a lease, accepted with the remote sha last seen.
    const rewritten = await commitFiles(repo, 'rewrite', { 'a.txt': 'A\n' }, 'A');
    await git(['update-ref', 'refs/heads/topic', rewritten], repo);
    expect(await pushBranch(repo, 'origin', 'topic')).toEqual({ rejected: expect.stringMatching(/non-fast-forward/) });
    expect(await pushBranch(repo, 'origin', 'topic', { forceWithLease: first })).toEqual({ pushed: true, sha: rewritten });
    expect(await sha(remote, 'topic')).toBe(rewritten);

    // Someone else pushes: a lease on what we saw before is refused, their commit stays.
    const other = path.join(dir, 'other');
    await git(['clone', '-q', remote, other], dir);
    await git(['switch', '-q', 'topic'], other);
    await writeFile(path.join(other, 'theirs.txt'), 'theirs\n');
    await git(['add', 'theirs.txt'], other);
    await git(['-c', 'user.name=O', '-c', 'user.email=o@test.invalid', 'commit', '-q', '-m', 'theirs'], other);
    await git(['push', '-q', 'origin', 'topic'], other);
    const theirs = await sha(other, 'topic');
    const mine = await commitFiles(repo, 'mine', { 'a.txt': 'mine\n' }, 'mine', 'main');
    await git(['update-ref', 'refs/heads/topic', mine], repo);
    const refused = await pushBranch(repo, 'origin', 'topic', { forceWithLease: rewritten });
    expect(refused).toEqual({ rejected: expect.stringMatching(/stale info/) });
    expect(await sha(remote, 'topic')).toBe(theirs);
  });
});

describe('defaultBranch', () => {
  it('is the branch of the main worktree, seen from any worktree', async () => {
    const { repo, dir } = await fixture();
    await commitFiles(repo, 'trunk', { 't.txt': 't\n' }, 't');
    await git(['switch', '-q', 'trunk'], repo);
    expect(await defaultBranch(repo)).toBe('trunk');
    const linked = path.join(dir, 'linked');
    await git(['worktree', 'add', '-q', linked, 'main'], repo);
    expect(await defaultBranch(linked)).toBe('trunk');
  });

  it('is main on a detached HEAD, and the HEAD branch of a bare repository', async () => {
    const { repo, dir } = await fixture(); // detached
    expect(await defaultBranch(repo)).toBe('main');
    const bare = path.join(dir, 'bare.git');
    await git(['clone', '-q', '--bare', repo, bare], dir);
    await git(['symbolic-ref', 'HEAD', 'refs/heads/main'], bare);
    expect(await defaultBranch(bare)).toBe('main');
    await git(['branch', '-m', 'main', 'dev'], bare);
    await git(['symbolic-ref', 'HEAD', 'refs/heads/dev'], bare);
    expect(await defaultBranch(bare)).toBe('dev');
    await git(['symbolic-ref', 'HEAD', 'refs/heads/gone'], bare);
    expect(await defaultBranch(bare)).toBeUndefined();
  });
});
