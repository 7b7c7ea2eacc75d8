#!/usr/bin/env node
// The example CI check (no build, no AI): what `workflow.ci.command` runs in an issue's worktree
// before the merge stage merges it. It "tests" the work the example code generator wrote: a
// miyabi/issue-<n>.md that still says `ci: red` is a failing test, and the exit code says so.
// The orchestra sends the issue back to the code generator with the end of this output.
import { existsSync, readFileSync } from 'node:fs';

const issue = process.env.MIYABI_ISSUE;
const file = `miyabi/issue-${issue}.md`;
console.log(`ci: checking #${issue} at ${process.env.MIYABI_HEAD_SHA ?? 'HEAD'} on ${process.env.MIYABI_BRANCH ?? '?'}`);
if (!existsSync(file)) {
  console.log(`ci: ${file} is missing: nothing to test`);
  process.exit(0);
}
const text = readFileSync(file, 'utf8');
if (/^ci: red\b/m.test(text)) {
  console.log('ci: 1 test, 1 failure');
  console.log(`ci: FAIL ${file}: it still says "ci: red"; remove the bug the line stands for`);
  process.exit(1);
}
console.log('ci: 1 test, 0 failures');
