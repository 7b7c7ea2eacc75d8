/**
 * Issue titles and bodies are written by strangers. Through every example agent, injection
 * payloads leave no trace (no PWNED file anywhere, ~/x still there) and arrive as data, literally.
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runAgent } from '../../src/agents/run-agent.ts';
import type { Issue, StageResult } from '../../src/agents/task.ts';
import { findNamed, issueOf, readJson, runExample, sandbox, taskFor, type Sandbox } from './helpers.ts';

const payloads = [
  '$(touch PWNED)',
  '`touch PWNED2`',
  '; rm -rf ~/x',
  '"quotes\' and \\"escapes\\""',
  '$(touch "$HOME/PWNED3") && touch PWNED4 || touch PWNED5 | tee PWNED6 > PWNED7',
  '{{role}} {taskFile} ${MIYABI_TASK_FILE} %s %n',
];

const cases: { name: string; issue: (box: Sandbox) => Issue }[] = [
  {
    name: 'payloads in the title and the body, with newlines',
    issue: (box) =>
      issueOf(box, {
        title: `Fix it $(touch PWNED) \`touch PWNED2\`; rm -rf ~/x "quotes' and \\"escapes\\""`,
        body: payloads.join('\n'),
        labels: ['$(touch PWNED8)', 'bug'],
        author: '`touch PWNED9`',
      }),
  },
  {
    name: 'a title across lines and 100 KB of body',
    issue: (box) =>
      issueOf(box, {
        title: 'line one $(touch PWNED)\nline two `touch PWNED2`\r\n; rm -rf ~/x',
        body: `${payloads.join('\n')}\n\n${'$(touch PWNED) lorem ipsum '.repeat(4_000)}`,
      }),
  },
  {
    name: '100 KB of title',
    issue: (box) => issueOf(box, { title: `${'"$(touch PWNED)" '.repeat(6_000)}end`, body: '; rm -rf ~/x' }),
  },
];

async function noTrace(box: Sandbox): Promise<void> {
  for (const [dir, recursive] of [
    [box.root, true],
    [box.worktree, true],
    [box.dataDir, true],
    [box.home, true],
    [process.cwd(), false],
    [tmpdir(), false],
  ] as const) {
    expect(await findNamed(dir, 'PWNED', recursive), `PWNED files in ${dir}`).toEqual([]);
  }
  expect((await stat(join(box.home, 'x'))).isDirectory()).toBe(true);
}

const asPrevious = (run: { status: string; summary?: string; outputs?: Record<string, unknown> }): StageResult => ({
  status: run.status as StageResult['status'],
  summary: run.summary,
  outputs: run.outputs,
});

describe('untrusted issue text through every example agent', () => {
  it.each(cases)('$name: nothing but the agents runs, and the text arrives literally', async ({ issue: make }) => {
    await using box = await sandbox(41);
    const issue = make(box);

    const codegen = await runExample(box, 'codegen', { issue });
    expect(codegen.status).toBe('success');
    const task = (await readJson(codegen.files.taskFile)) as { issue: Issue; prompt: string };
    expect(task.issue).toEqual(issue);
    expect(await readFile(codegen.files.promptFile, 'utf8')).toContain(issue.body);
    expect(task.prompt).toContain(issue.title);

    const written = await box.git('show', 'HEAD:miyabi/issue-41.md');
    expect(written).toContain(`# ${issue.title}\n`);
    expect(written).toContain(issue.body.trim().split(/\n\s*\n/)[0]!.slice(0, 1000));
    expect(await box.git('log', '-1', '--format=%B')).toContain(issue.title.split('\n')[0]);

    const review = await runExample(box, 'review', { issue, previous: { codegen: asPrevious(codegen) } });
    expect(review.status).toBe('success');

    const pr = await runExample(box, 'pr', { issue, previous: { codegen: asPrevious(codegen), review: asPrevious(review) } });
    expect(pr.status).toBe('success');
    expect(pr.outputs?.title).toBe(issue.title);
    expect(pr.outputs?.body).toContain(`# ${issue.title}\n\nCloses #41`);

    const deploy = await runExample(box, 'deploy', { issue });
    expect(deploy).toMatchObject({ status: 'success', outputs: { title: issue.title } });

    const conductor = await runExample(box, 'conductor', { issue });
    expect(conductor.status).toBe('success');
    expect(conductor.summary).toContain(issue.title);
    expect(conductor.outputs?.labels).toEqual(issue.labels);

    await noTrace(box);
  });
});

describe('the wrappers for real agents hand the prompt over as data', () => {
  const bin = join(import.meta.dirname, 'fixtures', 'bin');
  const wrappers = join(import.meta.dirname, '..', '..', 'examples', 'agents', 'wrappers');
  const hostile = (box: Sandbox, body = payloads.join('\n')) =>
    issueOf(box, { title: '--dangerously-skip-permissions $(touch PWNED) `touch PWNED2`', body });

  async function wrapped(box: Sandbox, wrapper: string, issue: Issue) {
    const run = await runAgent({
      agent: { command: [join(wrappers, wrapper)], taskTimeoutMs: 20_000 },
      task: taskFor(box, 'codegen', { issue }),
      dataDir: box.dataDir,
      parentEnv: { ...process.env, HOME: box.home, PATH: `${bin}:${process.env.PATH}` },
    });
    const name = wrapper.replace(/-code\.sh$|\.sh$/, '');
    const seen = (await readJson(join(run.files.dir, `fake-${name}.json`))) as { argv: string[]; stdin: string; cwd: string };
    return { run, seen, prompt: await readFile(run.files.promptFile, 'utf8') };
  }

  it('claude-code.sh: the whole prompt as one argument after --', async () => {
    await using box = await sandbox(51);
    const { run, seen, prompt } = await wrapped(box, 'claude-code.sh', hostile(box));
    expect(run).toMatchObject({ status: 'success', summary: 'claude was here' });
    expect(seen.argv).toEqual([
      '-p',
      '--output-format',
      'json',
      '--permission-mode',
      'acceptEdits',
      '--allowedTools',
      'Bash,Read,Edit,Write,Glob,Grep',
      '--add-dir',
      run.files.dir,
      '--',
      prompt.replace(/\n+$/, ''),
    ]);
    expect(seen.argv.at(-1)).toContain('$(touch PWNED)');
    expect(seen.cwd).toBe(await realpath(box.worktree));
    await noTrace(box);
  });

  it('claude-code.sh: a prompt too long for one argument is handed over as its file', async () => {
    await using box = await sandbox(52);
    const { run, seen } = await wrapped(box, 'claude-code.sh', hostile(box, '$(touch PWNED) '.repeat(10_000)));
    expect(run.status).toBe('success');
    expect(seen.argv.at(-1)).toBe(`Your instructions are in the file ${run.files.promptFile}. Read all of it, then follow it.`);
    await noTrace(box);
  });

  it('codex.sh: the prompt on stdin, the task and git directories writable', async () => {
    await using box = await sandbox(53);
    const { run, seen, prompt } = await wrapped(box, 'codex.sh', hostile(box, '$(touch PWNED) '.repeat(10_000)));
    expect(run).toMatchObject({ status: 'success', summary: 'codex was here' });
    expect(seen.argv).toEqual([
      'exec',
      '--sandbox',
      'workspace-write',
      '--add-dir',
      run.files.dir,
      '--add-dir',
      join(await realpath(box.repo), '.git'),
      '--output-last-message',
      join(run.files.dir, 'codex-last-message.md'),
      '-',
    ]);
    expect(seen.stdin).toBe(prompt);
    await noTrace(box);
  });
});
