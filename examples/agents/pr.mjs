#!/usr/bin/env node
// ツバキ Tsubaki, the example pull-request agent (no AI). Writes the description of the pull
// request into miyabi/PR-<n>.md (title, "Closes #<n>", the issue's commits), commits it, and
// returns it as its outputs (title, body) for whoever opens the pull request.
import { commit, git, runExample, writeText } from './lib.mjs';

await runExample('pr', (task) => {
  const { number, title } = task.issue;
  const commits = git('log', '--format=- %h %s', 'HEAD', '--', `miyabi/issue-${number}.md`);
  if (commits === '') return { status: 'failure', summary: `no commit for #${number} on ${task.branch}: nothing to propose` };
  const file = `miyabi/PR-${number}.md`;
  const body = `# ${title}\n\nCloses #${number}\n\nBranch: ${task.branch}\n\n## Commits\n\n${commits}\n`;
  writeText(file, body);
  const sha = commit([file], `miyabi: pull request description for #${number}`, 'Tsubaki');
  return { status: 'success', summary: `pull request for #${number} described in ${file}`, outputs: { file, title, body, commit: sha } };
});
