/**
 * Batch mode tells the truth: `up --once` (the real CLI, a child process) against the fake GitHub
 * ends with a non-zero exit and the reason when the tracker cannot be read (or an issue judged) and
 * that never recovers, or an agent program is missing — rather than wait for ever — and does not
 * fail because the HTTP endpoint's port is taken.
 */
import { execa } from 'execa';
import { createServer, type Server } from 'node:net';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { cliPath, repoRoot, tempDir, type TempDir } from '../support/cli.ts';
import { startFakeGitHub, type FakeGitHub } from '../support/fake-github.ts';
import { githubAgents, TOKEN_ENV, token, trustedIssue } from '../support/github-orchestra.ts';
import { gitRepo } from '../support/orchestra.ts';

let dir: TempDir;
let repo: string;
let fake: FakeGitHub | undefined;
beforeAll(async () => {
  dir = await tempDir('miyabi-batch-');
  repo = join(dir.path, 'repo');
  await mkdir(repo);
  await gitRepo(repo);
});
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});
afterAll(async () => {
  await dir[Symbol.asyncDispose]();
});

/** `up --once` on a config of its own; a run that does not end within the timeout fails the test. */
async function once(name: string, config: Record<string, unknown>) {
  const file = await dir.file(
    `${name}.yaml`,
    stringify({ dataDir: join(dir.path, name), http: { enabled: false }, panes: { backend: 'process' }, workspace: { repo }, ...config }),
  );
  return execa(cliPath, ['up', '--once', '--config', file], { cwd: repoRoot, reject: false, env: { [TOKEN_ENV]: token }, timeout: 60_000 });
}

const github = (fakeGitHub: FakeGitHub) => ({
  source: 'github',
  github: { owner: 'acme', repo: 'widgets', baseUrl: fakeGitHub.url, tokenEnv: TOKEN_ENV, pollIntervalMs: 1_000, spaceWrites: false },
});

describe('up --once tells the truth', { timeout: 90_000 }, () => {
  it('exits 1, naming why, when the issues cannot be read and that never recovers', async () => {
    fake = await startFakeGitHub({ owner: 'acme', repo: 'widgets', token });
    trustedIssue(fake, 'Never seen');
    // The preflight may read (`per_page=1`); every poll of the open issues is refused.
    fake.fail({ kind: 'forbidden', method: 'GET', path: '/repos/acme/widgets/issues', query: 'state=open', times: 1_000 });
    const run = await once('unreadable', { issues: github(fake), agents: githubAgents() });
    expect(run.timedOut).toBe(false);
    expect(run.exitCode, run.stderr.slice(-2000)).toBe(1);
    expect(run.stdout).toMatch(/the issue source could not be read in full \(\d+ polls in a row\): permission denied while listing the open issues/);
  });

  it('exits 1, naming why, when an issue can never be judged (the token may not read who may write)', async () => {
    fake = await startFakeGitHub({ owner: 'acme', repo: 'widgets', token });
    fake.state.permissionsReadable = false;
    const issue = fake.addIssue({ title: 'Labelled by a collaborator', author: 'acme', authorAssociation: 'OWNER', labels: ['type:docs'] });
    fake.labelIssue(issue.number, 'miyabi', 'bob');
    const run = await once('unjudged', { issues: github(fake), agents: githubAgents() });
    expect(run.timedOut).toBe(false);
    expect(run.exitCode, run.stderr.slice(-2000)).toBe(1);
    expect(run.stdout).toMatch(/the issue source could not be read in full \(\d+ polls in a row\): .*bob's permission/);
  });

  it('exits 1 with the issues that need a missing agent program blocked, naming the program', async () => {
    fake = await startFakeGitHub({ owner: 'acme', repo: 'widgets', token });
    const issue = trustedIssue(fake, 'Needs codegen');
    const agents = { ...githubAgents(), codegen: { command: ['miyabi-no-such-agent', '{taskFile}'], min: 0, max: 1 } };
    const run = await once('missing', { issues: github(fake), agents, workflow: { merge: { auto: true }, ci: { settleMs: 0 } } });
    expect(run.timedOut).toBe(false);
    expect(run.exitCode, run.stderr.slice(-2000)).toBe(1);
    expect(run.stdout).toMatch(new RegExp(`#${issue.number}.*blocked`));
    expect(run.stdout).toContain('command not found: miyabi-no-such-agent (agents.codegen.command)');
  });

  it('does not fail when the HTTP port is taken: batch mode listens on a free one', async () => {
    const taken = await listening();
    try {
      const port = (taken.address() as { port: number }).port;
      const issues = join(dir.path, 'no-issues');
      await mkdir(issues);
      const agents = { codegen: { command: ['node', join(repoRoot, 'examples/agents/codegen.mjs')], min: 0 } };
      const run = await once('port', { http: { enabled: true, port }, issues: { local: { dir: issues, pollIntervalMs: 200 } }, agents });
      expect(run.exitCode, run.stderr.slice(-2000)).toBe(0);
      expect(run.stderr).toContain(`port ${port} is taken; batch mode listens on a free port instead`);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});

function listening(): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}
