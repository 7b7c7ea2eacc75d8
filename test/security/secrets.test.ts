/**
 * Secrets never leave: a secret planted in every path it could take out of the orchestra — an
 * agent that prints the key its role passes it and puts it in its result (so in the failure
 * comment, which quotes the agent's last lines), and a GitHub that echoes the token in an error
 * body (so in `up`'s fatal start message and `doctor`'s check) — and then every file the
 * orchestra wrote, its NATS store (the events stream, the KV bucket) and everything the fake
 * GitHub received, grepped for it.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderSummary } from '../../src/cli/output.ts';
import { REDACTED } from '../../src/infra/observe/logger.ts';
import { natsIdentityDir } from '../../src/orchestra/nats-auth.ts';
import { repoRoot, runCli, tempDir, type TempDir } from '../support/cli.ts';
import { startFakeGitHub, type FakeGitHub } from '../support/fake-github.ts';
import { commentsOf, githubConfig, githubEnv, token, TOKEN_ENV, trustedIssue, waitState } from '../support/github-orchestra.ts';
import { gitRepo, startTestOrchestra, type TestOrchestra } from '../support/orchestra.ts';
import { waitFor } from '../support/wait.ts';

const KEY_ENV = 'MIYABI_TEST_AGENT_KEY';
const PLANTED = 'sk-planted-3c9f0e1d7a5b4e21';
/** What the orchestra has and its agents must not: its GitHub token, where NATS is and who it is there. */
const orchestraOwn = [TOKEN_ENV, 'MIYABI_NATS_URL', 'MIYABI_NATS_NKEY_FILE'];

/** Every file under `dir`, but what agents write themselves (their result files, their worktrees). */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
    .filter((file) => !file.endsWith('/result.json') && !relative(dir, file).startsWith('worktrees/'));
}

async function filesHolding(dir: string, needle: string): Promise<string[]> {
  const holding: string[] = [];
  for (const file of await filesUnder(dir)) if ((await readFile(file)).includes(Buffer.from(needle))) holding.push(relative(dir, file));
  return holding;
}

beforeAll(() => {
  githubEnv();
  process.env[KEY_ENV] = PLANTED;
});

describe('secrets never leave', { timeout: 90_000 }, () => {
  let fake: FakeGitHub;
  let test: TestOrchestra;
  afterAll(async () => {
    await test?.stop();
    await fake?.close();
  });

  it("an agent's key, printed, in its result and quoted by the failure comment, reaches no file, no stream and not GitHub", async () => {
    fake = await startFakeGitHub({ owner: 'acme', repo: 'widgets', token });
    const issue = trustedIssue(fake, 'Leak the key');
    // A second issue goes straight to the pull request, which its agent describes with the key.
    const described = fake.addIssue({ title: 'Describe the key', author: 'acme', authorAssociation: 'OWNER', labels: ['leak:pr'] });
    fake.labelIssue(described.number, 'miyabi', 'acme');
    const leaky = { command: ['node', join(repoRoot, 'test/security/fixtures/leaky-agent.mjs'), KEY_ENV, ...orchestraOwn], env: [KEY_ENV], min: 1, max: 1 };
    test = await startTestOrchestra({
      backend: 'process',
      agents: { codegen: leaky, pr: leaky },
      config: githubConfig(fake, { workflow: { retry: { maxAttempts: 1, initialDelayMs: 200 }, routes: [{ label: 'type:docs', stages: ['codegen', 'pr', 'merge'] }, { label: 'leak:pr', stages: ['pr'] }] } }),
    });
    await waitState(test, issue.number, 'failed');
    await waitState(test, described.number, 'done');
    const pullRequest = await waitFor(() => [...fake.state.issues.values()].find((candidate) => candidate.pull !== undefined), { timeoutMs: 30_000, what: 'the pull request' });
    expect(pullRequest).toMatchObject({ title: `Use the key ${REDACTED}` });
    expect(pullRequest!.body).toContain(`This calls the model with ${REDACTED}.`);
    const failure = await waitFor(
      async () => {
        await test.orchestra.resources.workflow!.flush();
        return commentsOf(fake, issue.number).find((body) => body.includes('failed'));
      },
      { timeoutMs: 30_000, what: 'the failure comment' },
    );
    // The comment quotes the agent's last lines: redacted, not dropped.
    expect(failure).toContain(`last words: ${REDACTED}`);
    expect(failure).toContain(`refused key=${REDACTED}`);
    // The runners never had the orchestra's GitHub token, so neither had the agent; each runner's
    // NATS identity is its own slot's, never the orchestrator's.
    const runnerPids = await readdir(join(test.dataDir, 'runners'));
    expect(runnerPids.length).toBeGreaterThan(0);
    for (const name of runnerPids) {
      const pid = (await readFile(join(test.dataDir, 'runners', name), 'utf8')).trim();
      const environ = new Map((await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0').map((entry) => [entry.split('=')[0]!, entry.slice(entry.indexOf('=') + 1)]));
      expect(environ.has(TOKEN_ENV), name).toBe(false);
      // Its own slot's identity: agent <role>-<n>'s, or the role's spare's (a claimed spare connects again as its slot).
      const agentId = environ.get('MIYABI_AGENT_ID')!;
      const slot = agentId.startsWith('spare-') ? `${environ.get('MIYABI_ROLE')}-spare` : agentId;
      expect(environ.get('MIYABI_NATS_NKEY_FILE'), name).toBe(join(natsIdentityDir(test.dataDir), `runner-${slot}.nk`));
    }
    const paneLogs = await filesUnder(join(test.dataDir, 'logs', 'agents'));
    const paneLog = (await Promise.all(paneLogs.map((file) => readFile(file, 'utf8')))).join('\n');
    expect(paneLog).toContain(`using the key ${REDACTED}`);
    // No NATS credentials, nor even where NATS is, reach an agent.
    for (const own of orchestraOwn) expect(paneLog).toContain(`can see ${own}: no`);

    // The summary `up --once` prints quotes the failure's reason: redacted too.
    const summary = renderSummary(test.orchestra.resources.workflow!.summary());
    expect(summary).toContain(REDACTED);
    expect(summary).not.toContain(PLANTED);

    // Stopped, so the NATS store is on disk as it will stay; then grep everything.
    await test.orchestra.stop();
    for (const secret of [PLANTED, token]) {
      expect(await filesHolding(test.dataDir, secret), secret).toEqual([]);
      // Issues hold the pull requests too; labels and their events, what else was written.
      const received = JSON.stringify({ comments: fake.state.comments, issues: [...fake.state.issues.values()], labels: [...fake.state.labels.values()], events: fake.state.events });
      expect(received.includes(secret), `GitHub received ${secret}`).toBe(false);
    }
    // Each NATS seed is in its own file and nowhere else: not in a log, the run file or the store.
    const seedsDir = natsIdentityDir(test.dataDir);
    const seedFiles = (await readdir(seedsDir)).filter((name) => name.endsWith('.nk'));
    expect(seedFiles.length).toBeGreaterThanOrEqual(4);
    for (const name of seedFiles) {
      const seed = (await readFile(join(seedsDir, name), 'utf8')).trim();
      expect(await filesHolding(test.dataDir, seed), name).toEqual([relative(test.dataDir, join(seedsDir, name))]);
    }
    // The result did go through the events stream and the KV bucket, redacted.
    expect(await filesHolding(join(test.dataDir, 'nats'), REDACTED)).not.toEqual([]);
    expect(await filesHolding(test.dataDir, REDACTED)).toEqual(expect.arrayContaining(['logs/orchestra.log']));
  });

  it("a GitHub that echoes the token in an error body: not in `up`'s fatal message, `doctor`'s check or the log", async () => {
    // A proxy (or an error page) that quotes back what it was sent, with a 401.
    const echo = createServer((req, res) => {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: `Bad credentials: ${req.headers.authorization ?? ''}` }));
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    const dir: TempDir = await tempDir('miyabi-echo-');
    try {
      const repo = join(dir.path, 'repo');
      await mkdir(repo);
      await gitRepo(repo);
      const config = await dir.file(
        'miyabi.yaml',
        [
          `dataDir: ${join(dir.path, 'data')}`,
          'http: { enabled: false }',
          `workspace: { repo: ${repo} }`,
          'issues:',
          '  source: github',
          '  github:',
          `    owner: acme`,
          `    repo: widgets`,
          `    baseUrl: http://127.0.0.1:${(echo.address() as AddressInfo).port}`,
          `    tokenEnv: ${TOKEN_ENV}`,
          '',
        ].join('\n'),
      );
      const env = { [TOKEN_ENV]: token };
      const up = await runCli(['up', '--config', config], { env });
      expect(up.exitCode).toBe(1);
      expect(up.stderr).toContain('GitHub rejected the token');
      expect(up.stderr).toContain(REDACTED);
      expect(up.stderr + up.stdout).not.toContain(token);
      const doctor = await runCli(['doctor', '--config', config], { env });
      expect(doctor.exitCode).toBe(1);
      expect(doctor.stdout).toMatch(/✗ github +GitHub rejected the token/);
      expect(doctor.stdout).not.toContain('all checks passed');
      expect(doctor.stdout + doctor.stderr).not.toContain(token);
      expect(await filesHolding(join(dir.path, 'data'), token)).toEqual([]);
    } finally {
      echo.close();
      await dir[Symbol.asyncDispose]();
    }
  });
});
