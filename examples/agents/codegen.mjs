#!/usr/bin/env node
// カエデ Kaede, the example code generator (no AI). In the issue's worktree it writes
// miyabi/issue-<n>.md (the title and a summary of the body, read from the task file) and commits
// it on the current branch. After a review asked for changes, it adds the review's feedback as a
// "Changes after review" section and commits again.
import { commit, runExample, summarise, writeText } from './lib.mjs';

await runExample('codegen', (task) => {
  const { number, title, body, author, url } = task.issue;
  const file = `miyabi/issue-${number}.md`;
  let text = `# ${title}\n\nIssue #${number} by ${author}${url ? ` (${url})` : ''}.\n\n## Summary\n\n${summarise(body) || '(no description)'}\n`;
  const review = task.previous?.review;
  if (review?.status === 'changes_requested') {
    const feedback = Array.isArray(review.outputs?.feedback) ? review.outputs.feedback : [review.summary ?? 'changes requested'];
    text += `\n## Changes after review\n\n${feedback.map((item) => `- Addressed: ${item}`).join('\n')}\n`;
  }
  writeText(file, text);
  const sha = commit([file], `miyabi: #${number} ${title}`, 'Kaede');
  return { status: 'success', summary: `wrote ${file}, commit ${sha.slice(0, 7)}`, outputs: { file, commit: sha } };
});
