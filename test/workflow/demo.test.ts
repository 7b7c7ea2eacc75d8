/**
 * The README's demo, as an operator runs it: `up --once` on the shipped example backlog with the
 * example agents in tmux panes (a private socket), then the cycle example. What must hold is read
 * back from what the orchestra leaves: its log, the agents' pane logs and the local tracker.
 */
import { execa } from 'execa';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliPath, repoRoot, tempDir, type TempDir } from '../support/cli.ts';

interface LogLine {
  msg: string;
  time: string;
  issue?: number;
  stage?: string;
  taskId?: string;
  outcome?: string;
  attempt?: number;
  reason?: string;
}

async function runOnce(dir: TempDir, name: string, issuesDir: string) {
  const socket = `miyabi-demo-${process.pid}-${name}`;
  const dataDir = join(dir.path, name);
  const config = await dir.file(
    `${name}.yaml`,
    [
      `dataDir: ${dataDir}`,
      'http: { enabled: false }',
      `issues: { local: { dir: ${issuesDir}, pollIntervalMs: 500 } }`,
      `panes: { backend: tmux, socket: ${socket} }`,
      'workflow: { retry: { initialDelayMs: 200 } }',
    ].join('\n'),
  );
  try {
    const run = await execa(cliPath, ['up', '--once', '--config', config], { cwd: repoRoot, reject: false, timeout: 150_000 });
    return { run, dataDir, socket };
  } finally {
    await execa('tmux', ['-L', socket, 'kill-server'], { reject: false });
  }
}

async function orchestraLog(dataDir: string): Promise<LogLine[]> {
  const text = await readFile(join(dataDir, 'logs', 'orchestra.log'), 'utf8');
  return text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as LogLine);
}

/** Task intervals from the pane logs' markers, per agent. */
async function agentIntervals(dataDir: string): Promise<Array<{ agent: string; start: number; end: number }>> {
  const root = join(dataDir, 'logs', 'agents');
  const intervals: Array<{ agent: string; start: number; end: number }> = [];
  for (const agent of await readdir(root)) {
    for (const file of await readdir(join(root, agent))) {
      let start: number | undefined;
      for (const line of (await readFile(join(root, agent, file), 'utf8')).split('\n')) {
        const marker = /^=== miyabi task (start|end) (\{.*\}) ===$/.exec(line);
        if (!marker) continue;
        const at = Date.parse((JSON.parse(marker[2]!) as { at: string }).at);
        if (marker[1] === 'start') start = at;
        else if (start !== undefined) {
          intervals.push({ agent, start, end: at });
          start = undefined;
        }
      }
    }
  }
  return intervals;
}

/** The demo backlog's issues the orchestra works (#13 is ignored: no trigger label, an untrusted author). */
const WORKED = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 15, 16];
const git = async (repo: string, ...args: string[]) => (await execa('git', args, { cwd: repo })).stdout.trim();
const isAncestor = async (repo: string, ancestor: string, descendant: string) =>
  (await execa('git', ['merge-base', '--is-ancestor', ancestor, descendant], { cwd: repo, reject: false })).exitCode === 0;

const dir = await tempDir('miyabi-demo-');
afterAll(() => dir[Symbol.asyncDispose]());

describe('the demo backlog, up --once, example agents in tmux panes', () => {
  it('ends with every issue done and merged, in dependency order, agents in parallel, each side effect once', async () => {
    const { run, dataDir } = await runOnce(dir, 'demo', join(repoRoot, 'examples/backlog'));
    expect(run.exitCode, run.stderr.slice(-2000)).toBe(0);
    for (const number of WORKED) expect(run.stdout).toMatch(new RegExp(`^#${number}\\s+\\S.*\\sdone\\s+\\d+\\s+\\S+\\s+[0-9a-f]{10}\\s`, 'm'));
    expect(run.stdout).toMatch(/^ISSUE\s+ROUTE\s+STATE\s+ATTEMPTS\s+DURATION\s+MERGED\s+TITLE$/m);
    expect(run.stdout).toContain('15 of 15 issue(s) done');
    // #13 has no trigger label and an untrusted author: never in the summary.
    expect(run.stdout).not.toMatch(/^#13\s/m);

    const log = await orchestraLog(dataDir);
    const firstDispatch = new Map<number, number>();
    const mergedAt = new Map<number, number>();
    const dispatches = new Map<string, number>();
    for (const line of log) {
      if (line.msg === 'stage dispatched') {
        dispatches.set(line.taskId!, (dispatches.get(line.taskId!) ?? 0) + 1);
        if (!firstDispatch.has(line.issue!)) firstDispatch.set(line.issue!, Date.parse(line.time));
      }
      if (line.msg === 'merge recorded') mergedAt.set(line.issue!, Date.parse(line.time));
    }
    const dependencies: Record<number, number[]> = { 2: [1], 3: [2], 5: [4], 6: [4], 7: [5, 6] };
    for (const [issue, on] of Object.entries(dependencies)) {
      for (const dependency of on) {
        expect(firstDispatch.get(Number(issue))!, `#${issue} started before #${dependency} was merged`).toBeGreaterThanOrEqual(mergedAt.get(dependency)!);
      }
    }
    // Every task was dispatched once, never twice.
    expect([...dispatches.values()].every((count) => count === 1)).toBe(true);
    // Retries show in the log: #9's failure by a new dispatch (a2); #10's killed agent, run again
    // by its runner under the same task id, by one `stage redelivered` line with the new attempt.
    expect(dispatches.has('issue-9.g1.codegen.r0.a2')).toBe(true);
    expect(log.filter((line) => line.msg === 'stage redelivered')).toEqual([
      expect.objectContaining({ issue: 10, stage: 'codegen', taskId: 'issue-10.g1.codegen.r0.a1', attempt: 2, reason: 'killed by SIGKILL' }),
    ]);

    // At least two agents worked at the same time.
    const intervals = await agentIntervals(dataDir);
    const overlapping = intervals.some((a) => intervals.some((b) => a.agent !== b.agent && a.start < b.end && b.start < a.end));
    expect(overlapping).toBe(true);

    // The local tracker: one start comment, one done comment, one pull request per issue, the done label alone.
    const pulls = JSON.parse(await readFile(join(dataDir, 'tracker', 'pulls.json'), 'utf8')) as Array<{ number: number; issue: number; body: string; draft: boolean; merged: boolean }>;
    for (const number of WORKED) {
      const record = JSON.parse(await readFile(join(dataDir, 'tracker', `issue-${number}.json`), 'utf8')) as {
        comments: Array<{ key: string; body: string }>;
        labels: { added: string[] };
      };
      const keys = record.comments.map((comment) => comment.key);
      expect(new Set(keys).size).toBe(keys.length);
      expect(keys.filter((key) => key.endsWith('.started'))).toHaveLength(1);
      expect(keys.filter((key) => key.endsWith('.done'))).toHaveLength(1);
      expect(record.labels.added.filter((label) => label.startsWith('miyabi:'))).toEqual(['miyabi:done']);
      const prs = pulls.filter((pull) => pull.issue === number);
      expect(prs).toHaveLength(1);
      expect(prs[0]!.body).toContain(`Closes #${number}`);
      expect(prs[0]!.draft).toBe(true);
      expect(prs[0]!.merged, `#${number} pull request merged`).toBe(true);
      expect(await readFile(join(dataDir, 'tracker', `pull-${prs[0]!.number}.md`), 'utf8')).toMatch(/Merged as [0-9a-f]{7,}/);
    }

    // main of the scratch repository holds every issue's work, each dependent's after its
    // dependencies' (their merge commits are in its branch), and each merged once.
    const repo = join(dataDir, 'scratch-repo');
    const files = (await git(repo, 'ls-tree', '-r', '--name-only', 'main')).split('\n');
    for (const number of WORKED) expect(files, `#${number}'s work on main`).toContain(`miyabi/issue-${number}.md`);
    const merges = (await git(repo, 'log', '--first-parent', '--format=%H %s', 'main')).split('\n').filter((line) => / \(pull request #\d+\)$/.test(line));
    expect(merges).toHaveLength(WORKED.length);
    const mergeOf = (issue: number) => merges.find((line) => line.includes(` #${issue}: `))!.split(' ')[0]!;
    for (const [issue, on] of Object.entries(dependencies)) {
      for (const dependency of on) {
        expect(await isAncestor(repo, mergeOf(dependency), `miyabi/issue-${issue}`), `#${issue}'s branch contains #${dependency}'s merge`).toBe(true);
      }
    }
    // The example agents checked every dependency's work in their worktree (they fail loudly when it is missing).
    expect(await git(repo, 'show', 'main:miyabi/SHARED.md')).toMatch(/#14: .*\n- #15: |#15: .*\n- #14: /);
    // #15 conflicted with #14 at its merge, went back with the conflict, resolved it and merged;
    // #16 failed CI once, went back with the check's output, and merged.
    const comments = async (number: number) =>
      (JSON.parse(await readFile(join(dataDir, 'tracker', `issue-${number}.json`), 'utf8')) as { comments: Array<{ key: string; body: string }> }).comments;
    expect((await comments(15)).map((comment) => comment.key)).toContain('issue-15.g1.conflict.r1');
    const ci = (await comments(16)).find((comment) => comment.key === 'issue-16.g1.ci-failed.r1');
    expect(ci?.body).toContain('still says "ci: red"');
    // The fail-once, crash-once and changes_requested issues took more runs, and got there.
    const rows = Object.fromEntries(
      run.stdout.split('\n').flatMap((line) => {
        const match = /^#(\d+)\s+(.+?)\s{2,}(\w+)\s+(\d+)\s/.exec(line);
        return match ? [[Number(match[1]), { state: match[3], attempts: Number(match[4]) }]] : [];
      }),
    );
    // The route's stages are codegen, review, pr and merge: four runs when nothing goes wrong.
    expect(rows[9]!.attempts).toBeGreaterThan(4);
    expect(rows[10]!.attempts).toBeGreaterThan(4);
    expect(rows[11]!.attempts).toBe(6);
    expect(rows[15]!.attempts).toBe(8);
    expect(rows[16]!.attempts).toBe(8);
    const review11 = JSON.parse(await readFile(join(dataDir, 'tracker', 'issue-11.json'), 'utf8')) as { comments: Array<{ key: string }> };
    expect(review11.comments.map((comment) => comment.key)).toContain('issue-11.g1.changes-requested.r1');
  }, 180_000);

  it('names a dependency cycle, blocks its members, finishes the rest and exits 1', async () => {
    const { run } = await runOnce(dir, 'cycle', join(repoRoot, 'examples/backlog-cycle'));
    expect(run.exitCode, run.stderr.slice(-2000)).toBe(1);
    for (const number of [2, 3, 4]) {
      expect(run.stdout).toMatch(new RegExp(`^#${number} blocked: on a dependency cycle: #2 → #4 → #3 → #2$`, 'm'));
    }
    expect(run.stdout).toMatch(/^#1\s.*\sdone\s/m);
    expect(run.stdout).toMatch(/^#5\s.*\sdone\s/m);
    expect(run.stdout).toContain('2 of 5 issue(s) done');
  }, 120_000);
});
