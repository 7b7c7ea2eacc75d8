import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { git, openRepository, WorktreeManager } from '../../src/infra/git/worktrees.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A temp dir holding a repository `repo` with one commit on `main`, and a root for worktrees. */
async function fixture() {
  const dir = await mkdtemp(path.join(tmpdir(), 'miyabi-worktrees-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const repo = path.join(dir, 'repo');
  await mkdir(repo);
  await git(['init', '-q', '-b', 'main'], repo);
  await git(['config', 'user.name', 'Miyabi Test'], repo);
  await git(['config', 'user.email', 'test@miyabi.invalid'], repo);
  await writeFile(path.join(repo, 'README.md'), 'hello\n');
  await git(['add', 'README.md'], repo);
  await git(['commit', '-q', '-m', 'init'], repo);
  const rootDir = path.join(dir, 'data', 'worktrees');
  return { dir, repo, rootDir, manager: new WorktreeManager({ repoDir: repo, rootDir }) };
}

async function commitIn(worktree: string, file: string, text: string): Promise<string> {
  await writeFile(path.join(worktree, file), text);
  await git(['add', file], worktree);
  await git(['commit', '-q', '-m', `add ${file}`], worktree);
  return (await git(['rev-parse', 'HEAD'], worktree)).trim();
}

describe('openRepository', () => {
  it('names the path that is not a git repository', async () => {
    const { dir } = await fixture();
    const plain = path.join(dir, 'plain');
    await mkdir(plain);
    await expect(openRepository(plain)).rejects.toMatchObject({
      code: 'not_a_git_repository',
      message: `${plain} is not a git repository`,
    });
    await expect(openRepository(path.join(dir, 'missing'))).rejects.toMatchObject({ code: 'not_a_git_repository' });
  });

  it('refuses a directory inside a repository, accepts its top', async () => {
    const { repo } = await fixture();
    const sub = path.join(repo, 'sub');
    await mkdir(sub);
    await expect(openRepository(sub)).rejects.toThrow(/is not a git repository \(it is a directory inside/);
    expect((await openRepository(repo)).dir).toBe(repo);
  });

  it('fails the manager with the same error', async () => {
    const { dir } = await fixture();
    const manager = new WorktreeManager({ repoDir: dir, rootDir: path.join(dir, 'wt') });
    await expect(manager.ensure('issue-1', 'miyabi/issue-1')).rejects.toMatchObject({ code: 'not_a_git_repository' });
  });
});

describe('WorktreeManager', () => {
  it('creates a worktree on a new branch from HEAD', async () => {
    const { repo, rootDir, manager } = await fixture();
    const worktree = await manager.ensure('issue-3', 'miyabi/issue-3');
    expect(worktree).toEqual({
      name: 'issue-3',
      path: path.join(rootDir, 'issue-3'),
      branch: 'miyabi/issue-3',
      created: true,
    });
    expect(await readFile(path.join(worktree.path, 'README.md'), 'utf8')).toBe('hello\n');
    expect((await git(['branch', '--show-current'], worktree.path)).trim()).toBe('miyabi/issue-3');
    expect((await git(['rev-parse', 'HEAD'], worktree.path)).trim()).toBe((await git(['rev-parse', 'main'], repo)).trim());
    // no upstream: a push from the worktree can never land on the base branch
    await expect(git(['rev-parse', '--abbrev-ref', '@{upstream}'], worktree.path)).rejects.toThrow();
    expect(await manager.list()).toEqual([
      expect.objectContaining({ name: 'issue-3', branch: 'miyabi/issue-3', prunable: false }),
    ]);
  });

  it('reuses the worktree: a later ensure sees the commits made there', async () => {
    const { manager } = await fixture();
    const first = await manager.ensure('issue-4', 'miyabi/issue-4');
    const head = await commitIn(first.path, 'feature.txt', 'codegen was here\n');
    const second = await manager.ensure('issue-4', 'miyabi/issue-4');
    expect(second).toEqual({ ...first, created: false });
    expect((await git(['rev-parse', 'HEAD'], second.path)).trim()).toBe(head);
    expect(await readFile(path.join(second.path, 'feature.txt'), 'utf8')).toBe('codegen was here\n');
  });

  it("releases the index lock a git killed mid-write left in a worktree, so git works there again", async () => {
    const { manager } = await fixture();
    const worktree = await manager.ensure('issue-7', 'miyabi/issue-7');
    const lock = (await git(['rev-parse', '--git-path', 'index.lock'], worktree.path)).trim();
    await writeFile(path.resolve(worktree.path, lock), '');
    await writeFile(path.join(worktree.path, 'a.txt'), 'a\n');
    // As an agent's own git meets it: refused, and no retry would help.
    expect((await execa('git', ['add', 'a.txt'], { cwd: worktree.path, reject: false })).stderr).toMatch(/index\.lock': File exists/);
    expect(await manager.releaseIndexLock('issue-7')).toBe(true);
    await git(['add', 'a.txt'], worktree.path);
    expect(await manager.releaseIndexLock('issue-7')).toBe(false);
  });

  it('makes a worktree again whose directory vanished, on its branch, though a vanished one of another name held the branch', async () => {
    const { repo, manager } = await fixture();
    const first = await manager.ensure('issue-5', 'miyabi/issue-5');
    const head = await commitIn(first.path, 'feature.txt', 'kept on the branch\n');
    await manager.ensure('old-6', 'miyabi/issue-6');
    // Deleted behind git's back: still registered (prunable), and holding their branches.
    await rm(first.path, { recursive: true, force: true });
    await rm(path.join(path.dirname(first.path), 'old-6'), { recursive: true, force: true });
    expect(await manager.ensure('issue-5', 'miyabi/issue-5')).toEqual({ ...first, created: true });
    expect((await git(['rev-parse', 'HEAD'], first.path)).trim()).toBe(head);
    expect(await manager.ensure('issue-6', 'miyabi/issue-6')).toMatchObject({ branch: 'miyabi/issue-6', created: true });
    expect(await git(['worktree', 'list', '--porcelain'], repo)).not.toContain('prunable');
  });

  it('checks out an existing branch, and refuses a name already on another branch', async () => {
    const { repo, manager } = await fixture();
    await git(['branch', 'existing'], repo);
    expect(await manager.ensure('a', 'existing')).toMatchObject({ branch: 'existing', created: true });
    await expect(manager.ensure('a', 'other')).rejects.toMatchObject({ code: 'worktree_conflict' });
    await expect(manager.ensure('b', 'existing')).rejects.toMatchObject({ code: 'git_command_failed' });
  });

  it('removes a worktree, keeping its branch unless told', async () => {
    const { repo, manager } = await fixture();
    const kept = await manager.ensure('keep-branch', 'miyabi/keep');
    await commitIn(kept.path, 'x.txt', 'x\n');
    await writeFile(path.join(kept.path, 'dirty.txt'), 'uncommitted\n');
    expect(await manager.remove('keep-branch')).toBe(true);
    expect(existsSync(kept.path)).toBe(false);
    expect(await manager.list()).toEqual([]);
    expect(await git(['branch', '--list', 'miyabi/keep'], repo)).toContain('miyabi/keep');

    const dropped = await manager.ensure('drop-branch', 'miyabi/drop');
    expect(await manager.remove('drop-branch', { deleteBranch: true })).toBe(true);
    expect(existsSync(dropped.path)).toBe(false);
    expect(await git(['branch', '--list', 'miyabi/drop'], repo)).toBe('');
    expect(await manager.remove('drop-branch')).toBe(false);
  });

  it('reconciles: removes what a previous run left, keeps the named ones', async () => {
    const { repo, rootDir } = await fixture();
    const previous = new WorktreeManager({ repoDir: repo, rootDir });
    for (const n of [1, 2, 3]) await previous.ensure(`issue-${n}`, `miyabi/issue-${n}`);
    const vanished = await previous.ensure('issue-4', 'miyabi/issue-4');
    await rm(vanished.path, { recursive: true, force: true }); // its directory deleted by hand
    await mkdir(path.join(rootDir, 'issue-5')); // an add interrupted before git registered it
    const outsider = path.join(path.dirname(rootDir), 'elsewhere');
    await git(['worktree', 'add', '-q', '-b', 'not-ours', outsider], repo);

    const manager = new WorktreeManager({ repoDir: repo, rootDir });
    expect(await manager.reconcile(new Set(['issue-2']))).toEqual(['issue-1', 'issue-3', 'issue-4', 'issue-5']);
    expect((await manager.list()).map((entry) => entry.name)).toEqual(['issue-2']);
    expect(existsSync(path.join(rootDir, 'issue-1'))).toBe(false);
    expect(existsSync(path.join(rootDir, 'issue-5'))).toBe(false);
    expect(existsSync(outsider)).toBe(true); // not under rootDir: not ours
    expect(await git(['worktree', 'list', '--porcelain'], repo)).not.toContain('prunable');
    expect(await manager.reconcile(new Set(['issue-2']))).toEqual([]);
  });

  it('creates one worktree when the same name is ensured concurrently', async () => {
    const { repo, manager } = await fixture();
    const results = await Promise.all(Array.from({ length: 8 }, () => manager.ensure('issue-9', 'miyabi/issue-9')));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.path)).size).toBe(1);
    const registered = (await git(['worktree', 'list', '--porcelain'], repo)).match(/^worktree /gm) ?? [];
    expect(registered).toHaveLength(2); // the main one and issue-9
  });

  it('creates and removes different names concurrently (git reads every half-made worktree entry)', async () => {
    const { manager } = await fixture();
    const names = Array.from({ length: 12 }, (_, i) => `w${String(i).padStart(2, '0')}`);
    await Promise.all(names.map((name) => manager.ensure(name, `miyabi/${name}`)));
    expect((await manager.list()).map((entry) => entry.name).sort()).toEqual(names);
    const [gone, kept] = [names.slice(0, 6), names.slice(6)];
    await Promise.all([
      ...gone.map((name) => manager.remove(name, { deleteBranch: true })),
      ...kept.map((name) => manager.ensure(`${name}b`, `miyabi/${name}b`)),
    ]);
    expect((await manager.list()).map((entry) => entry.name).sort()).toEqual(
      [...kept, ...kept.map((name) => `${name}b`)].sort(),
    );
  });

  it('refuses names and branches that are not plain', async () => {
    const { manager } = await fixture();
    for (const name of ['', '../x', '.hidden', 'a/b', '-f']) {
      await expect(manager.ensure(name, 'ok')).rejects.toMatchObject({ code: 'invalid_argument' });
    }
    for (const branch of ['-f', 'a..b', 'x y', 'x~1', '@{-1}', 'a/', '']) {
      await expect(manager.ensure('ok', branch)).rejects.toMatchObject({ code: 'invalid_argument' });
    }
  });
});
