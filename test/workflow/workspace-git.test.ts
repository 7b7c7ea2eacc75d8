/**
 * The workspace repository as the workflow uses it: the local source's merges into the base
 * branch, which must not trip over each other when several issues finish at once.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { git, gitRun } from '../../src/infra/git/git.ts';
import { WorktreeManager } from '../../src/infra/git/worktrees.ts';
import { BranchPlanner, type DependencyBranch } from '../../src/workflow/branches.ts';
import { localMergePort, WorkspaceGit } from '../../src/workflow/workspace-git.ts';
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

describe('BranchPlanner, stacked on several dependencies whose heads conflict', () => {
  async function planner() {
    const f = await fixture();
    const one = await commitFiles(f.repo, 'miyabi/issue-1', { 'shared.txt': 'one\n' }, 'feat: #1');
    const two = await commitFiles(f.repo, 'miyabi/issue-2', { 'shared.txt': 'two\n' }, 'feat: #2');
    const three = await commitFiles(f.repo, 'miyabi/issue-3', { 'three.txt': 'three\n' }, 'feat: #3');
    const tempDir = join(f.dir, 'tmp');
    await mkdir(tempDir);
    const workspace = new WorkspaceGit({
      repoDir: f.repo,
      baseBranch: 'main',
      worktrees: new WorktreeManager({ repoDir: f.repo, rootDir: join(f.dir, 'worktrees') }),
      tempDir,
      logger: pino({ level: 'silent' }),
    });
    const dependencies = (numbers: number[]): DependencyBranch[] => numbers.map((number) => ({ number, branch: `miyabi/issue-${number}`, merged: false }));
    return { ...f, one, two, three, branches: new BranchPlanner(workspace), dependencies };
  }

  /** What the agent of the first stage does with the conflict: merges theirs into its branch (keeping its side). */
  async function resolve(repo: string, branch: string, theirs: string): Promise<string> {
    const head = await sha(repo, branch);
    const tree = (await git(['rev-parse', `${head}^{tree}`], repo)).trim();
    const merge = (await gitRun(['-c', 'user.name=A', '-c', 'user.email=a@test.invalid', 'commit-tree', tree, '-p', head, '-p', theirs, '-m', 'merge'], repo)).stdout.trim();
    await git(['update-ref', `refs/heads/${branch}`, merge, head], repo);
    return merge;
  }

  it('the first stage gets the conflict (during: branch) on a branch made from the first head; once resolved, the next stages do not', async () => {
    const { repo, one, two, branches, dependencies } = await planner();
    const request = { branch: 'miyabi/issue-9', mode: 'stacked' as const, dependencies: dependencies([1, 2]) };
    const first = await branches.prepare({ ...request, previous: undefined });
    expect(await sha(repo, 'miyabi/issue-9')).toBe(one);
    expect(first.git.startedFrom).toEqual({ ref: 'miyabi/issue-1', sha: one });
    expect(first.conflict).toMatchObject({ during: 'branch', files: ['shared.txt'], theirs: { ref: 'miyabi/issue-2', sha: two } });
    expect(first.conflict!.commits.theirs.map((commit) => commit.subject)).toEqual(['feat: #2']);
    expect(first.conflict!.commits.ours.map((commit) => commit.subject)).toEqual(['feat: #1']);

    // Not resolved yet (the agent failed, say): the conflict is still there.
    expect((await branches.prepare({ ...request, previous: first.git })).conflict).toMatchObject({ during: 'branch' });
    // Resolved: the branch holds both heads, and the next stage is not sent back.
    const merge = await resolve(repo, 'miyabi/issue-9', two);
    const next = await branches.prepare({ ...request, previous: first.git });
    expect(next.conflict).toBeUndefined();
    expect(next.git.startedFrom).toEqual(first.git.startedFrom);
    expect(await sha(repo, 'miyabi/issue-9')).toBe(merge);
  });

  it('with three dependencies, what the branch still lacks is handed on, one head at a time, until it holds them all', async () => {
    const { repo, two, three, branches, dependencies } = await planner();
    const request = { branch: 'miyabi/issue-9', mode: 'stacked' as const, dependencies: dependencies([1, 2, 3]) };
    const first = await branches.prepare({ ...request, previous: undefined });
    expect(first.conflict).toMatchObject({ during: 'branch', theirs: { ref: 'miyabi/issue-2', sha: two } });
    await resolve(repo, 'miyabi/issue-9', two);
    const second = await branches.prepare({ ...request, previous: first.git });
    expect(second.conflict).toMatchObject({ during: 'branch', theirs: { ref: 'miyabi/issue-3', sha: three }, ours: { ref: 'miyabi/issue-9' } });
    await resolve(repo, 'miyabi/issue-9', three);
    expect((await branches.prepare({ ...request, previous: first.git })).conflict).toBeUndefined();
    for (const head of [two, three]) expect(await git(['merge-base', '--is-ancestor', head, 'miyabi/issue-9'], repo).then(() => true)).toBe(true);
  });
});
