import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { git } from '../../src/infra/git/git.ts';
import { type MergeMethod, mergeCommitOf, mergeIntoBranch, withTrailer } from '../../src/infra/git/merge.ts';
import { AUTHOR, commitFiles, fixture, parents, sha, show, worktreePaths } from './git-fixture.ts';

describe('mergeCommitOf', () => {
  it('merges two heads into one commit with both as parents, no worktree touched', async () => {
    const { repo } = await fixture();
    const a = await commitFiles(repo, 'a', { 'a.txt': 'a\n' }, 'a');
    const b = await commitFiles(repo, 'b', { 'b.txt': 'b\n' }, 'b');
    const head = await sha(repo, 'HEAD');
    const result = await mergeCommitOf(repo, [{ ref: 'a', sha: a }, { ref: 'b', sha: b }], 'merge a and b');
    if (!('sha' in result)) throw new Error(`conflict: ${JSON.stringify(result)}`);
    expect(await parents(repo, result.sha)).toEqual([a, b]);
    expect(await show(repo, result.sha, 'a.txt')).toBe('a\n');
    expect(await show(repo, result.sha, 'b.txt')).toBe('b\n');
    expect((await git(['log', '-1', '--format=%cn <%ce>%n%B', result.sha], repo)).trim()).toBe(
      'miyabi-orchestra <miyabi-orchestra@localhost>\nmerge a and b',
    );
    expect(await sha(repo, 'HEAD')).toBe(head);
    expect(await git(['status', '--porcelain'], repo)).toBe('');
  });

  it('merges three heads left to right into one commit of three parents', async () => {
    const { repo } = await fixture();
    const heads = [];
    for (const name of ['x', 'y', 'z']) {
      heads.push({ ref: name, sha: await commitFiles(repo, name, { [`${name}.txt`]: `${name}\n`, 'README.md': null }, name) });
    }
    const result = await mergeCommitOf(repo, heads, 'merge x, y and z');
    if (!('sha' in result)) throw new Error(`conflict: ${JSON.stringify(result)}`);
    expect(await parents(repo, result.sha)).toEqual(heads.map((h) => h.sha));
    for (const name of ['x', 'y', 'z']) expect(await show(repo, result.sha, `${name}.txt`)).toBe(`${name}\n`);
    expect(await show(repo, result.sha, 'README.md')).toBeUndefined();
  });

  it('names the conflicting files and the sides, and returns a single head as it is', async () => {
    const { repo } = await fixture();
    const a = await commitFiles(repo, 'a', { 'README.md': 'from a\n', 'same.txt': 's\n', 'ok-a.txt': '1\n' }, 'a');
    const b = await commitFiles(repo, 'b', { 'README.md': 'from b\n', 'same.txt': 's\n' }, 'b');
    const c = await commitFiles(repo, 'c', { 'ok-a.txt': '2\n' }, 'c');
    const heads = [{ ref: 'c', sha: c }, { ref: 'a', sha: a }, { ref: 'b', sha: b }];
    expect(await mergeCommitOf(repo, heads.slice(0, 2), 'm')).toEqual({
      conflict: { files: ['ok-a.txt'], ours: [heads[0]], theirs: heads[1] },
    });
    expect(await mergeCommitOf(repo, heads.slice(1), 'm')).toEqual({
      conflict: { files: ['README.md'], ours: [heads[1]], theirs: heads[2] },
    });
    expect(await mergeCommitOf(repo, [{ ref: 'a', sha: a }], 'm')).toEqual({ sha: a });
    await expect(mergeCommitOf(repo, [], 'm')).rejects.toMatchObject({ code: 'invalid_argument' });
  });
});

describe('withTrailer', () => {
  it('ends the message with the trailer, inside an existing trailer block', () => {
    expect(withTrailer('feat: x', 'K: v')).toBe('feat: x\n\nK: v\n');
    expect(withTrailer('feat: x\n\nbody\n\nSigned-off-by: A <a@b>\n', 'K: v')).toBe('feat: x\n\nbody\n\nSigned-off-by: A <a@b>\nK: v\n');
  });
});

const methods: MergeMethod[] = ['merge', 'squash', 'rebase'];

/** main: README; head `miyabi/issue-5` from it with two commits; main one more commit after. */
async function diverged() {
  const f = await fixture();
  const one = await commitFiles(f.repo, 'miyabi/issue-5', { 'one.txt': '1\n' }, 'feat: one');
  const headSha = await commitFiles(f.repo, 'miyabi/issue-5', { 'two.txt': '2\n' }, 'feat: two\n\nthe body');
  const baseSha = await commitFiles(f.repo, 'main', { 'main.txt': 'm\n' }, 'chore: main moves');
  const options = (method: MergeMethod) => ({
    base: 'main',
    head: 'miyabi/issue-5',
    headSha,
    method,
    message: 'Merge miyabi/issue-5',
    trailer: `Miyabi-Merge: miyabi/issue-5 ${headSha}`,
  });
  return { ...f, one, headSha, baseSha, options };
}

describe.each(methods)('mergeIntoBranch, method %s', (method) => {
  it("puts head's change on base once; a second call finds it", async () => {
    const { repo, baseSha, headSha, one, options } = await diverged();
    const result = await mergeIntoBranch(repo, options(method));
    if (!('sha' in result)) throw new Error(JSON.stringify(result));
    expect(result.already).toBe(false);
    expect(await sha(repo, 'main')).toBe(result.sha);
    for (const file of ['one.txt', 'two.txt', 'main.txt']) expect(await show(repo, 'main', file)).toBeDefined();
    const last = await git(['log', '-1', '--format=%an%n%cn%n%B', result.sha], repo);
    expect(last.trim().split('\n').at(-1)).toBe(`Miyabi-Merge: miyabi/issue-5 ${headSha}`);
    if (method === 'merge') expect(await parents(repo, result.sha)).toEqual([baseSha, headSha]);
    if (method === 'squash') expect(await parents(repo, result.sha)).toEqual([baseSha]);
    if (method === 'rebase') {
      // two commits replayed on base, each with its author, date and message
      const log = await git(['log', '--format=%an <%ae> %ad|%cn|%s', '--date=raw', `${baseSha}..main`], repo);
      expect(log.trim().split('\n')).toEqual([
        `${AUTHOR.name} <${AUTHOR.email}> ${AUTHOR.date}|miyabi-orchestra|feat: two`,
        `${AUTHOR.name} <${AUTHOR.email}> ${AUTHOR.date}|miyabi-orchestra|feat: one`,
      ]);
      expect(await show(repo, 'main~1', 'two.txt')).toBeUndefined();
      expect(await git(['rev-parse', 'main~2'], repo)).toBe(`${baseSha}\n`);
      expect(await git(['log', '-1', '--format=%B', 'main~1'], repo)).toBe(`${(await git(['log', '-1', '--format=%B', one], repo))}`);
    } else {
      expect(last.split('\n').slice(0, 2)).toEqual(['miyabi-orchestra', 'miyabi-orchestra']);
    }

    expect(await mergeIntoBranch(repo, options(method))).toEqual({ sha: result.sha, already: true });
    expect(await sha(repo, 'main')).toBe(result.sha);
    expect(await git(['rev-list', '--count', 'main'], repo)).toBe(`${{ merge: 5, squash: 3, rebase: 4 }[method]}\n`);
  });

  it('refuses a head that moved, and leaves base where it was on a conflict', async () => {
    const { repo, baseSha, headSha, options } = await diverged();
    const moved = await commitFiles(repo, 'miyabi/issue-5', { 'three.txt': '3\n' }, 'feat: three');
    expect(await mergeIntoBranch(repo, options(method))).toEqual({ headChanged: moved });
    expect(await sha(repo, 'main')).toBe(baseSha);

    const clash = await commitFiles(repo, 'clash', { 'main.txt': 'other\n', 'two.txt': '2\n' }, 'feat: clash', headSha);
    const result = await mergeIntoBranch(repo, { ...options(method), head: 'clash', headSha: clash, trailer: `Miyabi-Merge: clash ${clash}` });
    expect(result).toEqual({
      conflict: {
        files: ['main.txt'],
        ours: { ref: 'main', sha: baseSha },
        theirs: { ref: 'clash', sha: clash },
        ...(method === 'rebase' && { commit: clash }),
      },
    });
    expect(await sha(repo, 'main')).toBe(baseSha);
  });
});

describe('mergeIntoBranch, base checked out', () => {
  it('advances a clean checkout of base, files and all', async () => {
    const { repo, options } = await diverged();
    await git(['switch', '-q', 'main'], repo);
    const result = await mergeIntoBranch(repo, options('merge'));
    if (!('sha' in result)) throw new Error(JSON.stringify(result));
    expect(await sha(repo, 'HEAD')).toBe(result.sha);
    expect((await git(['branch', '--show-current'], repo)).trim()).toBe('main');
    expect(await readFile(path.join(repo, 'two.txt'), 'utf8')).toBe('2\n');
    expect(await git(['status', '--porcelain'], repo)).toBe('');
    expect(await worktreePaths(repo)).toEqual([repo]);
  });

  it('refuses a checkout with uncommitted changes and leaves them as they were', async () => {
    const { repo, baseSha, options } = await diverged();
    await git(['switch', '-q', 'main'], repo);
    await writeFile(path.join(repo, 'README.md'), 'work in progress\n');
    expect(await mergeIntoBranch(repo, options('squash'))).toEqual({
      refused: `base branch main is checked out in ${repo} with uncommitted changes`,
      reason: 'base_dirty',
    });
    expect(await sha(repo, 'main')).toBe(baseSha);
    expect(await readFile(path.join(repo, 'README.md'), 'utf8')).toBe('work in progress\n');
  });

  it('counts a head base already contains as merged (method merge), moving nothing', async () => {
    const { repo, root } = await fixture();
    const head = await commitFiles(repo, 'done', { 'd.txt': 'd\n' }, 'd');
    await git(['update-ref', 'refs/heads/main', head, root], repo);
    const tip = await commitFiles(repo, 'main', { 'e.txt': 'e\n' }, 'e');
    const options = { base: 'main', head: 'done', headSha: head, method: 'merge' as const, message: 'm', trailer: `M: done ${head}` };
    expect(await mergeIntoBranch(repo, options)).toEqual({ sha: tip, already: true });
    expect(await sha(repo, 'main')).toBe(tip);
  });
});
