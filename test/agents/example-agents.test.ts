/** The example agents do real work in a real repository, and obey the demo labels. */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { StageResult } from '../../src/agents/task.ts';
import { alive, exampleRoles, issueOf, runExample, sandbox, type Sandbox } from './helpers.ts';

const asPrevious = (run: { status: string; summary?: string; outputs?: Record<string, unknown> }): StageResult => ({
  status: run.status as StageResult['status'],
  summary: run.summary,
  outputs: run.outputs,
});

async function commitsTouching(box: Sandbox, file: string): Promise<string[]> {
  const log = await box.git('log', '--format=%H %an', 'main..HEAD', '--', file);
  return log === '' ? [] : log.split('\n');
}

describe('the example agents, one stage after another', () => {
  it('codegen commits miyabi/issue-<n>.md on the branch; review approves it; pr and deploy follow', async () => {
    await using box = await sandbox(21);
    const issue = issueOf(box, { title: 'Greet the user', body: 'Print a greeting on start.\n\nMore details later.', url: 'https://example.invalid/21' });

    const codegen = await runExample(box, 'codegen', { issue });
    expect(codegen).toMatchObject({ status: 'success', exitCode: 0 });
    const [commit] = await commitsTouching(box, 'miyabi/issue-21.md');
    expect(commit).toMatch(/^[0-9a-f]{40} Kaede$/);
    expect(codegen.outputs).toEqual({ file: 'miyabi/issue-21.md', commit: commit!.split(' ')[0] });
    expect(await box.git('rev-parse', '--abbrev-ref', 'HEAD')).toBe('miyabi/issue-21');
    expect(await box.git('status', '--porcelain')).toBe('');
    const text = await readFile(join(box.worktree, 'miyabi/issue-21.md'), 'utf8');
    expect(text).toBe('# Greet the user\n\nIssue #21 by octocat (https://example.invalid/21).\n\n## Summary\n\nPrint a greeting on start.\n');
    expect(codegen.output.some((line) => line.includes('codegen: issue #21, round 0, attempt 1'))).toBe(true);

    const review = await runExample(box, 'review', { issue, previous: { codegen: asPrevious(codegen) } });
    expect(review).toMatchObject({ status: 'success', outputs: { commit: commit!.split(' ')[0] } });

    const pr = await runExample(box, 'pr', { issue, previous: { codegen: asPrevious(codegen), review: asPrevious(review) } });
    expect(pr.status).toBe('success');
    const body = pr.outputs?.body as string;
    expect(body).toContain('Closes #21');
    expect(body).toContain('# Greet the user');
    expect(body).toContain(`- ${commit!.slice(0, 7)} miyabi: #21 Greet the user`);
    expect(await readFile(join(box.worktree, 'miyabi/PR-21.md'), 'utf8')).toBe(body);
    expect(await commitsTouching(box, 'miyabi/PR-21.md')).toHaveLength(1);

    const deploy = await runExample(box, 'deploy', { issue });
    expect(deploy).toMatchObject({ status: 'success', outputs: { file: 'miyabi/DEPLOY-21.json', issue: 21, branch: 'miyabi/issue-21' } });
    const record = JSON.parse(await readFile(join(box.worktree, 'miyabi/DEPLOY-21.json'), 'utf8'));
    expect(record.commit).toBe(deploy.outputs?.commit);

    const conductor = await runExample(box, 'conductor', {
      issue,
      previous: { codegen: asPrevious(codegen), review: asPrevious(review), pr: asPrevious(pr) },
    });
    expect(conductor).toMatchObject({ status: 'success', summary: '#21 Greet the user: codegen success, review success, pr success' });
    expect(await box.git('status', '--porcelain')).toBe('');
  });

  it('a second run of an agent repeats no side effect', async () => {
    await using box = await sandbox(22);
    await runExample(box, 'codegen');
    const again = await runExample(box, 'codegen', { attempt: 2 });
    expect(again.status).toBe('success');
    expect(await commitsTouching(box, 'miyabi/issue-22.md')).toHaveLength(1);
    const first = await runExample(box, 'deploy');
    const second = await runExample(box, 'deploy', { attempt: 2 });
    expect(second.summary).toContain('already deployed');
    expect(second.outputs?.commit).toBe(first.outputs?.commit);
    expect(await commitsTouching(box, 'miyabi/DEPLOY-22.json')).toHaveLength(1);
  });

  it('review asks for changes when there is no commit, and pr has nothing to propose', async () => {
    await using box = await sandbox(23);
    const review = await runExample(box, 'review');
    expect(review).toMatchObject({ status: 'changes_requested' });
    expect(review.outputs?.feedback).toEqual(['no commit on miyabi/issue-23 touches miyabi/issue-23.md: write it and commit it']);
    expect(await runExample(box, 'pr')).toMatchObject({ status: 'failure', summary: 'no commit for #23 on miyabi/issue-23: nothing to propose' });
  });

  it('demo:changes-requested-once: review asks for changes in round 1, codegen addresses them, review approves round 2', async () => {
    await using box = await sandbox(24);
    const issue = issueOf(box, { labels: ['demo:changes-requested-once'] });
    const code1 = await runExample(box, 'codegen', { issue });
    const review1 = await runExample(box, 'review', { issue, previous: { codegen: asPrevious(code1) } });
    expect(review1.status).toBe('changes_requested');
    const feedback = review1.outputs?.feedback as string[];
    expect(feedback[0]).toContain('Changes after review');

    const code2 = await runExample(box, 'codegen', { issue, previous: { codegen: asPrevious(code1), review: asPrevious(review1) } });
    expect(code2.status).toBe('success');
    const text = await readFile(join(box.worktree, 'miyabi/issue-24.md'), 'utf8');
    expect(text).toContain(`## Changes after review\n\n- Addressed: ${feedback[0]}\n`);
    expect(await commitsTouching(box, 'miyabi/issue-24.md')).toHaveLength(2);

    const review2 = await runExample(box, 'review', { issue, previous: { codegen: asPrevious(code2), review: asPrevious(review1) } });
    expect(review2.status).toBe('success');
  });

  it('codegen fails loudly when a dependency\'s work is not in its worktree, and goes on when it is', async () => {
    await using box = await sandbox(26);
    const git = {
      mode: 'merged' as const,
      baseBranch: 'main',
      startedFrom: { ref: 'main', sha: await box.git('rev-parse', 'main') },
      dependencies: [{ number: 3, branch: 'miyabi/issue-3', head: null, merged: true }],
      pullRequestBase: 'main',
    };
    const missing = await runExample(box, 'codegen', { git });
    expect(missing).toMatchObject({ status: 'failure', exitCode: 1 });
    expect(missing.output.join('\n')).toContain('the work of #3 (miyabi/issue-3.md) is not in miyabi/issue-26, which depends on it');
    expect(await box.git('log', '--oneline', 'main..HEAD')).toBe('');

    await mkdir(join(box.worktree, 'miyabi'), { recursive: true });
    await writeFile(join(box.worktree, 'miyabi/issue-3.md'), '# #3\n');
    await box.git('add', 'miyabi/issue-3.md');
    await box.git('commit', '-q', '-m', 'miyabi: #3');
    expect(await runExample(box, 'codegen', { git })).toMatchObject({ status: 'success' });
  });

  it('review insists when the requested changes were not made', async () => {
    await using box = await sandbox(25);
    const code = await runExample(box, 'codegen');
    const review = await runExample(box, 'review', {
      previous: { codegen: asPrevious(code), review: { status: 'changes_requested', summary: 'add a section' } },
    });
    expect(review.status).toBe('changes_requested');
    expect(review.summary).toContain('the last review is not addressed');
  });
});

describe('demo labels', () => {
  const label = async (box: Sandbox, labels: string[], role: (typeof exampleRoles)[number] = 'codegen', attempt = 1, timeoutMs = 20_000) =>
    runExample(box, role, { issue: issueOf(box, { labels }), attempt }, { taskTimeoutMs: timeoutMs, graceMs: 200 });

  const always = [
    { label: 'demo:crash', outcome: { status: 'retry', reason: 'killed by SIGKILL' } },
    { label: 'demo:fail', outcome: { status: 'failure', reason: 'exit code 1' } },
  ];
  it.each(exampleRoles.flatMap((role) => always.map((demo) => ({ ...demo, role }))))(
    '$label makes $role misbehave on every attempt',
    async ({ label: demo, role, outcome }) => {
      await using box = await sandbox(31);
      for (const attempt of [1, 2]) expect(await label(box, [demo], role, attempt)).toMatchObject(outcome);
    },
  );

  it('demo:crash-once crashes on attempt 1 only', async () => {
    await using box = await sandbox(32);
    expect(await label(box, ['demo:crash-once'], 'codegen', 1)).toMatchObject({ status: 'retry', signal: 'SIGKILL' });
    expect(await label(box, ['demo:crash-once'], 'codegen', 2)).toMatchObject({ status: 'success' });
  });

  it('demo:hang hangs until the timeout kills it: retry', async () => {
    await using box = await sandbox(33);
    const run = await label(box, ['demo:hang'], 'review', 1, 1_000);
    expect(run).toMatchObject({ status: 'retry', signal: 'SIGTERM' });
    expect(run.reason).toContain('timed out after 1000 ms');
    expect(alive(run.pid!)).toBe(false);
  });

  it('demo:fail-once fails attempt 1 and succeeds later', async () => {
    await using box = await sandbox(35);
    expect(await label(box, ['demo:fail-once'], 'codegen', 1)).toMatchObject({ status: 'failure', exitCode: 1 });
    expect(await box.git('log', '--oneline', 'main..HEAD')).toBe('');
    expect(await label(box, ['demo:fail-once'], 'codegen', 2)).toMatchObject({ status: 'success' });
  });

  it('demo:tempfail-once exits 75 on attempt 1: retry, then success', async () => {
    await using box = await sandbox(36);
    expect(await label(box, ['demo:tempfail-once'], 'pr', 1)).toMatchObject({ status: 'retry', exitCode: 75 });
    expect(await label(box, ['demo:tempfail-once'], 'conductor', 2)).toMatchObject({ status: 'success' });
  });

  it('demo:<behaviour>:<role> applies to that role only', async () => {
    await using box = await sandbox(37);
    expect(await label(box, ['demo:fail:review'], 'codegen')).toMatchObject({ status: 'success' });
    expect(await label(box, ['demo:fail:review'], 'review')).toMatchObject({ status: 'failure' });
  });
});
