/**
 * The merge on GitHub happens exactly once — the fake GitHub REST server over real HTTP, the real
 * octokit client, the CLI as an operator runs it: `kill -9` of the orchestrator right after it
 * logged `merge requested`, then `up --once`: one merge on GitHub, one done comment, the issue
 * done. And a merge whose answer GitHub lost (applied, the connection dropped): read back, one
 * merge, done.
 */
import { execa } from 'execa';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startFakeGitHub, type FakeGitHub } from '../support/fake-github.ts';
import { cliPath, repoRoot, tempDir, type TempDir } from '../support/cli.ts';
import {
  commentsOf,
  githubAgents,
  githubConfig,
  githubEnv,
  mergePuts,
  orchestraLog,
  pullOf,
  rowOf,
  stateLabels,
  token,
  TOKEN_ENV,
  trustedIssue,
  waitState,
} from '../support/github-orchestra.ts';
import { startHoldingProxy } from '../support/holding-proxy.ts';
import { gitRepo, startTestOrchestra, type TestOrchestra } from '../support/orchestra.ts';
import { waitFor } from '../support/wait.ts';

beforeAll(githubEnv);

let fake: FakeGitHub | undefined;
let test: TestOrchestra | undefined;
let dir: TempDir | undefined;
afterEach(async () => {
  await test?.stop();
  await fake?.close();
  await dir?.[Symbol.asyncDispose]();
  test = undefined;
  fake = undefined;
  dir = undefined;
});

/** CI: none required, none reported, green at once. */
const noCi = { ci: { checks: [] } };

/**
 * `up` until `killWhen` says so, `kill -9`, then `up --once` twice: one merge on GitHub (one PUT
 * answered 200, the pull request merged), one done comment, the issue done and closed.
 */
async function crashAndResume(killWhen: (dataDir: string) => Promise<boolean>, baseUrl?: string) {
  const issue = trustedIssue(fake!, 'Export the report');
  dir = await tempDir('miyabi-gh-merge-crash-');
  const repo = join(dir.path, 'repo');
  await execa('mkdir', ['-p', repo]);
  await gitRepo(repo);
  const dataDir = join(dir.path, 'data');
  const configFor = (url?: string) => {
    const { issues, workflow } = githubConfig(fake!, { ...noCi, github: url ? { baseUrl: url } : {} });
    return dir!.file('c.yaml', stringify({ dataDir, http: { enabled: false }, panes: { backend: 'process' }, workspace: { repo }, agents: githubAgents(), issues, workflow }));
  };
  const env = { [TOKEN_ENV]: token };
  const up = async (args: string[]) => execa(cliPath, ['up', ...args, '--config', await configFor()], { cwd: repoRoot, reject: false, env, timeout: 120_000 });
  const first = execa(cliPath, ['up', '--config', await configFor(baseUrl)], { cwd: repoRoot, reject: false, env, timeout: 120_000 });
  await waitFor(() => killWhen(dataDir), { timeoutMs: 90_000, what: 'the moment to kill' });
  first.kill('SIGKILL');
  await first;
  expect((await orchestraLog(dataDir)).some((line) => line.msg === 'merge recorded')).toBe(false);
  const atKill = { puts: mergePuts(fake!).length, merged: fake!.pullsForHead(`miyabi/issue-${issue.number}`)[0]?.pull?.merged !== undefined };

  const second = await up(['--once']);
  expect(second.exitCode, (second.stdout + second.stderr).slice(-3000)).toBe(0);
  const pull = pullOf(fake!, issue.number);
  expect(pull.pull!.merged).toBeDefined();
  expect(mergePuts(fake!).filter((request) => request.status === 200 || request.appliedStatus === 200)).toHaveLength(1);
  expect(commentsOf(fake!, issue.number).filter((body) => body.includes('is done'))).toHaveLength(1);
  expect(stateLabels(fake!, issue.number)).toEqual(['miyabi:done']);
  expect(fake!.state.issues.get(issue.number)!.state).toBe('closed');
  expect(second.stdout).toContain(pull.pull!.merged!.sha.slice(0, 7));

  // Once more: nothing is merged or said again.
  const third = await up(['--once']);
  expect(third.exitCode, (third.stdout + third.stderr).slice(-3000)).toBe(0);
  expect(mergePuts(fake!).filter((request) => request.status === 200 || request.appliedStatus === 200)).toHaveLength(1);
  expect(commentsOf(fake!, issue.number).filter((body) => body.includes('is done'))).toHaveLength(1);
  return atKill;
}

describe('the merge on GitHub, exactly once', { timeout: 180_000 }, () => {
  it('kill -9 right after `merge requested`, then `up --once`: one merge, one done comment, the issue done', async () => {
    fake = await startFakeGitHub({ owner: 'acme', repo: 'widgets', token });
    const atKill = await crashAndResume(async (dataDir) => (await orchestraLog(dataDir)).some((line) => line.msg === 'merge requested'));
    console.log(`at the kill: ${atKill.puts} merge request(s) had reached GitHub`);
  });

  it('kill -9 after GitHub merged but before the orchestrator heard it (the answer held), then `up --once`: one merge, done', async () => {
    fake = await startFakeGitHub({ owner: 'acme', repo: 'widgets', token });
    const proxy = await startHoldingProxy(fake.url, (method, path) => method === 'PUT' && /\/pulls\/\d+\/merge$/.test(path));
    try {
      const atKill = await crashAndResume(async () => proxy.held > 0, proxy.url);
      expect(atKill).toEqual({ puts: 1, merged: true });
    } finally {
      await proxy.close();
    }
  });

  it('the merge applied but its answer lost (the connection dropped): read back as merged, one merge, done', async () => {
    fake = await startFakeGitHub({ owner: 'acme', repo: 'widgets', token });
    const issue = trustedIssue(fake, 'Export the report');
    fake.fail({ kind: 'answer_lost', method: 'PUT', path: /\/pulls\/\d+\/merge$/ });
    test = await startTestOrchestra({ backend: 'process', agents: githubAgents(), config: githubConfig(fake, noCi) });
    await waitState(test, issue.number, 'done');

    const puts = mergePuts(fake);
    expect(puts).toHaveLength(1);
    expect(puts[0]).toMatchObject({ status: 0, appliedStatus: 200 });
    const pull = pullOf(fake, issue.number);
    expect(pull.pull!.merged).toBeDefined();
    expect(rowOf(test, issue.number)).toMatchObject({ state: 'done', merged: pull.pull!.merged!.sha });
    await test.orchestra.resources.workflow!.flush();
    expect(commentsOf(fake, issue.number).filter((body) => body.includes('is done'))).toHaveLength(1);
    expect(stateLabels(fake, issue.number)).toEqual(['miyabi:done']);
    const metrics = await test.orchestra.resources.metrics.render();
    expect(metrics).toMatch(/miyabi_merge_stage_total\{outcome="merged"\} 1/);
  });
});
