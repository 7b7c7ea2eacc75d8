#!/usr/bin/env node
// サクラ Sakura, the example reviewer (no AI). Checks that the branch has a commit touching
// miyabi/issue-<n>.md, that the file is not empty and names the issue, and that the last review's
// feedback was addressed; answers success or changes_requested (with feedback) in the result file.
import { demoBehaviours, git, runExample } from './lib.mjs';

await runExample('review', (task) => {
  const { number } = task.issue;
  const file = `miyabi/issue-${number}.md`;
  const sha = git('log', '-1', '--format=%H', 'HEAD', '--', file);
  const earlier = task.previous?.review;
  const feedback = [];
  if (sha === '') {
    feedback.push(`no commit on ${task.branch} touches ${file}: write it and commit it`);
  } else {
    const text = git('show', `HEAD:${file}`);
    if (text === '') feedback.push(`${file} is empty: describe the issue in it`);
    else if (!text.includes(`Issue #${number}`)) feedback.push(`${file} does not say "Issue #${number}"`);
    if (earlier?.status === 'changes_requested' && !text.includes('## Changes after review')) {
      feedback.push('the last review is not addressed: add a "Changes after review" section');
    }
  }
  if (feedback.length === 0 && earlier === undefined && demoBehaviours(task, 'review').has('changes-requested-once')) {
    feedback.push('demo: say what changed after this review in a "Changes after review" section');
  }
  if (feedback.length > 0) {
    return { status: 'changes_requested', summary: feedback.join('; '), outputs: { feedback, commit: sha || null } };
  }
  return { status: 'success', summary: `approved ${file} at ${sha.slice(0, 7)}`, outputs: { commit: sha } };
});
