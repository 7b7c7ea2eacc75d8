// The github source when GitHub says no or is not there: rate limits waited out or given up on,
// 5xx answers and dropped connections retried, the outage hook told of each, the token's access
// checked with the missing permission named, and a closed source refusing calls. The fake
// GitHub over real HTTP, the real octokit client.
import { describe, expect, it } from 'vitest';
import { IssueErrorCodes } from '../../src/issues/errors.ts';
import type { GitHubOutage } from '../../src/issues/github-client.ts';
import { failure, githubSourceHarness, listedOf, owner, repo } from '../support/github-source.ts';

const { fake, source, logLines } = githubSourceHarness();

const issuesPath = `/repos/${owner}/${repo}/issues`;

describe('rate limits and outages', () => {
  it('waits out a secondary rate limit (retry-after: 1) and succeeds, calling the outage hook', async () => {
    const github = await fake();
    github.addIssue({});
    github.fail({ kind: 'secondary_rate_limit', retryAfter: 1, method: 'GET', path: issuesPath });
    const outages: GitHubOutage[] = [];
    const issues = source(github, { onOutage: (o) => outages.push(o), client: { rateLimitUnitMs: 1000 } });

    const started = Date.now();
    expect((await listedOf(issues))).toHaveLength(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(outages).toEqual([
      { kind: 'secondary_rate_limit', request: `GET ${issuesPath}`, retryAfterSeconds: 1, attempt: 1, willRetry: true },
      { kind: 'secondary_rate_limit', request: `GET ${issuesPath}`, attempt: 2, recovered: true },
    ]);
    expect(github.requestsTo('GET', issuesPath).map((r) => r.status)).toEqual([403, 200]);
    expect(logLines.some((line) => line.includes('"outage":"secondary_rate_limit"') && line.includes('"level":"warn"'))).toBe(true);
  });

  it('waits for the reset of a primary rate limit', async () => {
    const github = await fake();
    const outages: GitHubOutage[] = [];
    // Two seconds ahead, so that a loaded machine taking a second to answer still sees a wait.
    github.fail({ kind: 'rate_limit', retryAfter: 2 });
    const issues = source(github, { onOutage: (o) => outages.push(o) });
    expect(await listedOf(issues)).toEqual([]);
    expect(outages.map((o) => [o.kind, o.recovered ?? false])).toEqual([
      ['rate_limit', false],
      ['rate_limit', true],
    ]);
    expect(outages[0]!.retryAfterSeconds).toBeGreaterThanOrEqual(1);
  });

  it('gives up on a rate limit that outlasts the retries, as github_rate_limited', async () => {
    const github = await fake();
    github.fail({ kind: 'secondary_rate_limit', times: 10 });
    const outages: GitHubOutage[] = [];
    const issues = source(github, { onOutage: (o) => outages.push(o), client: { maxRateLimitRetries: 2 } });
    const error = await failure(issues.listOpen());
    expect(error.code).toBe(IssueErrorCodes.GitHubRateLimited);
    expect(outages.map((o) => o.willRetry)).toEqual([true, true, false]);
  });

  it('retries 5xx answers and dropped connections, with one outage call each, then the recovery', async () => {
    const github = await fake();
    github.addIssue({});
    github.fail({ kind: 'server_error', status: 502, path: issuesPath });
    github.fail({ kind: 'network', path: issuesPath });
    const outages: GitHubOutage[] = [];
    const issues = source(github, { onOutage: (o) => outages.push(o) });
    expect((await listedOf(issues))).toHaveLength(1);
    expect(outages).toEqual([
      { kind: 'server_error', request: `GET ${issuesPath}`, status: 502, retryAfterSeconds: 0.005, attempt: 1, willRetry: true },
      { kind: 'network', request: `GET ${issuesPath}`, retryAfterSeconds: 0.02, attempt: 2, willRetry: true },
      { kind: 'network', request: `GET ${issuesPath}`, attempt: 3, recovered: true },
    ]);
  });

  it('fails with github_unavailable when the 5xx outlast the retries', async () => {
    const github = await fake();
    github.fail({ kind: 'server_error', times: 10 });
    const outages: GitHubOutage[] = [];
    const error = await failure(source(github, { onOutage: (o) => outages.push(o), client: { retries: 2 } }).get(1));
    expect(error.code).toBe(IssueErrorCodes.GitHubUnavailable);
    expect(error.message).toContain(`${owner}/${repo}`);
    expect(outages.map((o) => o.willRetry)).toEqual([true, true, false]);
    expect(github.state.requests).toHaveLength(3);
  });

  it('does not let a throwing outage hook break the call', async () => {
    const github = await fake();
    github.fail({ kind: 'server_error' });
    const issues = source(github, {
      onOutage: () => {
        throw new Error('metrics broke');
      },
    });
    expect(await listedOf(issues)).toEqual([]);
  });
});

describe('checkAccess', () => {
  it('answers the repository when the token can use it', async () => {
    const github = await fake({ defaultBranch: 'trunk' });
    expect(await source(github).checkAccess()).toEqual({ fullName: `${owner}/${repo}`, defaultBranch: 'trunk', private: false });
  });

  it('names the repository when GitHub answers 404', async () => {
    const github = await fake();
    const error = await failure(source(github, { owner: 'acme', repo: 'missing' }).checkAccess());
    expect(error.code).toBe(IssueErrorCodes.GitHubRepoNotFound);
    expect(error.message).toContain('repository acme/missing not found, or the token cannot see it');
  });

  it('says the token is bad on a 401', async () => {
    const github = await fake();
    const error = await failure(source(github, { token: 'ghp_wrong' }).checkAccess());
    expect(error.code).toBe(IssueErrorCodes.GitHubTokenInvalid);
    expect(error.message).toMatch(/wrong, expired or revoked/);
    expect(error.message).not.toContain('ghp_wrong');
  });

  it('names the permission missing on a 403, from x-accepted-github-permissions or the ones the source needs', async () => {
    const github = await fake();
    github.fail({ kind: 'forbidden', acceptedPermissions: 'issues=read', path: issuesPath });
    const named = await failure(source(github).checkAccess());
    expect(named.code).toBe(IssueErrorCodes.GitHubPermissionDenied);
    expect(named.message).toContain(`the token needs Issues: read on ${owner}/${repo}`);

    github.fail({ kind: 'forbidden', acceptedPermissions: 'pull_requests=write,contents=read; issues=write', path: `/repos/${owner}/${repo}/pulls` });
    const alternatives = await failure(source(github).checkAccess());
    expect(alternatives.message).toContain('Pull requests: read and write and Contents: read, or Issues: read and write');

    github.fail({ kind: 'forbidden' });
    const unnamed = await failure(source(github).checkAccess());
    expect(unnamed.message).toContain('the token needs Issues: read and write and Pull requests: read and write');
  });

  it('refuses an empty token before any request', async () => {
    const github = await fake();
    expect(() => source(github, { token: ' ' })).toThrow(expect.objectContaining({ code: IssueErrorCodes.GitHubTokenMissing }));
    expect(github.state.requests).toHaveLength(0);
  });
});

describe('close', () => {
  it('refuses calls once closed', async () => {
    const github = await fake();
    const issues = source(github);
    await issues.close();
    expect((await failure(issues.listOpen())).code).toBe(IssueErrorCodes.IssueSourceClosed);
  });
});
