/**
 * No issue missed, on GitHub: the real orchestra against the fake server. Every trusted, triggered
 * open issue is seen within a poll of its last change, whatever failed before: changes within one
 * second (GitHub's `updated_at` is to the second), a poll that failed part way, a token that may
 * not read collaborators' permissions.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { readProcStat } from '../../src/infra/os/process.ts';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GitHubIssueSource } from '../../src/issues/github-source.ts';
import { repoRoot, tempDir, type TempDir } from '../support/cli.ts';
import { startFakeGitHub, type FakeGitHub } from '../support/fake-github.ts';
import {
  contextOf,
  deliverIssue,
  githubAgents,
  githubConfig,
  githubEnv,
  orchestraLog,
  SECRET_ENV,
  stateOf,
  token,
  trustedIssue,
  waitState,
} from '../support/github-orchestra.ts';
import { startTestOrchestra, type TestOrchestra } from '../support/orchestra.ts';
import { waitFor } from '../support/wait.ts';

beforeAll(githubEnv);

let fake: FakeGitHub | undefined;
let test: TestOrchestra | undefined;
let holds: TempDir | undefined;
afterEach(async () => {
  await test?.stop();
  await fake?.close();
  await holds?.[Symbol.asyncDispose]();
  test = undefined;
  fake = undefined;
  holds = undefined;
});

/** The example review agent, and codegen holding its first attempt of each issue until the test releases it (`hold`). */
function holdingAgents(dir: string) {
  return {
    // No sandbox: the test reads the agent's pid from outside, which a PID namespace would not give.
    codegen: { command: ['node', join(repoRoot, 'test/support/agents/codegen.mjs'), 'hold', dir], min: 1, max: 2, isolation: { sandbox: 'off' } },
    review: { command: ['node', join(repoRoot, 'examples/agents/review.mjs')], min: 1, max: 1 },
    pr: githubAgents().pr,
  };
}

const noCi = { checks: [] };

describe('no issue missed on GitHub', { timeout: 60_000 }, () => {
  it('by polling, within one second: the trigger label seen, a route label after it is the route, and the trigger label removed stops the agent', async () => {
    fake = await startFakeGitHub({ owner: 'acme', repo: 'widgets', token });
    fake.freezeClock(true);
    holds = await tempDir('miyabi-held-');
    const held = holds.path;
    const routed = fake.addIssue({ title: 'Labelled within the second', author: 'acme', authorAssociation: 'OWNER' });
    test = await startTestOrchestra({ backend: 'process', agents: holdingAgents(held), config: githubConfig(fake, { ci: noCi }) });
    // Seen, judged without the label…
    await waitFor(() => (test!.orchestra.resources.watcher?.polls ?? 0) >= 1, { what: 'the first poll' });
    expect(stateOf(test, routed.number)).toBeUndefined();
    // …then labelled within the same second (the same `updated_at`), its route label a moment later.
    fake.labelIssue(routed.number, 'miyabi', 'acme');
    expect(fake.state.issues.get(routed.number)!.updatedAt).toBe(routed.createdAt);
    await waitFor(() => existsSync(join(held, `held-${routed.number}`)), { timeoutMs: 20_000, what: '#1 codegen running' });
    fake.labelIssue(routed.number, 'type:docs', 'acme');
    await waitFor(() => contextOf(test!, routed.number).route.length === 3, { what: '#1 on the type:docs route' });

    // #2 running, then its trigger label removed in the same second: released, its agent stopped.
    const removed = trustedIssue(fake, 'Unlabelled');
    await waitFor(() => existsSync(join(held, `held-${removed.number}`)), { timeoutMs: 20_000, what: '#2 codegen running' });
    const agentPid = Number(readFileSync(join(held, `held-${removed.number}`), 'utf8'));
    fake.unlabelIssue(removed.number, 'miyabi', 'acme');
    expect(fake.state.issues.get(removed.number)!.updatedAt).toBe(routed.createdAt);
    await waitState(test, removed.number, 'released', 10_000);
    await waitFor(() => !alive(agentPid), { what: "#2's agent stopped" });

    writeFileSync(join(held, `release-${routed.number}`), '');
    await waitState(test, routed.number, 'done', 30_000);
    expect(contextOf(test, routed.number).route.map((stage) => stage.stage)).toEqual(['codegen', 'pr', 'merge']);
  });

  it('by polling alone, within one second: the trigger label removed and applied again by someone without write access releases the running issue', async () => {
    fake = await startFakeGitHub({ owner: 'acme', repo: 'widgets', token });
    fake.freezeClock(true);
    fake.setCollaborator('mallory', 'triage');
    holds = await tempDir('miyabi-held-');
    const held = holds.path;
    const issue = trustedIssue(fake, 'Relabelled');
    // No webhook: polling is all the orchestra has.
    test = await startTestOrchestra({ backend: 'process', agents: holdingAgents(held), config: githubConfig(fake, { ci: noCi }) });
    await waitFor(() => existsSync(join(held, `held-${issue.number}`)), { timeoutMs: 60_000, what: 'codegen running' });
    const agentPid = Number(readFileSync(join(held, `held-${issue.number}`), 'utf8'));
    fake.unlabelIssue(issue.number, 'miyabi', 'mallory');
    fake.labelIssue(issue.number, 'miyabi', 'mallory');
    expect(fake.state.issues.get(issue.number)!.updatedAt).toBe(issue.createdAt);
    await waitState(test, issue.number, 'released', 30_000);
    await waitFor(() => !alive(agentPid), { timeoutMs: 30_000, what: 'its agent stopped' });
    expect(contextOf(test, issue.number).reason).toMatch(/mallory/);
  });

  it('by webhook, within one second: a route label after the trigger label is the route, and the trigger label removed stops the agent', async () => {
    fake = await startFakeGitHub({ owner: 'acme', repo: 'widgets', token });
    fake.freezeClock(true);
    holds = await tempDir('miyabi-held-');
    const held = holds.path;
    test = await startTestOrchestra({
      backend: 'process',
      agents: holdingAgents(held),
      config: {
        ...githubConfig(fake, { github: { pollIntervalMs: 600_000, webhook: { path: '/webhooks/github', secretEnv: SECRET_ENV } }, ci: noCi }),
        http: { enabled: true, port: 0 },
      },
    });
    await waitFor(() => (test!.orchestra.resources.watcher?.polls ?? 0) >= 1, { what: 'the first poll' });
    const url = `${test.orchestra.resources.httpUrl}/webhooks/github`;

    // #1 opened without a label (ignored), labelled in the same second (taken), its route label a moment later.
    const routed = fake.addIssue({ title: 'Docs only', author: 'acme', authorAssociation: 'OWNER' });
    expect(await deliverIssue(url, fake, routed.number, 'opened')).toBe(200);
    fake.labelIssue(routed.number, 'miyabi', 'acme');
    expect(await deliverIssue(url, fake, routed.number, 'labeled', { label: 'miyabi' })).toBe(200);
    await waitFor(() => existsSync(join(held, `held-${routed.number}`)), { timeoutMs: 20_000, what: '#1 codegen running' });
    fake.labelIssue(routed.number, 'type:docs', 'acme');
    expect(await deliverIssue(url, fake, routed.number, 'labeled', { label: 'type:docs' })).toBe(200);
    await waitFor(() => contextOf(test!, routed.number).route.length === 3, { what: '#1 on the type:docs route' });

    // #2 running, then its trigger label removed in the same second: released, its agent stopped.
    const removed = fake.addIssue({ title: 'Unlabelled', author: 'acme', authorAssociation: 'OWNER', labels: ['type:docs'] });
    fake.labelIssue(removed.number, 'miyabi', 'acme');
    expect(await deliverIssue(url, fake, removed.number, 'labeled', { label: 'miyabi' })).toBe(200);
    await waitFor(() => existsSync(join(held, `held-${removed.number}`)), { timeoutMs: 20_000, what: '#2 codegen running' });
    const agentPid = Number(readFileSync(join(held, `held-${removed.number}`), 'utf8'));
    fake.unlabelIssue(removed.number, 'miyabi', 'acme');
    expect(fake.state.issues.get(removed.number)!.updatedAt).toBe(routed.createdAt);
    expect(await deliverIssue(url, fake, removed.number, 'unlabeled', { label: 'miyabi' })).toBe(200);
    await waitState(test, removed.number, 'released', 10_000);
    await waitFor(() => !alive(agentPid), { what: "#2's agent stopped" });

    writeFileSync(join(held, `release-${routed.number}`), '');
    await waitState(test, routed.number, 'done', 30_000);
    expect(contextOf(test, routed.number).route.map((stage) => stage.stage)).toEqual(['codegen', 'pr', 'merge']);
  });

  it('a poll that failed part way (a 503 reading who applied a label) hides nothing: the next poll reads the same changes again', async () => {
    fake = await startFakeGitHub({ owner: 'acme', repo: 'widgets', token });
    // Nothing else changes on the tracker meanwhile: only a poll that reads the list again sees it.
    const issue = trustedIssue(fake, 'Trusted');
    fake.addIssue({ title: 'Not for the orchestra', author: 'acme', authorAssociation: 'OWNER' });
    // Who labeled it cannot be read in the first poll: its events answer 503, twice (the client tries twice).
    fake.fail({ kind: 'server_error', status: 503, method: 'GET', path: /\/issues\/\d+\/events$/, times: 2 });
    const source = new GitHubIssueSource({
      owner: 'acme',
      repo: 'widgets',
      baseUrl: fake.url,
      token,
      logger: pino({ level: 'silent' }),
      client: { retries: 1, retryBaseMs: 20, writeSpacing: false },
    });
    test = await startTestOrchestra({ backend: 'process', agents: githubAgents(), config: githubConfig(fake, { ci: noCi }), issueSource: source });
    await waitState(test, issue.number, 'done', 30_000);
    // The poll after the failed one read the list again (200), not a 304 "unchanged".
    const listings = fake.requestsTo('GET', '/repos/acme/widgets/issues').filter((request) => request.query.includes('state=open'));
    expect(listings.slice(0, 2).map((request) => request.status)).toEqual([200, 200]);
  });

  it("a token that may not read collaborators' permissions: polling goes on, the log names the request and what the token needs", async () => {
    fake = await startFakeGitHub({ owner: 'acme', repo: 'widgets', token });
    fake.state.permissionsReadable = false;
    fake.setCollaborator('bob', 'write');
    const allowed = fake.addIssue({ title: 'Labelled by someone allowed', author: 'acme', authorAssociation: 'OWNER', labels: ['type:docs'] });
    fake.labelIssue(allowed.number, 'miyabi', 'alice');
    const unknown = fake.addIssue({ title: 'Labelled by a collaborator', author: 'acme', authorAssociation: 'OWNER', labels: ['type:docs'] });
    fake.labelIssue(unknown.number, 'miyabi', 'bob');
    test = await startTestOrchestra({
      backend: 'process',
      agents: githubAgents(),
      config: githubConfig(fake, { ci: noCi, workflow: { trust: { allow: ['alice'] } } }),
    });
    await waitState(test, allowed.number, 'done', 30_000);
    // Bob's write access cannot be read: not judged — neither run nor released — and said why.
    expect(stateOf(test, unknown.number)).toBeUndefined();
    expect(test.orchestra.resources.watcher!.problem).toMatch(/bob/);
    const log = await orchestraLog(test.dataDir);
    const named = log.find((line) => /GET \/repos\/acme\/widgets\/collaborators\/\w+\/permission answered 403/.test(line.msg));
    expect(named?.msg).toMatch(/push access to the repository/);
  });
});

/** Running: a process killed but not yet reaped by its parent (a zombie, on a loaded machine) has stopped. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  return readProcStat(pid)?.state !== 'Z';
}
