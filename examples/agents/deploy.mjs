#!/usr/bin/env node
// ボタン Botan, the example deploy agent (no AI). "Deploys" the branch by committing a record,
// miyabi/DEPLOY-<n>.json, naming the commit deployed. A second run finds the record and deploys
// nothing again.
import { commit, git, runExample, writeText } from './lib.mjs';

await runExample('deploy', (task) => {
  const { number, title } = task.issue;
  const file = `miyabi/DEPLOY-${number}.json`;
  if (git('log', '-1', '--format=%H', 'HEAD', '--', file) !== '') {
    const record = JSON.parse(git('show', `HEAD:${file}`));
    return { status: 'success', summary: `already deployed: ${record.commit.slice(0, 7)}`, outputs: { file, ...record } };
  }
  const record = { issue: number, title, branch: task.branch, commit: git('rev-parse', 'HEAD'), deployedAt: new Date().toISOString() };
  writeText(file, `${JSON.stringify(record, null, 2)}\n`);
  commit([file], `miyabi: deploy record of #${number}`, 'Botan');
  return { status: 'success', summary: `deployed ${record.commit.slice(0, 7)} of ${task.branch}`, outputs: { file, ...record } };
});
