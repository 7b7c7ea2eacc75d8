// The github source's client as one client: while a rate limit is in force no request of it
// leaves (not only the one that met the limit), an answer saying the primary limit is spent pauses
// it before any refusal, and its log lines say what happens next. The fake GitHub, the real client.
import { describe, expect, it } from 'vitest';
import { githubSourceHarness, owner, repo } from '../support/github-source.ts';
import { waitFor } from '../support/wait.ts';

const { fake, source, logLines } = githubSourceHarness();

const issuesPath = `/repos/${owner}/${repo}/issues`;
const paused = () => logLines.some((line) => line.includes('no request leaves for'));

describe('one pause for the whole client', () => {
  it('while a secondary limit is in force, the other requests wait too: none is refused', async () => {
    const github = await fake();
    const issue = github.addIssue({ title: 'one' });
    github.fail({ kind: 'secondary_rate_limit', retryAfter: 1, window: true, method: 'GET', path: `${issuesPath}/${issue.number}` });
    const issues = source(github, { client: { rateLimitUnitMs: 1000 } });
    const first = issues.get(issue.number);
    // The limit met and learned: a request started now must not leave before it is over.
    await waitFor(paused, { what: 'the client paused' });
    const second = issues.listOpen();
    await Promise.all([first, second]);
    const refused = github.state.requests.filter((request) => request.status === 403);
    expect(refused).toHaveLength(1);
    const listing = github.requestsTo('GET', issuesPath).find((request) => request.query.includes('state=open'))!;
    expect(listing.at - refused[0]!.at).toBeGreaterThanOrEqual(900);
  });

  it('an answer saying the primary limit is spent pauses the client until the reset: the next request is not refused', async () => {
    const github = await fake();
    github.addIssue({ title: 'one' });
    github.setRateLimit({ remaining: 1, resetInSeconds: 1 });
    const issues = source(github, { client: { rateLimitUnitMs: 1000 } });
    await issues.get(1);
    expect(paused()).toBe(true);
    await issues.get(1);
    const [spent, next] = github.state.requests;
    expect([spent!.status, next!.status]).toEqual([200, 200]);
    expect(next!.at).toBeGreaterThanOrEqual(github.state.requests[0]!.at + 900);
  });
});

describe('log lines that say what happens next', () => {
  it('a retried attempt says when it is retried; the last one hands the failure to its caller, never "giving up"', async () => {
    const github = await fake();
    github.fail({ kind: 'server_error', status: 503, times: 10 });
    await source(github, { client: { retries: 1 } }).get(1).catch(() => undefined);
    const lines = logLines.map((line) => JSON.parse(line) as { level: string; msg: string });
    expect(lines.filter((line) => line.level === 'warn').map((line) => line.msg)).toEqual([
      `GitHub server error on GET ${issuesPath}/1: will retry in 0.005 s (attempt 1)`,
    ]);
    expect(lines.some((line) => /giving up/.test(line.msg))).toBe(false);
  });
});

describe('a token that may not read collaborators\' permissions', () => {
  it('leaves the labeler\'s write access unknown, naming the request and what the token needs, instead of failing the lookup', async () => {
    const github = await fake();
    const issue = github.addIssue({});
    github.labelIssue(issue.number, 'miyabi', 'bob');
    github.state.permissionsReadable = false;
    const labeler = await source(github).labeler(issue.number, 'miyabi');
    expect(labeler).toMatchObject({ login: 'bob', hasWriteAccess: undefined });
    expect(labeler?.accessProblem).toContain(`GET /repos/${owner}/${repo}/collaborators/bob/permission answered 403`);
    expect(labeler?.accessProblem).toMatch(/push access to the repository .*Metadata read/);
    expect(labeler?.accessProblem).not.toMatch(/Issues: read and write/);
  });
});
