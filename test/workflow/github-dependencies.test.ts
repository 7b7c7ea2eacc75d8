/**
 * GitHub's own issue dependencies ("blocked by") end to end — the fake GitHub REST server over
 * real HTTP, the real octokit client, real git and NATS: a dependency GitHub knows and the body
 * does not say holds the dependent back until the dependency is merged (`merged` mode, the
 * default); a server without the feature (404) is asked once and the work goes on; a dependency
 * outside the scope counts once closed as completed, never when closed as not planned.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/cli.ts';
import { startFakeGitHub, type FakeGitHub } from '../support/fake-github.ts';
import {
  contextOf,
  githubAgents,
  githubConfig,
  githubEnv,
  mergeByHand,
  orchestraLog,
  pullOf,
  rowOf,
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

const blockedByRequests = (github: FakeGitHub) => github.requestsTo('GET', /\/issues\/\d+\/dependencies\/blocked_by$/);

describe('GitHub\'s issue dependencies', { timeout: 120_000 }, () => {
  it('#2 blocked by #1 on GitHub (not in its body) is not dispatched before #1 is merged; then it runs on top of it', async () => {
    fake = await startFakeGitHub({ owner: 'acme', repo: 'widgets', token });
    const first = trustedIssue(fake, 'Add the report table');
    const second = trustedIssue(fake, 'Export the report', 'Export the report table as CSV.');
    fake.setBlockedBy(second.number, [{ number: first.number }]);
    test = await startTestOrchestra({ backend: 'process', agents: githubAgents(), config: githubConfig(fake) });

    // #1 through pr, its merge waiting for the build: #2 still waits, nothing dispatched for it.
    const firstHead = await waitingForBuild(test, first.number);
    expect(stateOf(test, second.number)).toBe('waiting');
    expect(contextOf(test, second.number).waitingOn).toEqual([first.number]);
    expect(rowOf(test, second.number).reason).toBe(`waits for #${first.number}`);
    expect(await taskFiles(test.dataDir, second.number, 'codegen')).toEqual([]);
    expect(blockedByRequests(fake).some((request) => request.path.endsWith(`/issues/${second.number}/dependencies/blocked_by`))).toBe(true);

    fake.setCheckRun(firstHead, { name: 'build', conclusion: 'success' });
    await waitState(test, first.number, 'done');
    const secondHead = await waitingForBuild(test, second.number);
    // The order the orchestra log tells: #1's merge recorded before #2's first stage was dispatched.
    const log = await orchestraLog(test.dataDir);
    const merged = log.findIndex((line) => line.msg === 'merge recorded' && line.issue === first.number);
    const dispatched = log.findIndex((line) => line.msg === 'stage dispatched' && line.issue === second.number);
    expect(merged).toBeGreaterThanOrEqual(0);
    expect(dispatched).toBeGreaterThan(merged);
    const [task] = await taskFiles(test.dataDir, second.number, 'codegen');
    expect(task!.git!.dependencies).toEqual([expect.objectContaining({ number: first.number, merged: true, mergeCommit: pullOf(fake, first.number).pull!.merged!.sha })]);

    fake.setCheckRun(secondHead, { name: 'build', conclusion: 'success' });
    await waitState(test, second.number, 'done');
    expect(pullOf(fake, second.number).pull!.merged).toBeDefined();
  });

  it('a server without issue dependencies (404) is asked once, and the backlog still completes', async () => {
    fake = await startFakeGitHub({ owner: 'acme', repo: 'widgets', token, dependencies: false });
    const first = trustedIssue(fake, 'Add the report table');
    const second = trustedIssue(fake, 'Export the report');
    test = await startTestOrchestra({ backend: 'process', agents: githubAgents(), config: githubConfig(fake, { ci: { checks: [] } }) });
    await waitState(test, first.number, 'done');
    await waitState(test, second.number, 'done');
    // Each issue changed many times (labels, comments, closed): still one question, answered 404.
    expect(blockedByRequests(fake).map((request) => request.status)).toEqual([404]);
    const log = await orchestraLog(test.dataDir);
    expect(log.filter((line) => line.msg.startsWith('GitHub has no issue dependencies here'))).toHaveLength(1);
    expect(pullOf(fake, first.number).pull!.merged).toBeDefined();
    expect(pullOf(fake, second.number).pull!.merged).toBeDefined();
  });

  it('a dependency whose route has no merge stage: its dependent waits past its done until its pull request is merged on GitHub', async () => {
    fake = await startFakeGitHub({ owner: 'acme', repo: 'widgets', token });
    const first = trustedIssue(fake, 'Add the report table');
    fake.labelIssue(first.number, 'no-merge', 'acme');
    const second = trustedIssue(fake, 'Export the report', `Depends on #${first.number}.`);
    const workflow = { defaultRoute: ['codegen', 'pr', 'merge'], routes: [{ label: 'no-merge', stages: ['codegen', 'pr'] }] };
    test = await startTestOrchestra({ backend: 'process', agents: githubAgents(), config: githubConfig(fake, { ci: { checks: [] }, workflow }) });

    await waitState(test, first.number, 'done');
    // The pull request is opened as the pr stage's effect, just after the step.
    await test.orchestra.resources.workflow!.flush();
    const pull = pullOf(fake, first.number);
    // Done, its pull request open: its work is not on main, so #2 waits, and goes on waiting after the orchestra looked at it.
    // (Without a merge stage, only that look reads the pull request.)
    const looks = () => fake!.requestsTo('GET', `/repos/acme/widgets/pulls/${pull.number}`).length;
    await waitFor(() => looks() > 0, { timeoutMs: 30_000, what: 'the open pull request looked at' });
    expect(stateOf(test, second.number)).toBe('waiting');
    expect(rowOf(test, second.number).reason).toBe(`waits for #${first.number}`);

    expect(await mergeByHand(fake, pull.number)).toBe(200);
    await waitState(test, second.number, 'done');
    const log = await orchestraLog(test.dataDir);
    const merged = log.findIndex((line) => line.msg === 'pull request merged on the tracker' && line.issue === first.number);
    expect(merged).toBeGreaterThanOrEqual(0);
    expect(log.findIndex((line) => line.msg === 'stage dispatched' && line.issue === second.number)).toBeGreaterThan(merged);
    const [task] = await taskFiles(test.dataDir, second.number, 'codegen');
    expect(task!.git!.dependencies).toEqual([expect.objectContaining({ number: first.number, merged: true, mergeCommit: pull.pull!.merged!.sha })]);
  });

  it('a dependency outside the scope counts once closed as completed; one closed as not planned blocks its dependent', async () => {
    fake = await startFakeGitHub({ owner: 'acme', repo: 'widgets', token });
    // Not labelled for the orchestra: someone else's issues, closed by hand.
    const fixed = fake.addIssue({ title: 'Upstream fix', author: 'acme', authorAssociation: 'OWNER' });
    const dropped = fake.addIssue({ title: 'An idea we dropped', author: 'acme', authorAssociation: 'OWNER' });
    fake.closeIssue(fixed.number, 'completed');
    fake.closeIssue(dropped.number, 'not_planned');
    const freed = trustedIssue(fake, 'Use the fix', `Depends on #${fixed.number}.`);
    const held = trustedIssue(fake, 'Build on the idea', `Depends on #${dropped.number}.`);
    // The dependency file names one on another repository too: ignored, one log line at start naming the line.
    await using dir = await tempDir('miyabi-deps-file-');
    const dependenciesFile = await dir.file('deps.yaml', `${freed.number}: [other/lib#4]\n`);
    const config = githubConfig(fake, { ci: { checks: [] }, workflow: { dependenciesFile } });
    test = await startTestOrchestra({ backend: 'process', agents: githubAgents(), config });
    await waitState(test, held.number, 'blocked');
    expect(rowOf(test, held.number).reason).toBe(`depends on #${dropped.number}, which was cancelled`);
    await waitState(test, freed.number, 'done');
    expect(await taskFiles(test.dataDir, held.number, 'codegen')).toEqual([]);
    expect(stateOf(test, held.number)).toBe('blocked');
    const ignored = (await orchestraLog(test.dataDir)).filter((line) => line.msg.includes('other/lib#4'));
    expect(ignored.map((line) => line.msg)).toEqual([`${dependenciesFile}:1:${String(freed.number).length + 4}: other/lib#4 in the dependencies of #${freed.number} is an issue of another repository: ignored`]);
  });
});
