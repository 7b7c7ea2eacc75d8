// The fake GitHub with a real bare repository as origin (test/support/fake-github/origin.ts): a
// pull request's head is its branch there, `mergeable` a trial merge, and the merge API really
// merges — merge, squash, rebase — answering the commit the base ends at; a conflict is 405, a
// branch origin does not have is 422.
import { execa } from 'execa';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir, type TempDir } from '../support/cli.ts';
import { startFakeGitHub, type FakeGitHub } from '../support/fake-github.ts';

const token = 'ghp_origin';
let dir: TempDir;
let origin: string;
let work: string;
let github: FakeGitHub;

const git = async (cwd: string, ...args: string[]) => (await execa('git', ['-c', 'user.name=T', '-c', 'user.email=t@example.invalid', ...args], { cwd })).stdout.trim();
/** Commits `file` with `text` on `branch` (made from main when new) and pushes it; answers the sha. */
async function push(branch: string, file: string, text: string): Promise<string> {
  await git(work, 'checkout', '-q', '-B', branch, (await git(work, 'branch', '--list', branch)) === '' ? 'origin/main' : branch);
  await execa('sh', ['-c', `printf '%s\\n' "${text}" > ${file}`], { cwd: work });
  await git(work, 'add', file);
  await git(work, 'commit', '-q', '-m', `${branch}: ${file}`);
  await git(work, 'push', '-q', 'origin', branch);
  await git(work, 'fetch', '-q', 'origin');
  return git(work, 'rev-parse', 'HEAD');
}
const onOrigin = (ref: string) => git(origin, 'rev-parse', ref);

beforeEach(async () => {
  dir = await tempDir('fake-github-origin-');
  origin = join(dir.path, 'origin.git');
  work = join(dir.path, 'work');
  await execa('git', ['init', '-q', '--bare', '-b', 'main', origin]);
  await execa('git', ['init', '-q', '-b', 'main', work]);
  await git(work, 'remote', 'add', 'origin', origin);
  await execa('sh', ['-c', 'echo base > README.md'], { cwd: work });
  await git(work, 'add', '.');
  await git(work, 'commit', '-q', '-m', 'initial');
  await git(work, 'push', '-q', 'origin', 'main');
  await git(work, 'fetch', '-q', 'origin');
  github = await startFakeGitHub({ owner: 'acme', repo: 'widgets', token, origin });
});
afterEach(async () => {
  await github.close();
  await dir[Symbol.asyncDispose]();
});

const pulls = '/repos/acme/widgets/pulls';
const send = (method: string, path: string, body?: unknown) =>
  fetch(`${github.url}${path}`, { method, headers: { authorization: `token ${token}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
const open = async (head: string, body = '') => (await (await send('POST', pulls, { head, base: 'main', title: head, body })).json()) as { number: number; head: { sha: string } };

describe('the fake GitHub over a real origin', () => {
  it('a pull request shows its branch\'s head; a branch origin lacks is 422; merge, squash and rebase are real commits of origin, closing what the body closes', async () => {
    expect((await send('POST', pulls, { head: 'nowhere', base: 'main', title: 'x' })).status).toBe(422);
    const issue = github.addIssue({});
    const a = await push('topic-a', 'a.txt', 'a');
    const pullA = await open('topic-a', `Closes #${issue.number}`);
    expect(pullA.head.sha).toBe(a);
    expect(await (await send('GET', `${pulls}/${pullA.number}`)).json()).toMatchObject({ mergeable: true, mergeable_state: 'clean', base: { sha: await onOrigin('main') } });
    // Pushed again: GitHub shows the new head, and a merge of the old one is 409.
    const a2 = await push('topic-a', 'a2.txt', 'a2');
    expect((await send('PUT', `${pulls}/${pullA.number}/merge`, { sha: a })).status).toBe(409);
    const merged = await send('PUT', `${pulls}/${pullA.number}/merge`, { sha: a2, merge_method: 'merge', commit_title: 'Merge A' });
    expect(merged.status).toBe(200);
    const mergeSha = ((await merged.json()) as { sha: string }).sha;
    expect(await onOrigin('main')).toBe(mergeSha);
    expect(await git(origin, 'rev-parse', `${mergeSha}^2`)).toBe(a2);
    expect(await git(origin, 'log', '-1', '--format=%s', mergeSha)).toBe('Merge A');
    expect(github.state.issues.get(issue.number)!.state).toBe('closed');
    expect(await (await send('GET', `${pulls}/${pullA.number}`)).json()).toMatchObject({ merged: true, merge_commit_sha: mergeSha, head: { sha: a2 } });

    await push('topic-b', 'b.txt', 'b');
    const pullB = await open('topic-b');
    const squash = ((await (await send('PUT', `${pulls}/${pullB.number}/merge`, { merge_method: 'squash' })).json()) as { sha: string }).sha;
    expect(await git(origin, 'rev-list', '--parents', '-n', '1', squash)).toBe(`${squash} ${mergeSha}`);
    expect(await git(origin, 'show', `${squash}:b.txt`)).toBe('b');

    await push('topic-c', 'c1.txt', 'c1');
    await push('topic-c', 'c2.txt', 'c2');
    const pullC = await open('topic-c');
    const rebased = ((await (await send('PUT', `${pulls}/${pullC.number}/merge`, { merge_method: 'rebase' })).json()) as { sha: string }).sha;
    expect((await git(origin, 'log', '--format=%s', `${squash}..${rebased}`)).split('\n')).toEqual(['topic-c: c2.txt', 'topic-c: c1.txt']);
    expect(await onOrigin('main')).toBe(rebased);
  });

  it('a head that conflicts with the base: mergeable false (dirty), and a merge is refused 405 with nothing moved', async () => {
    await push('left', 'same.txt', 'left');
    await push('right', 'same.txt', 'right');
    const left = await open('left');
    const right = await open('right');
    expect((await send('PUT', `${pulls}/${left.number}/merge`, {})).status).toBe(200);
    const main = await onOrigin('main');
    expect(await (await send('GET', `${pulls}/${right.number}`)).json()).toMatchObject({ mergeable: false, mergeable_state: 'dirty' });
    const refused = await send('PUT', `${pulls}/${right.number}/merge`, { merge_method: 'squash' });
    expect(refused.status).toBe(405);
    expect(await refused.json()).toMatchObject({ message: 'Pull Request is not mergeable' });
    expect(await onOrigin('main')).toBe(main);
    expect((await send('PATCH', `${pulls}/${right.number}`, { base: 'nowhere' })).status).toBe(422);
  });
});
