// The local source's pull requests for the merge stage: read (pullRequest), merged exactly once
// through the repository port (an in-memory port here: what is tested is the tracker files; the
// git merge behind the port is tested with git), retargeted, and older pulls.json entries still
// read. Real files in a temp directory.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  LocalIssueSource,
  LocalSourceErrorCodes,
  type LocalMergeRequest,
  type LocalRepository,
} from '../../src/issues/local-source.ts';
import type { MergeOutcome, MergeRequest } from '../../src/issues/source.ts';

let root: string;
let dir: string;
let trackerDir: string;
const sources: LocalIssueSource[] = [];

const head = 'a'.repeat(40);
const mergeCommit = 'm'.repeat(40);

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'miyabi-local-pulls-'));
  dir = path.join(root, 'backlog');
  trackerDir = path.join(root, 'tracker');
  await mkdir(dir);
  await writeFile(path.join(dir, 'one.md'), '---\nnumber: 1\ntitle: Add a flag\n---\nThe body.\n');
});

afterEach(async () => {
  for (const source of sources.splice(0)) await source.close();
  await rm(root, { recursive: true, force: true });
});

/** A repository whose branches are `heads`; merges answer `answer` (default: merged when the head is still there). */
function repository(heads: Record<string, string> = { 'miyabi/issue-1': head }) {
  const merges: LocalMergeRequest[] = [];
  const port: LocalRepository & { answer?: (request: LocalMergeRequest) => MergeOutcome } = {
    head: async (branch) => heads[branch],
    merge: async (request) => {
      merges.push(request);
      if (port.answer) return port.answer(request);
      return request.headSha === heads[request.head]
        ? { kind: 'merged', sha: mergeCommit, already: false }
        : { kind: 'head_changed', reason: `${request.head} is at ${heads[request.head]}` };
    },
  };
  return { port, merges };
}

function open(port?: LocalRepository): LocalIssueSource {
  const source = new LocalIssueSource({ dir, trackerDir, ...(port ? { repository: port } : {}) });
  sources.push(source);
  return source;
}

const pullRequest = { issue: 1, head: 'miyabi/issue-1', title: 'Add a flag', body: 'Closes #1', draft: false };
const merge: MergeRequest = { number: 1, headSha: head, method: 'squash', title: 'Add a flag (#1)', message: 'The flag.' };
const readJson = async (name: string) => JSON.parse(await readFile(path.join(trackerDir, name), 'utf8'));

describe('pullRequest', () => {
  it('answers an open pull request with the head commit the repository says', async () => {
    const { port } = repository();
    const source = open(port);
    const opened = await source.openPullRequest(pullRequest);
    const [entry] = await readJson('pulls.json');
    expect(await source.pullRequest(opened.number)).toEqual({
      number: 1,
      url: opened.url,
      state: 'open',
      merged: false,
      headRef: 'miyabi/issue-1',
      headSha: head,
      baseRef: 'main',
      mergeable: true,
      updatedAt: entry.createdAt,
    });
    expect(entry).toMatchObject({ state: 'open', merged: false });
    expect(await open().pullRequest(1)).toMatchObject({ headSha: '' });
    expect(await source.pullRequest(2)).toBeUndefined();
  });
});

describe('mergePullRequest', () => {
  it('merges through the repository and records it: pulls.json, pull-<n>.md, the issue record and its view', async () => {
    const { port, merges } = repository();
    const source = open(port);
    await source.openPullRequest(pullRequest);

    expect(await source.mergePullRequest(merge)).toEqual({ kind: 'merged', sha: mergeCommit, already: false });
    expect(merges).toEqual([{ head: 'miyabi/issue-1', headSha: head, base: 'main', method: 'squash', title: 'Add a flag (#1)', message: 'The flag.' }]);

    const [entry] = await readJson('pulls.json');
    expect(entry).toMatchObject({ state: 'closed', merged: true, mergeCommit, method: 'squash', headSha: head, updatedAt: entry.mergedAt });
    expect(Number.isNaN(Date.parse(entry.mergedAt))).toBe(false);
    const view = await readFile(path.join(trackerDir, 'pull-1.md'), 'utf8');
    expect(view).toContain(`Merged as ${mergeCommit} (squash) at ${entry.mergedAt}`);
    expect(view).toContain('- State: merged');
    expect((await readJson('issue-1.json')).merged).toEqual({ pull: 1, sha: mergeCommit, method: 'squash', at: entry.mergedAt });
    expect(await readFile(path.join(trackerDir, 'issue-1.md'), 'utf8')).toContain(`- Merged: [#1](pull-1.md) as ${mergeCommit} (squash)`);
    expect(await source.pullRequest(1)).toMatchObject({ state: 'closed', merged: true, mergeCommitSha: mergeCommit, headSha: head });
  });

  it('merges once: a second call, a fresh source and concurrent calls answer already merged', async () => {
    const { port, merges } = repository();
    const source = open(port);
    await source.openPullRequest(pullRequest);
    const together = await Promise.all([source.mergePullRequest(merge), source.mergePullRequest(merge)]);
    expect(together.map((o) => o.kind === 'merged' && o.already).sort()).toEqual([false, true]);
    expect(await open(port).mergePullRequest(merge)).toEqual({ kind: 'merged', sha: mergeCommit, already: true });
    // Recorded merged: no repository is needed to say so.
    expect(await open().mergePullRequest(merge)).toEqual({ kind: 'merged', sha: mergeCommit, already: true });
    expect(merges).toHaveLength(1);
  });

  it('completes the issue record when a crash came between pulls.json and it', async () => {
    const { port } = repository();
    const source = open(port);
    await source.openPullRequest(pullRequest);
    await source.mergePullRequest(merge);
    const record = await readJson('issue-1.json');
    delete record.merged;
    await writeFile(path.join(trackerDir, 'issue-1.json'), JSON.stringify(record));

    expect(await open().mergePullRequest(merge)).toMatchObject({ kind: 'merged', already: true });
    expect((await readJson('issue-1.json')).merged).toMatchObject({ pull: 1, sha: mergeCommit });
  });

  it('answers what the repository says when it does not merge, and records nothing', async () => {
    const { port, merges } = repository({ 'miyabi/issue-1': 'b'.repeat(40) });
    const source = open(port);
    await source.openPullRequest(pullRequest);
    expect(await source.mergePullRequest(merge)).toEqual({ kind: 'head_changed', reason: `miyabi/issue-1 is at ${'b'.repeat(40)}` });

    const conflict: MergeOutcome = { kind: 'conflict', files: ['src/flag.ts'], theirs: { ref: 'main', sha: 'c'.repeat(40) }, ours: { ref: 'miyabi/issue-1', sha: head } };
    port.answer = () => conflict;
    expect(await source.mergePullRequest(merge)).toEqual(conflict);
    port.answer = () => ({ kind: 'refused', reason: 'main is protected' });
    expect(await source.mergePullRequest(merge)).toEqual({ kind: 'refused', reason: 'main is protected' });

    expect(merges).toHaveLength(3);
    expect((await readJson('pulls.json'))[0]).toMatchObject({ state: 'open', merged: false });
    expect((await readJson('issue-1.json')).merged).toBeUndefined();
    expect(await readFile(path.join(trackerDir, 'pull-1.md'), 'utf8')).not.toContain('Merged as');
  });

  it('throws merge_unavailable without a repository, and refuses a closed or missing pull request', async () => {
    const source = open();
    await source.openPullRequest(pullRequest);
    await expect(source.mergePullRequest(merge)).rejects.toMatchObject({
      code: LocalSourceErrorCodes.MergeUnavailable,
      message: expect.stringContaining('no repository to merge in'),
    });
    const pulls = await readJson('pulls.json');
    pulls[0].state = 'closed';
    await writeFile(path.join(trackerDir, 'pulls.json'), JSON.stringify(pulls));
    const { port, merges } = repository();
    expect(await open(port).mergePullRequest(merge)).toMatchObject({ kind: 'refused', reason: expect.stringContaining('closed') });
    expect(await open(port).mergePullRequest({ ...merge, number: 5 })).toMatchObject({ kind: 'refused', reason: expect.stringContaining('does not exist') });
    expect(merges).toEqual([]);
  });
});

describe('retargetPullRequest', () => {
  it('changes the base in pulls.json and its view, once', async () => {
    const source = open();
    await source.openPullRequest({ ...pullRequest, base: 'miyabi/issue-0' });
    await source.retargetPullRequest(1, 'main');
    const [entry] = await readJson('pulls.json');
    expect(entry).toMatchObject({ base: 'main', updatedAt: expect.any(String) });
    expect(await readFile(path.join(trackerDir, 'pull-1.md'), 'utf8')).toContain('miyabi/issue-1 → main');
    const before = await readFile(path.join(trackerDir, 'pulls.json'), 'utf8');
    await source.retargetPullRequest(1, 'main');
    expect(await readFile(path.join(trackerDir, 'pulls.json'), 'utf8')).toBe(before);
  });

  it('refuses a missing pull request, and a new base for a merged one', async () => {
    const { port } = repository();
    const source = open(port);
    await expect(source.retargetPullRequest(1, 'main')).rejects.toMatchObject({ code: LocalSourceErrorCodes.PullNotFound });
    await source.openPullRequest(pullRequest);
    await source.mergePullRequest(merge);
    await expect(source.retargetPullRequest(1, 'develop')).rejects.toMatchObject({ code: LocalSourceErrorCodes.PullClosed });
    await source.retargetPullRequest(1, 'main');
  });
});

describe('older pulls.json', () => {
  it('reads entries without the merge fields as open and unmerged; a merged head gets a new pull request', async () => {
    await mkdir(trackerDir);
    const old = { number: 1, issue: 1, head: 'miyabi/issue-1', base: 'main', title: 't', body: 'b', draft: false, url: 'file:///x', createdAt: '2024-01-01T00:00:00Z' };
    await writeFile(path.join(trackerDir, 'pulls.json'), JSON.stringify([old]));
    const { port } = repository();
    const source = open(port);
    expect(await source.pullRequest(1)).toMatchObject({ state: 'open', merged: false, updatedAt: old.createdAt });
    expect(await source.openPullRequest(pullRequest)).toMatchObject({ number: 1, created: false });
    expect(await readJson('pulls.json')).toEqual([old]); // not rewritten by reading

    await source.mergePullRequest(merge);
    expect(await source.openPullRequest(pullRequest)).toMatchObject({ number: 2, created: true });
  });
});
