/**
 * The merge stage merges exactly once across `kill -9` of the orchestrator (the CLI's `up`, as an
 * operator runs it; the local source, the example agents, headless runners):
 *
 * - #1 is killed with its merge commit made and not recorded: a `reference-transaction` hook in
 *   the target repository holds the update of `main` once it is committed, and tells the test,
 *   which kills the orchestrator there — after `merge requested`, before `merge recorded`;
 * - #2 is killed as soon as `merge requested` is in the log, wherever the merge has got to.
 *
 * `up --once` again: each issue has one merge commit on main (its `Miyabi-Merge:` trailer), one
 * done comment, and its pull request merged once in pulls.json, by that commit.
 */
import { execa, type ResultPromise } from 'execa';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { stopOrphanedRunners } from '../../src/runner/pid-file.ts';
import { cliPath, repoRoot, tempDir } from '../support/cli.ts';
import { gitRepo } from '../support/orchestra.ts';
import { waitFor } from '../support/wait.ts';
import { exampleAgents, git, issueFile, orchestraLog, pulls, trackerIssue, waitForLog } from '../support/workflow-run.ts';

const dir = await tempDir('miyabi-merge-once-');
const dataDir = join(dir.path, 'data');
const repo = join(dir.path, 'repo');
const issuesDir = join(dir.path, 'issues');
const gates = join(dir.path, 'gates');

afterAll(async () => {
  // Whatever a failed run left: the hook let go, runners and the nats-server of a killed orchestra stopped.
  await writeFile(join(gates, 'release'), '').catch(() => undefined);
  await stopOrphanedRunners(dataDir);
  const runFile = await readFile(join(dataDir, 'orchestra.json'), 'utf8').then((text) => JSON.parse(text) as { natsServerPid?: number }, () => undefined);
  if (runFile?.natsServerPid) process.kill(runFile.natsServerPid, 'SIGKILL');
  await dir[Symbol.asyncDispose]();
});

/**
 * In the "committed" phase of an update of refs/heads/main, when `armed` exists: turns it into
 * `held` (the test waits for that) and holds the git that made the update until `release` exists.
 */
const hook = `#!/bin/sh
[ "$1" = committed ] || exit 0
grep -q ' refs/heads/main$' || exit 0
mv '${gates}/armed' '${gates}/held' 2>/dev/null || exit 0
while [ ! -e '${gates}/release' ]; do sleep 0.05; done
`;

async function setUp(): Promise<string> {
  await mkdir(repo, { recursive: true });
  await gitRepo(repo);
  // main is not checked out (an operator's checkout is elsewhere): the merge moves it by update-ref, which runs hooks.
  await git(repo, 'checkout', '-q', '-b', 'operator');
  await writeFile(join(repo, '.git', 'hooks', 'reference-transaction'), hook);
  await chmod(join(repo, '.git', 'hooks', 'reference-transaction'), 0o755);
  await mkdir(issuesDir);
  await mkdir(gates);
  return dir.file(
    'miyabi.yaml',
    stringify({
      dataDir,
      http: { enabled: false },
      issues: { local: { dir: issuesDir, pollIntervalMs: 200 } },
      panes: { backend: 'process' },
      workspace: { repo, baseBranch: 'main' },
      agents: exampleAgents('codegen', 'pr'),
      workflow: { defaultRoute: ['codegen', 'pr', 'merge'], retry: { initialDelayMs: 200 }, ci: { pollIntervalMs: 200 } },
    }),
  );
}

const up = (config: string): ResultPromise => execa(cliPath, ['up', '--once', '--config', config], { cwd: repoRoot, reject: false, timeout: 120_000 });

async function kill(run: ResultPromise): Promise<void> {
  run.kill('SIGKILL');
  const result = await run;
  expect(result.signal, String(result.stderr).slice(-2000)).toBe('SIGKILL');
}

/** The first-parent commits of main that merged `branch`. */
async function mergesOf(branch: string): Promise<string[]> {
  const out = await git(repo, 'log', '--first-parent', '--format=%H %(trailers:key=Miyabi-Merge,valueonly,separator=%x2C)', 'main');
  return out
    .split('\n')
    .filter((line) => line.includes(` ${branch} `))
    .map((line) => line.split(' ')[0]!);
}

const merged = async (number: number) => (await pulls(dataDir)).find((pull) => pull.issue === number)?.merged === true;
const logged = async (msg: string, issue: number) => (await orchestraLog(dataDir)).filter((line) => line.msg === msg && line.issue === issue).length;

describe('merge exactly once, kill -9 of the orchestrator between "merge requested" and "merge recorded"', () => {
  it('merges each issue once, with one done comment and its pull request merged once', async () => {
    const config = await setUp();

    // #1: killed with main moved and nothing recorded.
    await writeFile(join(issuesDir, '1.md'), issueFile({ number: 1 }));
    await writeFile(join(gates, 'armed'), '');
    const first = up(config);
    await waitFor(() => existsSync(join(gates, 'held')) || first.exitCode !== null, { timeoutMs: 60_000, what: 'the merge of #1 held' });
    await kill(first);
    await writeFile(join(gates, 'release'), '');
    expect(await logged('merge requested', 1)).toBe(1);
    expect(await logged('merge recorded', 1)).toBe(0);
    expect(await mergesOf('miyabi/issue-1'), 'the merge commit made').toHaveLength(1);
    expect(await merged(1), 'and not recorded').toBe(false);

    // #2: killed at once when its merge is requested.
    await writeFile(join(issuesDir, '2.md'), issueFile({ number: 2 }));
    const second = up(config);
    await waitForLog(dataDir, (line) => line.msg === 'merge requested' && line.issue === 2, '#2 merge requested');
    await kill(second);
    console.log(
      `#2 killed after "merge requested": merge commit ${(await mergesOf('miyabi/issue-2')).length > 0 ? 'made' : 'not made'}, ` +
        `pull request ${(await merged(2)) ? 'recorded merged' : 'not recorded'}, "merge recorded" ${(await logged('merge recorded', 2)) > 0 ? 'logged' : 'not logged'}`,
    );

    const last = await up(config);
    expect(last.exitCode, String(last.stderr).slice(-2000)).toBe(0);
    expect(last.stdout).toContain('2 of 2 issue(s) done');

    const all = await pulls(dataDir);
    for (const number of [1, 2]) {
      const commits = await mergesOf(`miyabi/issue-${number}`);
      expect(commits, `#${number}'s merge commits on main`).toHaveLength(1);
      const own = all.filter((pull) => pull.issue === number);
      expect(own, `#${number}'s pull requests`).toHaveLength(1);
      expect(own[0]).toMatchObject({ merged: true, mergeCommit: commits[0] });
      const comments = (await trackerIssue(dataDir, number)).comments.map((comment) => comment.key);
      expect(comments.filter((key) => key.endsWith('.done')), `#${number}'s done comments`).toHaveLength(1);
      expect(new Set(comments).size).toBe(comments.length);
      expect(await logged('merge recorded', number), `#${number} merge recorded`).toBe(1);
    }
    const files = (await git(repo, 'ls-tree', '-r', '--name-only', 'main')).split('\n');
    expect(files).toEqual(expect.arrayContaining(['miyabi/issue-1.md', 'miyabi/issue-2.md']));
  }, 200_000);
});
