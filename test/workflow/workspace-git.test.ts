/**
 * The workspace repository as the workflow uses it: the local source's merges into the base
 * branch, which must not trip over each other when several issues finish at once.
 */
import { describe, expect, it } from 'vitest';
import { git } from '../../src/infra/git/git.ts';
import { localMergePort } from '../../src/workflow/workspace-git.ts';
import { commitFiles, fixture, sha } from '../worktrees/git-fixture.ts';

describe('localMergePort', () => {
  it('merges eight branches finishing at once, each exactly once, none refused', async () => {
    const { repo } = await fixture();
    const base = 'main';
    const branches: Array<{ head: string; headSha: string }> = [];
    for (let n = 1; n <= 8; n += 1) {
      branches.push({ head: `issue-${n}`, headSha: await commitFiles(repo, `issue-${n}`, { [`f${n}.txt`]: `${n}\n` }, `#${n}`) });
    }
    const port = localMergePort(repo);
    const merge = (branch: { head: string; headSha: string }) =>
      port.merge({ ...branch, base, method: 'merge', title: `merge ${branch.head}`, message: 'Closes #0' });
    const outcomes = await Promise.all(branches.map(merge));
    expect(outcomes.map((outcome) => outcome.kind)).toEqual(branches.map(() => 'merged'));
    const files = (await git(['ls-tree', '--name-only', base], repo)).split('\n');
    for (let n = 1; n <= 8; n += 1) expect(files).toContain(`f${n}.txt`);
    // Again, as after a crash: each is found merged, nothing new on the base branch.
    const tip = await sha(repo, base);
    const again = await Promise.all(branches.map(merge));
    expect(again.every((outcome) => outcome.kind === 'merged' && outcome.already)).toBe(true);
    expect(await sha(repo, base)).toBe(tip);
  });
});
