#!/usr/bin/env node
// The example Conductor (no AI): looks at the issue and at what its stages produced so far and
// sums it up. It changes nothing in the worktree.
import { runExample } from './lib.mjs';

await runExample('conductor', (task) => {
  const { number, title, labels } = task.issue;
  const stages = Object.fromEntries(Object.entries(task.previous ?? {}).map(([stage, result]) => [stage, result.status]));
  const progress = Object.keys(stages).length > 0 ? Object.entries(stages).map(([s, status]) => `${s} ${status}`).join(', ') : 'no stage has run yet';
  return { status: 'success', summary: `#${number} ${title}: ${progress}`, outputs: { issue: number, title, labels, stages } };
});
