/**
 * CI as a judge on GitHub — the fake GitHub REST server over real HTTP, the real octokit client,
 * real git and NATS: the check runs on the head of the issue's branch decide. Red sends the issue
 * back to codegen with the check and its log in the task, green (the required ones: a red check
 * not in `ci.checks` does not count) lets the merge stage merge it,
 * `workflow.maxCiRounds` bounds the rounds, and a check still running is waited for at
 * `ci.pollIntervalMs`, not in a loop.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeGitHub, type FakeGitHub } from '../support/fake-github.ts';
import {
  commentsOf,
  contextOf,
  githubAgents,
  githubConfig,
  githubEnv,
  mergePuts,
  pullOf,
  rowOf,
  stateLabels,
  stateOf,
  taskFiles,
  token,
  trustedIssue,
  waitingForBuild,
  waitState,
} from '../support/github-orchestra.ts';
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

const LOG = ['> widgets@1.0.0 test', 'FAIL test/report.test.ts', '  ✕ exports the totals (12 ms)', 'Expected: 42', 'Received: 41'];

describe('CI on GitHub decides the merge', { timeout: 120_000 }, () => {
  it('red check run → back to codegen with the check and its log in the task and a comment; green on the new head → merged, done', async () => {
    fake = await startFakeGitHub({ owner: 'acme', repo: 'widgets', token });
    const issue = trustedIssue(fake, 'Export the report');
    test = await startTestOrchestra({ backend: 'process', agents: githubAgents(), config: githubConfig(fake) });

    const first = await waitingForBuild(test, issue.number);
    fake.setCheckRun(first, { name: 'build', conclusion: 'failure', output: { title: '1 test failed', summary: LOG.join('\n') } });

    const second = await waitingForBuild(test, issue.number, first);
    const codegens = await taskFiles(test.dataDir, issue.number, 'codegen');
    expect(codegens.map((task) => task.round)).toEqual([0, 1]);
    expect(codegens[0]!.previous.ci).toBeUndefined();
    const ci = codegens[1]!.previous.ci!;
    expect(ci.status).toBe('failure');
    expect(ci.outputs!.check).toBe('build');
    expect(ci.outputs!.log).toEqual(expect.arrayContaining(LOG.slice(1)));
    expect((ci.outputs!.log as string[]).join('\n')).toContain('Received: 41');
    const said = commentsOf(fake, issue.number).find((body) => body.includes('CI check `build` failed'));
    expect(said, commentsOf(fake, issue.number).join('\n---\n')).toBeDefined();
    expect(said).toContain('back to codegen');
    expect(said).toContain('Expected: 42');
    // Nothing merged on the red head.
    expect(mergePuts(fake)).toEqual([]);

    // Only the required checks judge (`ci.checks: [build]`): a red one that is not required does not hold the merge.
    fake.setCheckRun(second, { name: 'lint', conclusion: 'failure', output: { summary: 'style nits' } });
    fake.setCheckRun(second, { name: 'build', conclusion: 'success' });
    await waitState(test, issue.number, 'done');
    expect(contextOf(test, issue.number).ciRounds).toBe(1);
    const pull = pullOf(fake, issue.number);
    expect(pull.pull!.merged).toMatchObject({ method: 'merge', message: `Closes #${issue.number}` });
    // The merge asked for the head CI judged.
    expect(pull.pull!.headSha).toBe(second);
    expect(mergePuts(fake).map((request) => request.status)).toEqual([200]);
    expect(fake.state.issues.get(issue.number)!.state).toBe('closed');
    expect(rowOf(test, issue.number)).toMatchObject({ state: 'done', merged: pull.pull!.merged!.sha });
    await test.orchestra.resources.workflow!.flush();
    expect(stateLabels(fake, issue.number)).toEqual(['miyabi:done']);
    expect(commentsOf(fake, issue.number).filter((body) => body.includes('is done'))).toHaveLength(1);
  });

  it('a red check after workflow.maxCiRounds rounds fails the issue with the reason; nothing is merged', async () => {
    fake = await startFakeGitHub({ owner: 'acme', repo: 'widgets', token });
    const issue = trustedIssue(fake, 'Export the report');
    test = await startTestOrchestra({ backend: 'process', agents: githubAgents(), config: githubConfig(fake, { workflow: { maxCiRounds: 1 } }) });

    const first = await waitingForBuild(test, issue.number);
    fake.setCheckRun(first, { name: 'build', conclusion: 'failure', output: { summary: 'round 0: red' } });
    const second = await waitingForBuild(test, issue.number, first);
    // A commit status counts as well as a check run.
    fake.setStatus(second, { context: 'build', state: 'failure', description: 'round 1: still red' });

    await waitState(test, issue.number, 'failed');
    expect(contextOf(test, issue.number).reason).toBe('CI check build still failing after 1 CI round(s) (workflow.maxCiRounds 1)');
    expect(rowOf(test, issue.number).reason).toContain('workflow.maxCiRounds 1');
    expect((await taskFiles(test.dataDir, issue.number, 'codegen')).map((task) => task.round)).toEqual([0, 1]);
    expect(mergePuts(fake)).toEqual([]);
    expect(pullOf(fake, issue.number).pull!.merged).toBeUndefined();
    await test.orchestra.resources.workflow!.flush();
    expect(stateLabels(fake, issue.number)).toEqual(['miyabi:failed']);
    const failed = commentsOf(fake, issue.number).find((body) => body.includes('failed.') && body.includes('maxCiRounds'));
    expect(failed, commentsOf(fake, issue.number).join('\n---\n')).toBeDefined();
  });

  it('a check still running is a wait in `merging` naming it, looked at every ci.pollIntervalMs, not in a loop', async () => {
    fake = await startFakeGitHub({ owner: 'acme', repo: 'widgets', token });
    const issue = trustedIssue(fake, 'Export the report');
    test = await startTestOrchestra({ backend: 'process', agents: githubAgents(), config: githubConfig(fake, { ci: { pollIntervalMs: 1_000 } }) });

    const head = await waitingForBuild(test, issue.number);
    fake.setCheckRun(head, { name: 'build', status: 'in_progress' });
    fake.setCheckRun(head, { name: 'lint', conclusion: 'success' });
    const reads = () => fake!.requestsTo('GET', `/repos/acme/widgets/commits/${head}/check-runs`).length;
    await waitFor(() => reads() >= 2, { timeoutMs: 10_000, what: 'the running check read' });
    expect(stateOf(test, issue.number)).toBe('merging');
    expect(contextOf(test, issue.number).reason).toBe(`CI running on ${head.slice(0, 12)}: build`);
    expect(rowOf(test, issue.number)).toMatchObject({ state: 'merging', reason: `CI running on ${head.slice(0, 12)}: build` });

    // Four more looks take three poll intervals at least; a loop would make them in milliseconds.
    const from = reads();
    const startedAt = Date.now();
    await waitFor(() => reads() >= from + 4, { timeoutMs: 15_000, what: 'four more looks' });
    const elapsed = Date.now() - startedAt;
    console.log(`4 looks at a running check in ${elapsed} ms (ci.pollIntervalMs 1000)`);
    expect(elapsed).toBeGreaterThanOrEqual(2_900);
    expect(reads() - from).toBeLessThanOrEqual(Math.ceil(elapsed / 1_000) + 1);
    expect(stateOf(test, issue.number)).toBe('merging');
    expect(mergePuts(fake)).toEqual([]);

    fake.setCheckRun(head, { name: 'build', conclusion: 'success' });
    await waitState(test, issue.number, 'done');
    expect(mergePuts(fake).map((request) => request.status)).toEqual([200]);
  });
});
