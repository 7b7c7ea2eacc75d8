// The github source's reads and writes as GitHub sees them: conditional listings whose ETags are
// kept only once the caller commits them, `since` polls that cost nothing when nothing changed,
// and a state label changed in one PUT that keeps a label added meanwhile. The fake GitHub, the
// real client.
import { describe, expect, it } from 'vitest';
import { githubSourceHarness, owner, repo } from '../support/github-source.ts';
import { startHoldingProxy } from '../support/holding-proxy.ts';
import { waitFor } from '../support/wait.ts';

const { fake, source } = githubSourceHarness();

const issuesPath = `/repos/${owner}/${repo}/issues`;

describe('conditional listings', () => {
  it('keeps a listing\'s ETags only once it is committed: uncommitted, the same changes are answered again, never a 304', async () => {
    const github = await fake();
    github.addIssue({ title: 'first' });
    const issues = source(github);
    (await issues.listOpen()).commit?.();
    github.addIssue({ title: 'second' });
    // Read, but not committed (the caller failed to judge an issue of it).
    expect((await issues.listOpen()).issues?.map((i) => i.title).sort()).toEqual(['first', 'second']);
    const again = await issues.listOpen();
    expect(again.issues?.map((i) => i.title).sort()).toEqual(['first', 'second']);
    again.commit?.();
    expect((await issues.listOpen()).issues).toBeUndefined();
    expect(github.requestsTo('GET', issuesPath).map((r) => r.status)).toEqual([200, 200, 200, 304]);
  });

  it('answers a `since` poll asked again, once committed, with a 304: free on the rate limit, and `undefined`', async () => {
    const github = await fake();
    const issue = github.addIssue({ title: 'one' });
    const issues = source(github);
    const updated = await issues.listUpdatedSince(issue.updatedAt);
    expect(updated.issues?.map((i) => i.title)).toEqual(['one']);
    updated.commit?.();
    expect((await issues.listUpdatedSince(issue.updatedAt)).issues).toBeUndefined();
    expect(github.requestsTo('GET', issuesPath).map((r) => [r.status, r.counted])).toEqual([
      [200, true],
      [304, false],
    ]);
  });
});

describe('setExclusiveLabel', () => {
  const family = ['state:ready', 'state:working', 'state:done'] as const;

  it('changes the labels in one PUT: the issue never shows two of the family, nor none between two', async () => {
    const github = await fake();
    const issue = github.addIssue({ labels: ['bug', 'state:ready'] });
    const issues = source(github);
    for (const label of ['state:working', 'state:done', 'state:ready'] as const) await issues.setExclusiveLabel(issue.number, family, label);
    const labels = `${issuesPath}/${issue.number}/labels`;
    expect(github.requestsTo('PUT', labels)).toHaveLength(3);
    expect([...github.requestsTo('POST', labels), ...github.requestsTo('DELETE', labels)]).toHaveLength(0);
    const shown = github.state.issues.get(issue.number)!.labelHistory.map((set) => set.filter((l) => l.startsWith('state:')));
    expect(shown).toEqual([['state:ready'], ['state:working'], ['state:done'], ['state:ready']]);
    expect(github.state.issues.get(issue.number)!.labels).toEqual(['bug', 'state:ready']);
  });

  it('keeps a label someone adds while the PUT is on its way: put back, still applied by who applied it', async () => {
    const github = await fake();
    github.setCollaborator('carol', 'write');
    const issue = github.addIssue({ labels: ['bug', 'state:ready'] });
    // The read before the PUT is held: carol's label comes between the read and the PUT.
    const proxy = await startHoldingProxy(github.url, (method, path) => method === 'GET' && path === `${issuesPath}/${issue.number}`);
    try {
      const issues = source(github, { baseUrl: proxy.url, client: { retries: 0 } });
      // And the check after the PUT fails the first time: the write is tried again, and checks then.
      github.fail({ kind: 'server_error', status: 503, method: 'GET', path: `${issuesPath}/${issue.number}/events` });
      const write = issues.setExclusiveLabel(issue.number, family, 'state:working');
      await waitFor(() => proxy.held === 1, { what: 'the read before the PUT held' });
      github.labelIssue(issue.number, 'miyabi', 'carol');
      proxy.release();
      await expect(write).rejects.toThrow(/503|unavailable/i);
      expect(github.state.issues.get(issue.number)!.labels).not.toContain('miyabi');
      await issues.setExclusiveLabel(issue.number, family, 'state:working');
      const labels = github.state.issues.get(issue.number)!.labels;
      expect([...labels].sort()).toEqual(['bug', 'miyabi', 'state:working']);
      expect(github.state.issues.get(issue.number)!.labelHistory.every((set) => set.filter((l) => l.startsWith('state:')).length === 1)).toBe(true);
      expect(await issues.labeler(issue.number, 'miyabi')).toMatchObject({ login: 'carol', hasWriteAccess: true });
      // A label the orchestra itself removed is not put back.
      await issues.setExclusiveLabel(issue.number, family, 'state:done');
      expect([...github.state.issues.get(issue.number)!.labels].sort()).toEqual(['bug', 'miyabi', 'state:done']);
    } finally {
      await proxy.close();
    }
  });
});
