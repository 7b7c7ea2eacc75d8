// The fake GitHub against GitHub's own response shapes (fixtures written by hand from the
// examples of GitHub's REST docs), and its HTTP behaviour: ETag/304, Link pagination, 401, 404,
// fault injection.
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeGitHub, type FakeGitHub } from '../support/fake-github.ts';
import { waitFor } from '../support/wait.ts';

const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`./fixtures/github-${name}.json`, import.meta.url), 'utf8'));

/** Fields GitHub documents as nullable: null on either side matches any type. */
const nullable = new Set([
  'description',
  'body',
  'closed_at',
  'merged_at',
  'merge_commit_sha',
  'milestone',
  'assignee',
  'active_lock_reason',
  'state_reason',
  'closed_by',
  'commit_id',
  'commit_url',
  'performed_via_github_app',
  'auto_merge',
]);

const kind = (value: unknown) => (value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value);

/** Every key of `expected` (recursively, first element of arrays) is in `actual` with the same JSON type. */
function shapeMismatches(expected: unknown, actual: unknown, path = '$'): string[] {
  const key = path.split('.').pop() ?? '';
  if ((expected === null || actual === null) && nullable.has(key)) return [];
  if (kind(expected) !== kind(actual)) return [`${path}: expected ${kind(expected)}, got ${kind(actual)}`];
  if (Array.isArray(expected) && Array.isArray(actual)) {
    return expected.length > 0 && actual.length > 0 ? shapeMismatches(expected[0], actual[0], `${path}[0]`) : [];
  }
  if (kind(expected) !== 'object') return [];
  const a = actual as Record<string, unknown>;
  return Object.entries(expected as Record<string, unknown>).flatMap(([k, v]) =>
    k in a ? shapeMismatches(v, a[k], `${path}.${k}`) : [`${path}.${k}: missing`],
  );
}

let github: FakeGitHub;
const token = 'ghp_fake_token_for_tests';
const headers = { authorization: `token ${token}`, accept: 'application/vnd.github+json' };
const get = (path: string, extra: Record<string, string> = {}) => fetch(`${github.url}${path}`, { headers: { ...headers, ...extra } });

beforeEach(async () => {
  github = await startFakeGitHub({ owner: 'octocat', repo: 'Hello-World', token });
});
afterEach(async () => {
  await github.close();
});

describe('response shapes', () => {
  it('answers an issue, a comment, a label, an event, a permission, a repository and a pull request as GitHub does', async () => {
    const issue = github.addIssue({ title: 'Found a bug', body: "I'm having a problem with this.", labels: ['bug'] });
    github.state.labels.get('bug')!.description = "Something isn't working";
    github.addComment(issue.number, 'Me too');
    github.setCollaborator('hubot', 'maintain');
    github.addPull({ head: 'new-topic', body: 'Please pull these awesome changes in!' });

    const checks: Array<[string, string, (body: unknown) => unknown]> = [
      ['issue', `/repos/octocat/Hello-World/issues/${issue.number}`, (b) => b],
      ['issue', '/repos/octocat/Hello-World/issues', (b) => (b as unknown[]).find((i) => !('pull_request' in (i as object)))],
      ['pull-request-in-issues', '/repos/octocat/Hello-World/issues', (b) => (b as unknown[]).find((i) => 'pull_request' in (i as object))],
      ['comment', `/repos/octocat/Hello-World/issues/${issue.number}/comments`, (b) => (b as unknown[])[0]],
      ['label', '/repos/octocat/Hello-World/labels', (b) => (b as unknown[])[0]],
      ['labeled-event', `/repos/octocat/Hello-World/issues/${issue.number}/events`, (b) => (b as unknown[])[0]],
      ['collaborator-permission', '/repos/octocat/Hello-World/collaborators/hubot/permission', (b) => b],
      ['repository', '/repos/octocat/Hello-World', (b) => b],
      ['pull-request', '/repos/octocat/Hello-World/pulls?head=octocat:new-topic', (b) => (b as unknown[])[0]],
    ];
    for (const [name, path, pick] of checks) {
      const response = await get(path);
      expect(response.status, path).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
      const actual = pick(await response.json());
      expect(actual, `${name} at ${path}`).toBeDefined();
      expect(shapeMismatches(fixture(name), actual), `${name} at ${path}`).toEqual([]);
    }
  });

  it('maps maintain to permission write and role_name maintain, like GitHub', async () => {
    github.setCollaborator('hubot', 'maintain');
    const body = (await (await get('/repos/octocat/Hello-World/collaborators/hubot/permission')).json()) as Record<string, unknown>;
    expect(body).toMatchObject({ permission: 'write', role_name: 'maintain', user: { login: 'hubot' } });
  });

  it('sends rate-limit headers on every answer', async () => {
    const first = await get('/repos/octocat/Hello-World');
    const second = await get('/repos/octocat/Hello-World/issues');
    expect(first.headers.get('x-ratelimit-limit')).toBe('5000');
    expect(Number(second.headers.get('x-ratelimit-remaining'))).toBe(Number(first.headers.get('x-ratelimit-remaining')) - 1);
    expect(Number(first.headers.get('x-ratelimit-reset'))).toBeGreaterThan(Date.now() / 1000);
  });
});

describe('conditional requests', () => {
  it('answers 304 without a body to a matching If-None-Match, and 200 once the list changed', async () => {
    github.addIssue({ title: 'one' });
    const first = await get('/repos/octocat/Hello-World/issues?state=open&per_page=100');
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^W\/"[0-9a-f]+"$/);
    const remaining = first.headers.get('x-ratelimit-remaining');

    const unchanged = await get('/repos/octocat/Hello-World/issues?state=open&per_page=100', { 'if-none-match': etag });
    expect(unchanged.status).toBe(304);
    expect(await unchanged.text()).toBe('');
    expect(unchanged.headers.get('x-ratelimit-remaining')).toBe(remaining);

    github.addIssue({ title: 'two' });
    const changed = await get('/repos/octocat/Hello-World/issues?state=open&per_page=100', { 'if-none-match': etag });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).not.toBe(etag);
    expect(github.state.requests.map((r) => r.status)).toEqual([200, 304, 200]);
  });
});

describe('pagination', () => {
  it('pages with per_page and page, and a Link header with next, last, prev and first', async () => {
    for (let i = 0; i < 25; i += 1) github.addIssue({ title: `issue ${i}` });
    const page1 = await get('/repos/octocat/Hello-World/issues?per_page=10');
    expect(((await page1.json()) as unknown[]).length).toBe(10);
    const link1 = page1.headers.get('link')!;
    expect(link1).toContain(`<${github.url}/repos/octocat/Hello-World/issues?per_page=10&page=2>; rel="next"`);
    expect(link1).toContain(`<${github.url}/repos/octocat/Hello-World/issues?per_page=10&page=3>; rel="last"`);

    const page3 = await fetch(/<([^>]+)>; rel="last"/.exec(link1)![1]!, { headers });
    const items = (await page3.json()) as Array<{ number: number }>;
    expect(items.map((i) => i.number)).toEqual([5, 4, 3, 2, 1]);
    const link3 = page3.headers.get('link')!;
    expect(link3).toContain('rel="prev"');
    expect(link3).toContain('rel="first"');
    expect(link3).not.toContain('rel="next"');
  });

  it('sends no Link header when everything fits one page', async () => {
    github.addIssue({});
    expect((await get('/repos/octocat/Hello-World/issues')).headers.get('link')).toBeNull();
  });
});

describe('errors', () => {
  it('answers 401 Bad credentials without the right token', async () => {
    const wrong = await fetch(`${github.url}/repos/octocat/Hello-World`, { headers: { authorization: 'token nope' } });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ message: 'Bad credentials' });
    const none = await fetch(`${github.url}/repos/octocat/Hello-World`);
    expect(none.status).toBe(401);
  });

  it('answers 404 Not Found for another repository, a missing issue and an unknown route', async () => {
    for (const path of ['/repos/someone/else', '/repos/octocat/Hello-World/issues/999', '/repos/octocat/Hello-World/nothing']) {
      const response = await get(path);
      expect(response.status, path).toBe(404);
      expect(await response.json()).toMatchObject({ message: 'Not Found' });
    }
  });

  it('injects faults on matching requests only, as many times as asked', async () => {
    github.fail({ kind: 'server_error', status: 502, times: 2, method: 'GET', path: '/repos/octocat/Hello-World/issues' });
    expect((await get('/repos/octocat/Hello-World')).status).toBe(200);
    expect((await get('/repos/octocat/Hello-World/issues')).status).toBe(502);
    expect((await get('/repos/octocat/Hello-World/issues')).status).toBe(502);
    expect((await get('/repos/octocat/Hello-World/issues')).status).toBe(200);

    github.fail({ kind: 'secondary_rate_limit' });
    const secondary = await get('/repos/octocat/Hello-World');
    expect(secondary.status).toBe(403);
    expect(secondary.headers.get('retry-after')).toBe('1');
    expect(((await secondary.json()) as { message: string }).message).toMatch(/secondary rate limit/);

    github.fail({ kind: 'rate_limit', retryAfter: 1 });
    const primary = await get('/repos/octocat/Hello-World');
    expect(primary.status).toBe(403);
    expect(primary.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(Number(primary.headers.get('x-ratelimit-reset'))).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000));

    github.fail({ kind: 'forbidden', acceptedPermissions: 'issues=write' });
    const forbidden = await get('/repos/octocat/Hello-World');
    expect(forbidden.status).toBe(403);
    expect(forbidden.headers.get('x-accepted-github-permissions')).toBe('issues=write');

    github.fail({ kind: 'network' });
    await expect(get('/repos/octocat/Hello-World')).rejects.toThrow();
    expect(github.state.requests.at(-1)).toMatchObject({ method: 'GET', path: '/repos/octocat/Hello-World', status: 0 });
  });

  it('sends raw bytes as a body when asked, and records every request', async () => {
    const issue = github.addIssue({ rawBody: Buffer.from([0x68, 0x69, 0xff, 0xfe, 0xc3, 0x28]) });
    const response = await get(`/repos/octocat/Hello-World/issues/${issue.number}`);
    const bytes = Buffer.from(await response.arrayBuffer());
    expect(bytes.includes(Buffer.from([0x22, 0x68, 0x69, 0xff, 0xfe, 0xc3, 0x28, 0x22]))).toBe(true);
    expect(github.requestsTo('GET', '/repos/octocat/Hello-World/issues/')).toHaveLength(1);
  });
});

describe('merges, checks and dependencies', () => {
  const send = (method: string, path: string, body: unknown) =>
    fetch(`${github.url}${path}`, { method, headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const pulls = '/repos/octocat/Hello-World/pulls';

  it('merges as GitHub does: 409 on another head, 200 once (adopting the head sha), then 405; the issues the body fixes close', async () => {
    const issue = github.addIssue({});
    const pull = github.addPull({ head: 'topic', body: `Fixes #${issue.number}` });
    const sha = '1'.repeat(40);
    expect((await send('PUT', `${pulls}/${pull.number}/merge`, { sha, merge_method: 'rebase' })).status).toBe(200);
    expect(await (await get(`${pulls}/${pull.number}`)).json()).toMatchObject({ merged: true, state: 'closed', head: { sha }, mergeable: null });
    expect((await get(`${pulls}/${pull.number}/merge`)).status).toBe(204);
    expect(github.state.issues.get(issue.number)!.state).toBe('closed');
    const again = await send('PUT', `${pulls}/${pull.number}/merge`, { sha });
    expect(again.status).toBe(405);
    expect(await again.json()).toMatchObject({ message: 'Pull Request is not mergeable' });

    const other = github.addPull({ head: 'other' });
    github.setPullHead(other.number, '2'.repeat(40));
    const moved = await send('PUT', `${pulls}/${other.number}/merge`, { sha });
    expect(moved.status).toBe(409);
    expect(await moved.json()).toMatchObject({ message: 'Head branch was modified. Review and try the merge again.' });
    expect((await send('PUT', `${pulls}/${other.number}/merge`, { merge_method: 'octopus' })).status).toBe(422);
  });

  it('answers check runs wrapped with total_count and the combined status with its state', async () => {
    github.setCheckRun('abc', { name: 'build', status: 'in_progress' });
    github.setStatus('abc', { context: 'ci', state: 'failure' });
    github.setStatus('abc', { context: 'ci', state: 'success' });
    expect(await (await get('/repos/octocat/Hello-World/commits/abc/check-runs')).json()).toMatchObject({
      total_count: 1,
      check_runs: [{ name: 'build', status: 'in_progress', conclusion: null, head_sha: 'abc' }],
    });
    expect(await (await get('/repos/octocat/Hello-World/commits/abc/status')).json()).toMatchObject({
      state: 'success',
      total_count: 1,
      statuses: [{ context: 'ci', state: 'success' }],
    });
  });

  it('applies a write whose answer it then loses (answer_lost), and records what the route answered', async () => {
    const issue = github.addIssue({});
    const path = `/repos/octocat/Hello-World/issues/${issue.number}/comments`;
    github.fail({ kind: 'answer_lost', method: 'POST', path });
    await expect(send('POST', path, { body: 'hello' })).rejects.toThrow();
    github.fail({ kind: 'answer_lost', status: 502, method: 'POST', path });
    expect((await send('POST', path, { body: 'again' })).status).toBe(502);
    expect(github.commentCount(issue.number)).toBe(2);
    expect(github.requestsTo('POST', path).map((r) => [r.status, r.appliedStatus])).toEqual([
      [0, 201],
      [502, 201],
    ]);
  });

  it('answers a slow request late: received, not yet applied, then applied and answered as usual', async () => {
    const issue = github.addIssue({});
    const path = `/repos/octocat/Hello-World/issues/${issue.number}/comments`;
    github.fail({ kind: 'slow', delayMs: 3_000, method: 'POST', path });
    const answer = send('POST', path, { body: 'late' });
    await waitFor(() => github.requestsTo('POST', path).length === 1, { timeoutMs: 3_000, what: 'the slow request received' });
    expect(github.commentCount(issue.number)).toBe(0);
    expect((await answer).status).toBe(201);
    expect(github.commentCount(issue.number)).toBe(1);
    expect(github.requestsTo('POST', path).map((r) => r.status)).toEqual([201]);
  });
});
