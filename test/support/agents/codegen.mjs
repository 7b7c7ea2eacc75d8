#!/usr/bin/env node
// A test code generator for the GitHub merge-stage tests: what it does is chosen by its first
// argument (from the test's command, never from an issue).
//
//   plain   writes miyabi/issue-<n>.md (the round in it, so every round is a new commit) and
//           commits it; no check of the dependencies' work (the fake GitHub merges without git)
//   priced  as plain, and says what it cost: 0.25 USD, 1200 input and 300 output tokens
//   ask     answers needs_input with a question unless the task's `answers` holds one; then
//           writes the answer into miyabi/issue-<n>.md and commits it
//   hold    (second argument: a directory) on its first attempt, writes <dir>/held-<n> and waits
//           until <dir>/release-<n> exists, then goes on as `plain`; it gives up (exit 1) after
//           20 s, or at once when the process that started it is gone. Later attempts go on at once.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { commit, runExample, writeText } from '../../../examples/agents/lib.mjs';

const mode = process.argv[2] ?? 'plain';

async function hold(dir, number) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `held-${number}`), `${process.pid}\n`);
  const parent = process.ppid;
  for (const deadline = Date.now() + 20_000; !existsSync(join(dir, `release-${number}`)); ) {
    if (Date.now() > deadline || process.ppid !== parent) throw new Error('held, and never released');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

await runExample('codegen', async (task) => {
  const { number, title } = task.issue;
  if (mode === 'hold' && task.attempt === 1) await hold(process.argv[3], number);
  const answers = task.answers ?? [];
  if (mode === 'ask' && answers.length === 0) {
    return { status: 'needs_input', question: `Which output format should #${number} use?`, summary: 'a choice the issue leaves open' };
  }
  const file = `miyabi/issue-${number}.md`;
  const answer = answers.at(-1)?.answer;
  const ci = task.previous?.ci?.status === 'failure' ? `\nFixed after CI: ${task.previous.ci.summary}\n` : '';
  writeText(file, `# ${title}\n\nIssue #${number}, round ${task.round ?? 0}.\n${answer ? `\nAnswer: ${answer}\n` : ''}${ci}`);
  const sha = commit([file], `test: #${number} round ${task.round ?? 0}`, 'Test Agent');
  const cost = mode === 'priced' ? { cost: { usd: 0.25, inputTokens: 1200, outputTokens: 300 } } : {};
  return { status: 'success', summary: `wrote ${file} at ${sha.slice(0, 7)}`, outputs: { file, commit: sha }, ...cost };
});
