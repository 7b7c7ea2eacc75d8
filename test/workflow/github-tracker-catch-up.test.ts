/**
 * The tracker catching up with work that went faster than its writes: the real orchestra against
 * the fake GitHub with GitHub's spacing of writes on. Every label and comment write is held (its
 * answer kept back by a relay, so nothing after it can go) until all issues are done; then the
 * tracker catches up, and what it wrote is read back from the fake's request log:
 *
 *   no start comment after the end   an issue that finished while its start comment waited gets
 *                                    none (docs/WORKFLOW.md): every comment after the release is a
 *                                    final one
 *   only the latest state            each issue's labels are PUT once after the release (its
 *                                    final state; the states it went through on the way are
 *                                    not sent) and carry exactly that label
 *   the final label's lag            bounded by the queue of writes: printed, not asserted
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeGitHub, type FakeGitHub } from '../support/fake-github.ts';
import { contextOf, githubAgents, githubConfig, githubEnv, stateLabels, token, trustedIssue, waitState } from '../support/github-orchestra.ts';
import { startHoldingProxy, type HoldingProxy } from '../support/holding-proxy.ts';
import { startTestOrchestra, type TestOrchestra } from '../support/orchestra.ts';
import { waitFor } from '../support/wait.ts';

beforeAll(githubEnv);

let fake: FakeGitHub | undefined;
let proxy: HoldingProxy | undefined;
let test: TestOrchestra | undefined;
afterEach(async () => {
  proxy?.release();
  await test?.stop();
  await proxy?.close();
  await fake?.close();
  test = undefined;
  proxy = undefined;
  fake = undefined;
});

const ISSUES = 6;
const labelsPut = (path: string) => /^\/repos\/acme\/widgets\/issues\/\d+\/labels$/.test(path);
const commentPosted = (path: string) => /^\/repos\/acme\/widgets\/issues\/\d+\/comments$/.test(path);
const issueOf = (path: string) => Number(/\/issues\/(\d+)\//.exec(path)![1]);

describe('the tracker catching up', { timeout: 240_000 }, () => {
  it(`with ${ISSUES} issues done while their writes waited: no start comment after the end, one label PUT per issue, the final label arrives`, async () => {
    fake = await startFakeGitHub({ owner: 'acme', repo: 'widgets', token });
    proxy = await startHoldingProxy(fake.url, (method, path) => (method === 'PUT' && labelsPut(path)) || (method === 'POST' && commentPosted(path)));
    const issues = Array.from({ length: ISSUES }, (_, index) => trustedIssue(fake!, `Issue ${index + 1}`).number);
    const agents = githubAgents();
    test = await startTestOrchestra({
      backend: 'process',
      agents: { ...agents, codegen: { ...agents.codegen, max: 3 } },
      config: githubConfig(fake, {
        github: { baseUrl: proxy.url, spaceWrites: true },
        // One stage, no pull request: nothing of the work waits for the tracker, so it all ends while the writes are held.
        workflow: { routes: [{ label: 'type:docs', stages: ['codegen'] }] },
      }),
    });
    for (const issue of issues) await waitState(test, issue, 'done', 120_000);
    const finishedAt = new Map(issues.map((issue) => [issue, contextOf(test!, issue).finishedAt!]));
    const fromRequest = fake.state.requests.length;
    const fromComment = fake.state.comments.length;
    const releasedAt = Date.now();
    proxy.release();

    const caughtUp = () =>
      issues.every(
        (issue) =>
          stateLabels(fake!, issue).join() === 'miyabi:done' && fake!.state.comments.some((comment) => comment.issue === issue && comment.body.includes(`#${issue} is done`)),
      );
    await waitFor(caughtUp, { timeoutMs: 200_000, intervalMs: 100, what: 'every issue labelled done and commented on the tracker' });
    await test.orchestra.resources.workflow!.flush();

    const after = fake.state.requests.slice(fromRequest);
    const comments = fake.state.comments.slice(fromComment);
    const puts = after.filter((request) => request.method === 'PUT' && labelsPut(request.path));
    const putsOf = (issue: number) => puts.filter((request) => issueOf(request.path) === issue).length;
    const landed = issues.map((issue) => {
      const put = puts.filter((request) => issueOf(request.path) === issue).at(-1);
      return put === undefined ? 0 : (put.at - finishedAt.get(issue)!) / 1000;
    });
    const metrics = await test.orchestra.resources.metrics.render();
    const lagSum = Number(/miyabi_tracker_lag_seconds_sum ([\d.e+-]+)/.exec(metrics)?.[1]);
    const lagCount = Number(/miyabi_tracker_lag_seconds_count (\d+)/.exec(metrics)?.[1]);
    console.log(
      `tracker catch-up, ${ISSUES} issues: ${puts.length} label PUTs and ${comments.length} comments after the release ` +
        `(${comments.filter((comment) => comment.body.includes('started work on')).length} start comments); ` +
        `done label ${Math.max(...landed).toFixed(1)} s at most after the issue finished, the last ${((Math.max(...puts.map((put) => put.at)) - releasedAt) / 1000).toFixed(1)} s after the release ` +
        `(${((Date.now() - releasedAt) / 1000).toFixed(1)} s to catch up with the comments); ` +
        `miyabi_tracker_lag_seconds mean ${(lagSum / lagCount).toFixed(1)} s over ${lagCount} labels`,
    );

    // Every issue had finished at the release: a comment after it is a final one, never "started work".
    expect(comments.filter((comment) => comment.body.includes('started work on')).map((comment) => comment.issue)).toEqual([]);
    for (const issue of issues) {
      expect(comments.filter((comment) => comment.issue === issue).map((comment) => comment.body.split('\n')[1])).toEqual([`🎼 **Miyabi Orchestra**: #${issue} is done.`]);
      // Pending, running and done were all waiting: only the last one is sent.
      expect(putsOf(issue), `label PUTs of #${issue} after the release`).toBe(1);
      expect(stateLabels(fake, issue)).toEqual(['miyabi:done']);
    }
    expect(landed.every((seconds) => seconds > 0)).toBe(true);
  });
});
