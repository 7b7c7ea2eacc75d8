/**
 * What the orchestra costs GitHub, and what GitHub sees of it: the real orchestra against the fake
 * server, whose request log says when each request arrived, what it was answered and whether it
 * counted against the rate limit.
 *
 *   quiet is free               an unchanged backlog costs 0 rate-limit units per poll, with the
 *                               default polls (conditional `since` polls between conditional full ones)
 *   one pause for the client    no request leaves while a secondary or a primary limit is in force
 *   one state label at a time   the issue never shows two state labels, and the tracker's lag is measured
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeGitHub, type FakeGitHub } from '../support/fake-github.ts';
import { githubAgents, githubConfig, githubEnv, stateLabels, stateOf, token, trustedIssue, waitState } from '../support/github-orchestra.ts';
import { startTestOrchestra, type TestOrchestra } from '../support/orchestra.ts';
import { waitFor } from '../support/wait.ts';

beforeAll(githubEnv);

let fake: FakeGitHub | undefined;
let test: TestOrchestra | undefined;
afterEach(async () => {
  await test?.stop();
  await fake?.close();
  test = undefined;
  fake = undefined;
});

const polls = () => test!.orchestra.resources.watcher?.polls ?? 0;

/** Requests that arrived while a limit met at `at` was in force for `seconds` (a margin for those already on their way). */
const duringLimit = (at: number, seconds: number) =>
  fake!.state.requests.filter((request) => request.at > at + 250 && request.at < at + seconds * 1000 - 250);

describe('the cost of GitHub', { timeout: 60_000 }, () => {
  it('an unchanged backlog costs nothing on the rate limit, with the default polls (full every 10th, `since` between)', async () => {
    fake = await startFakeGitHub({ owner: 'acme', repo: 'widgets', token });
    fake.addIssue({ title: 'Not labelled', author: 'acme', authorAssociation: 'OWNER' });
    const stranger = fake.addIssue({ title: 'From a stranger', author: 'eve', authorAssociation: 'NONE' });
    fake.labelIssue(stranger.number, 'miyabi', 'acme');
    test = await startTestOrchestra({ backend: 'process', agents: githubAgents(), config: githubConfig(fake) });
    // The first full poll and the first `since` poll learn the backlog (and cost); from then on it is quiet.
    await waitFor(() => polls() >= 2, { what: 'two polls' });
    const from = fake.state.requests.length;
    await waitFor(() => polls() >= 11, { timeoutMs: 25_000, what: 'nine quiet polls, the 10th one full' });
    const quiet = fake.state.requests.slice(from);
    expect(quiet.some((request) => request.query.includes('since='))).toBe(true);
    expect(quiet.some((request) => request.query.includes('state=open'))).toBe(true);
    expect(quiet.filter((request) => request.counted)).toEqual([]);
  });

  it('pauses every request while a secondary limit is in force; the issue shows one state label at any instant; the lag is measured', async () => {
    fake = await startFakeGitHub({ owner: 'acme', repo: 'widgets', token });
    const issue = trustedIssue(fake, 'Limited');
    // The start comment meets a secondary limit of 3 s: every request in that window would be refused too.
    fake.fail({ kind: 'secondary_rate_limit', retryAfter: 3, window: true, method: 'POST', path: /\/comments$/ });
    test = await startTestOrchestra({ backend: 'process', agents: githubAgents(), config: githubConfig(fake, { ci: { checks: [] } }) });
    await waitState(test, issue.number, 'done', 30_000);
    await test.orchestra.resources.workflow!.flush();
    const secondary = fake.state.requests.find((request) => request.status === 403)!;
    expect(duringLimit(secondary.at, 3)).toEqual([]);
    expect(fake.state.requests.filter((request) => request.status === 403)).toHaveLength(1);

    // One state label at a time, from the first one on.
    const shown = fake.state.issues.get(issue.number)!.labelHistory.map((labels) => labels.filter((label) => label.startsWith('miyabi:')));
    expect(shown.filter((labels) => labels.length > 1)).toEqual([]);
    expect(shown.slice(shown.findIndex((labels) => labels.length === 1)).filter((labels) => labels.length !== 1)).toEqual([]);
    expect(stateLabels(fake, issue.number)).toEqual(['miyabi:done']);
    const metrics = await test.orchestra.resources.metrics.render();
    expect(Number(/miyabi_tracker_lag_seconds_count (\d+)/.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
    // The rate-limit headers of GitHub's answers, as gauges (docs/METRICS.md).
    expect(metrics).toMatch(/miyabi_github_rate_limit_remaining\{resource="core"\} \d+/);
    expect(metrics).toMatch(new RegExp(`miyabi_github_rate_limit_limit\\{resource="core"\\} ${fake.state.rateLimit.limit}\\b`));
  });

  it('pauses every request once an answer says the primary limit is spent, until it resets', async () => {
    fake = await startFakeGitHub({ owner: 'acme', repo: 'widgets', token });
    const issues = [trustedIssue(fake, 'First'), trustedIssue(fake, 'Second')];
    test = await startTestOrchestra({ backend: 'process', agents: githubAgents(), config: githubConfig(fake, { ci: { checks: [] } }) });
    // While the work starts (writes for both issues, polls meanwhile), three requests are left for 4 s.
    await waitFor(() => issues.some((issue) => stateOf(test!, issue.number) !== undefined), { what: 'an issue discovered' });
    const from = fake.state.requests.length;
    fake.setRateLimit({ remaining: 3, resetInSeconds: 4 });
    const resetAt = fake.state.rateLimit.resetAt;
    for (const issue of issues) await waitState(test, issue.number, 'done', 30_000);
    const spent = fake.state.requests.slice(from).filter((request) => request.counted)[2]!;
    expect(fake.state.requests.filter((request) => request.at > spent.at + 250 && request.at < resetAt - 250)).toEqual([]);
    expect(fake.state.requests.filter((request) => request.status === 403 && request.at > spent.at + 250)).toEqual([]);
  });
});
