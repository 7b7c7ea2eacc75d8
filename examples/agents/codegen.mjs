#!/usr/bin/env node
// カエデ Kaede, the example code generator (no AI). In the issue's worktree it writes
// miyabi/issue-<n>.md (the title and a summary of the body, read from the task file) and commits
// it on the current branch. After a review asked for changes, it adds the review's feedback as a
// "Changes after review" section and commits again.
//
// It first checks that each dependency's work is in the branch (and fails loudly when not), and
// resolves a merge conflict the orchestra hands it. Demo labels: `demo:shared-line` also writes
// this issue's line into miyabi/SHARED.md (two such issues conflict); `demo:ci-fail-once` leaves
// a bug the CI check (examples/ci/check.mjs) catches, fixed in the round after the red CI.
import { existsSync, readFileSync } from 'node:fs';
import { checkDependencies, commit, demoBehaviours, resolveConflict, runExample, summarise, writeText } from './lib.mjs';

await runExample('codegen', (task) => {
  const { number, title, body, author, url } = task.issue;
  checkDependencies(task, 'codegen');
  const resolved = resolveConflict(task, 'Kaede');
  const demo = demoBehaviours(task, 'codegen');
  const file = `miyabi/issue-${number}.md`;
  const files = [file];
  let text = `# ${title}\n\nIssue #${number} by ${author}${url ? ` (${url})` : ''}.\n\n## Summary\n\n${summarise(body) || '(no description)'}\n`;
  const review = task.previous?.review;
  if (review?.status === 'changes_requested') {
    const feedback = Array.isArray(review.outputs?.feedback) ? review.outputs.feedback : [review.summary ?? 'changes requested'];
    text += `\n## Changes after review\n\n${feedback.map((item) => `- Addressed: ${item}`).join('\n')}\n`;
  }
  const ciFailed = task.previous?.ci?.status === 'failure';
  if (demo.has('ci-fail-once') && !ciFailed) text += '\nci: red (demo: a bug the CI check catches)\n';
  if (ciFailed) text += `\n## Fixed after CI\n\n- ${task.previous.ci.summary}\n`;
  writeText(file, text);
  if (demo.has('shared-line')) {
    const shared = 'miyabi/SHARED.md';
    const lines = existsSync(shared) ? readFileSync(shared, 'utf8').split('\n').filter(Boolean) : ['# Owners'];
    const mine = `- #${number}: ${title}`;
    writeText(shared, `${[...lines.filter((line) => line !== mine), mine].join('\n')}\n`);
    files.push(shared);
  }
  const sha = commit(files, `miyabi: #${number} ${title}`, 'Kaede');
  const summary = `wrote ${files.join(', ')}, commit ${sha.slice(0, 7)}${resolved ? `; ${resolved}` : ''}`;
  return { status: 'success', summary, outputs: { file, commit: sha, ...(resolved ? { conflict: resolved } : {}) } };
});
