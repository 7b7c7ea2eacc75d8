/**
 * The orchestra against GitHub — the fake GitHub REST server of test/support, over real HTTP,
 * with the real octokit client — and the example agents (headless). Trust gating end to end, a
 * rate-limited tracker, webhooks, and exactly-once write-back across `kill -9`.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { execa } from 'execa';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.ts';
import { startOrchestra } from '../../src/orchestra/orchestra.ts';
import { startFakeGitHub, type FakeGitHub } from '../support/fake-github.ts';
import { cliPath, repoRoot, runCli, tempDir, type TempDir } from '../support/cli.ts';
import { gitRepo, startTestOrchestra, type TestOrchestra } from '../support/orchestra.ts';
import { waitFor } from '../support/wait.ts';

const TOKEN_ENV = 'MIYABI_TEST_GITHUB_TOKEN';
const SECRET_ENV = 'MIYABI_TEST_WEBHOOK_SECRET';
const token = 'ghp_test_token_0123456789';
const secret = 'webhook-secret';
const agent = (role: string) => ({ command: ['node', join(repoRoot, `examples/agents/${role}.mjs`)], min: 1, max: 1 });
const agents = { codegen: agent('codegen'), review: agent('review'), pr: agent('pr') };

beforeAll(() => {
  process.env[TOKEN_ENV] = token;
  process.env[SECRET_ENV] = secret;
});

let fake: FakeGitHub | undefined;
let test: TestOrchestra | undefined;
afterEach(async () => {
  await test?.stop();
  await fake?.close();
  test = undefined;
  fake = undefined;
});

function githubConfig(github: FakeGitHub, extra: Record<string, unknown> = {}) {
  return {
    issues: {
      source: 'github',
      github: { owner: 'acme', repo: 'widgets', baseUrl: github.url, tokenEnv: TOKEN_ENV, pollIntervalMs: 1_000, spaceWrites: false, ...extra },
    },
    // The merge stage merges on its own here (GitHub's default is to wait for a person), and a
    // repository with no CI check counts as green at once (the fake reports none).
    workflow: { retry: { initialDelayMs: 200 }, merge: { auto: true }, ci: { settleMs: 0 } },
  };
}

const stateOf = (orchestra: TestOrchestra, issue: number) => {
  const snapshot = orchestra.orchestra.resources.workflow?.snapshot(issue);
  return snapshot === undefined ? undefined : String(snapshot.value);
};

describe('the orchestra on GitHub', { timeout: 90_000 }, () => {
  it('acts only on trusted issues: not an untrusted author, an untrusted labeler, a bot, or a fork\'s pull request', async () => {
    fake = await startFakeGitHub({ owner: 'acme', repo: 'widgets', token });
    fake.setCollaborator('alice', 'write');
    const trusted = fake.addIssue({ title: 'Trusted', author: 'alice', authorAssociation: 'MEMBER', labels: ['type:docs'] });
    fake.labelIssue(trusted.number, 'miyabi', 'alice');
    const strangers = fake.addIssue({ title: 'From a stranger', author: 'eve', authorAssociation: 'NONE' });
    fake.labelIssue(strangers.number, 'miyabi', 'alice');
    const labelledByDrive = fake.addIssue({ title: 'Labelled by a drive-by', author: 'alice', authorAssociation: 'MEMBER' });
    fake.labelIssue(labelledByDrive.number, 'miyabi', 'mallory');
    const bot = fake.addIssue({ title: 'From a bot', author: 'renovate[bot]', authorType: 'Bot', authorAssociation: 'OWNER' });
    fake.labelIssue(bot.number, 'miyabi', 'alice');
    const fork = fake.addPull({ head: 'eve:patch-1', title: 'A fork\'s pull request', author: 'eve' });
    fake.labelIssue(fork.number, 'miyabi', 'alice');

    test = await startTestOrchestra({ backend: 'process', agents, config: githubConfig(fake) });
    await waitFor(() => stateOf(test!, trusted.number) === 'done', { timeoutMs: 60_000, what: 'the trusted issue done' });
    for (const ignored of [strangers, labelledByDrive, bot, fork]) {
      expect(stateOf(test, ignored.number), `#${ignored.number} ${ignored.title}`).toBeUndefined();
      expect(fake.commentCount(ignored.number)).toBe(0);
    }
    const metrics = await test.orchestra.resources.metrics.render();
    expect(metrics).toMatch(/miyabi_issues_ignored_total\{reason="untrusted_author"\} 1/);
    expect(metrics).toMatch(/miyabi_issues_ignored_total\{reason="untrusted_labeler"\} 1/);
    expect(metrics).toMatch(/miyabi_issues_ignored_total\{reason="bot_author"\} 1/);

    // The trusted one: a start and a done comment, one draft pull request saying Closes #N, the done label alone.
    await test.orchestra.resources.workflow!.flush();
    expect(fake.commentCount(trusted.number)).toBe(2);
    const pulls = fake.pullsForHead('miyabi/issue-1');
    expect(pulls).toHaveLength(1);
    expect(pulls[0]!.body).toContain(`Closes #${trusted.number}`);
    expect(pulls[0]!.pull!.draft).toBe(true);
    expect(fake.state.issues.get(trusted.number)!.labels.filter((label) => label.startsWith('miyabi:'))).toEqual(['miyabi:done']);
  });

  it('waits out a secondary rate limit (403 with retry-after) and still completes', async () => {
    fake = await startFakeGitHub({ owner: 'acme', repo: 'widgets', token });
    const issue = fake.addIssue({ title: 'Docs', author: 'acme', authorAssociation: 'OWNER', labels: ['type:docs'] });
    fake.labelIssue(issue.number, 'miyabi', 'acme');
    fake.fail({ kind: 'secondary_rate_limit', retryAfter: 1, times: 2, method: 'GET', path: '/repos/acme/widgets/issues' });
    test = await startTestOrchestra({ backend: 'process', agents, config: githubConfig(fake) });
    await waitFor(() => stateOf(test!, issue.number) === 'done', { timeoutMs: 60_000, what: 'the issue done' });
    expect(fake.state.requests.filter((request) => request.status === 403)).toHaveLength(2);
    expect(await test.orchestra.resources.metrics.render()).toMatch(/miyabi_tracker_waits_total\{kind="secondary_rate_limit"\} [1-9]/);
  });

  it('takes a new issue from a signed webhook delivery at once, long before the next poll', async () => {
    fake = await startFakeGitHub({ owner: 'acme', repo: 'widgets', token });
    test = await startTestOrchestra({
      backend: 'process',
      agents,
      config: {
        ...githubConfig(fake, { pollIntervalMs: 600_000, webhook: { path: '/webhooks/github', secretEnv: SECRET_ENV } }),
        http: { enabled: true, port: 0 },
      },
    });
    await waitFor(() => (test!.orchestra.resources.watcher?.polls ?? 0) >= 1, { what: 'the first poll' });
    const issue = fake.addIssue({ title: 'Webhook', author: 'acme', authorAssociation: 'OWNER', labels: ['type:docs'] });
    fake.labelIssue(issue.number, 'miyabi', 'acme');
    const payload = {
      action: 'labeled',
      label: { name: 'miyabi' },
      issue: {
        number: issue.number,
        title: issue.title,
        body: issue.body,
        state: 'open',
        labels: issue.labels.map((name) => ({ name })),
        user: { login: 'acme', type: 'User' },
        author_association: 'OWNER',
        html_url: `https://github.com/acme/widgets/issues/${issue.number}`,
        updated_at: issue.updatedAt,
      },
      repository: { full_name: 'acme/widgets', name: 'widgets', owner: { login: 'acme' } },
      sender: { login: 'acme', type: 'User' },
    };
    const deliver = (event: string, body: string, signature = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`) =>
      fetch(`${test!.orchestra.resources.httpUrl}/webhooks/github`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-github-event': event, 'x-github-delivery': randomUUID(), 'x-hub-signature-256': signature },
        body,
      });
    const body = JSON.stringify(payload);
    expect((await deliver('issues', body, 'sha256=0000')).status).toBe(401);
    const sentAt = Date.now();
    expect((await deliver('issues', body)).status).toBeLessThan(300);
    await waitFor(() => stateOf(test!, issue.number) !== undefined && stateOf(test!, issue.number) !== 'discovered', { timeoutMs: 10_000, what: 'dispatched' });
    console.log(`webhook → dispatched in ${Date.now() - sentAt} ms`);
    await waitFor(() => stateOf(test!, issue.number) === 'done', { timeoutMs: 60_000, what: 'done' });
    // One poll only: the issue came by webhook.
    expect(fake.requestsTo('GET', '/repos/acme/widgets/issues').filter((request) => request.query.includes('state=open'))).toHaveLength(1);

    // Seen again by polling: the same issue, handled once.
    await test.orchestra.resources.watcher!.poll();
    await test.orchestra.resources.workflow!.flush();
    const generation = () => test!.orchestra.resources.workflow!.snapshot(issue.number)!.context.generation;
    expect(generation()).toBe(1);

    // `/miyabi retry` in a comment: from a stranger, ignored; from the owner, obeyed.
    const command = (login: string, association: string) =>
      JSON.stringify({
        action: 'created',
        issue: payload.issue,
        comment: { id: Math.floor(Math.random() * 1e9), body: '/miyabi retry', user: { login, type: 'User' }, author_association: association },
        repository: payload.repository,
        sender: { login, type: 'User' },
      });
    expect((await deliver('issue_comment', command('eve', 'NONE'))).status).toBeLessThan(300);
    await waitFor(async () => /miyabi_issues_ignored_total\{reason="untrusted_commenter"\} 1/.test(await test!.orchestra.resources.metrics.render()), {
      what: 'the stranger\'s command ignored',
    });
    expect(generation()).toBe(1);
    expect((await deliver('issue_comment', command('acme', 'OWNER'))).status).toBeLessThan(300);
    await waitFor(() => generation() === 2 && stateOf(test!, issue.number) === 'done', { timeoutMs: 60_000, what: 'the retry done' });
  });

  it('refuses to start on a repository that does not exist, naming it', async () => {
    fake = await startFakeGitHub({ owner: 'acme', repo: 'widgets', token });
    const dir = await tempDir('miyabi-gh-');
    try {
      const repo = join(dir.path, 'repo');
      await execa('mkdir', ['-p', repo]);
      await gitRepo(repo);
      const config = await dir.file(
        'c.yaml',
        stringify({
          dataDir: join(dir.path, 'data'),
          http: { enabled: false },
          log: { file: false },
          panes: { backend: 'process' },
          workspace: { repo },
          issues: { source: 'github', github: { owner: 'acme', repo: 'nope', baseUrl: fake.url, tokenEnv: TOKEN_ENV } },
        }),
      );
      await expect(startOrchestra(await loadConfig(config), { logStream: false })).rejects.toThrow(/acme\/nope/);
      const missingToken = await runCli(['doctor', '--config', config], { env: { [TOKEN_ENV]: '' } });
      expect(missingToken.stdout + missingToken.stderr).toContain(TOKEN_ENV);
    } finally {
      await dir[Symbol.asyncDispose]();
    }
  });
});

describe('exactly once across kill -9', { timeout: 180_000 }, () => {
  let dir: TempDir | undefined;
  afterEach(async () => {
    await dir?.[Symbol.asyncDispose]();
  });

  it('after the agents succeeded but before the comments and the pull request got through, a restart posts each once (the start comment of finished work not at all)', async () => {
    fake = await startFakeGitHub({ owner: 'acme', repo: 'widgets', token });
    const issue = fake.addIssue({ title: 'Exactly once', author: 'acme', authorAssociation: 'OWNER', labels: ['type:docs'] });
    fake.labelIssue(issue.number, 'miyabi', 'acme');
    // GitHub refuses every write on this issue: the work goes on, the write-backs wait in the outbox.
    fake.fail({ kind: 'server_error', status: 502, times: 100_000, method: 'POST', path: `/repos/acme/widgets/issues/${issue.number}/comments` });
    dir = await tempDir('miyabi-gh-crash-');
    const repo = join(dir.path, 'repo');
    await execa('mkdir', ['-p', repo]);
    await gitRepo(repo);
    const dataDir = join(dir.path, 'data');
    const config = await dir.file(
      'c.yaml',
      stringify({
        dataDir,
        http: { enabled: false },
        panes: { backend: 'process' },
        workspace: { repo },
        // What the killed orchestra had taken and not acked comes back after the ack wait: short,
        // so that the restart does not wait out the default 30 s before it settles.
        bus: { ackWaitMs: 3_000 },
        agents,
        ...githubConfig(fake),
        // No merge stage: it would wait for the pull request, which waits behind the refused comments.
        workflow: { retry: { initialDelayMs: 200 }, routes: [{ label: 'type:docs', stages: ['codegen', 'pr'] }] },
      }),
    );
    const env = { [TOKEN_ENV]: token };
    const first = execa(cliPath, ['up', '--config', config], { cwd: repoRoot, reject: false, env, timeout: 120_000 });
    const log = () => readFile(join(dataDir, 'logs', 'orchestra.log'), 'utf8').catch(() => '');
    await waitFor(async () => (await log()).includes('"msg":"issue done"'), { timeoutMs: 90_000, what: 'the issue done' });
    expect(fake.commentCount(issue.number)).toBe(0);
    // The refused writes are retried: the log says when, never "giving up".
    await waitFor(async () => (await log()).includes('tracker write failed; will retry in'), { what: 'a retried write said so' });
    expect(await log()).not.toMatch(/giving up/i);
    first.kill('SIGKILL');
    await first;

    fake.state.faults.length = 0;
    const second = execa(cliPath, ['up', '--once', '--config', config], { cwd: repoRoot, reject: false, env, timeout: 120_000 });
    const result = await second;
    expect(result.exitCode, result.stderr.slice(-2000)).toBe(0);
    // The done comment once; the start comment never: the work was over before it got through (docs/WORKFLOW.md).
    const bodies = () => fake!.state.comments.filter((comment) => comment.issue === issue.number).map((comment) => comment.body.split('\n')[1]);
    expect(bodies()).toEqual([`🎼 **Miyabi Orchestra**: #${issue.number} is done.`]);
    expect(fake.pullsForHead('miyabi/issue-1')).toHaveLength(1);
    expect(fake.state.issues.get(issue.number)!.labels.filter((label) => label.startsWith('miyabi:'))).toEqual(['miyabi:done']);
    // Once more: nothing new is written.
    const third = await execa(cliPath, ['up', '--once', '--config', config], { cwd: repoRoot, reject: false, env, timeout: 120_000 });
    expect(third.exitCode).toBe(0);
    expect(bodies()).toHaveLength(1);
    expect(fake.pullsForHead('miyabi/issue-1')).toHaveLength(1);
  });
});
