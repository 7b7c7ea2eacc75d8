/**
 * The target repository, as the workflow uses it (ports.ts `WorkspacePort`), over the git
 * operations of src/infra/git: branches made from the base branch or from dependencies, merge
 * commits and restacks made without disturbing a worktree in use, pushes with a lease.
 *
 * With an `origin` remote (a clone of the GitHub repository) the base branch is what origin has
 * (fetched before each use: a dependency merged on GitHub is there), and branches are pushed
 * there with `--force-with-lease` on what the orchestra itself pushed last (kept in
 * `refs/miyabi/pushed/<branch>`, which no `git fetch` moves — the remote-tracking ref does, and a
 * person's fetch in the workspace would turn a lease on it into a force over what they fetched):
 * a restack may rewrite the orchestra's own branch, never commits someone else pushed; such a
 * push is `PushRefused`. Without one (the demo, a local repository) everything stays local, and
 * the local source merges into the base branch itself (`localMergePort`).
 */
import type { Logger } from 'pino';
import { branchHead, branchRef, commitsBetween, createBranch, fetchBranch, hasRemote, isAncestor, pushBranch, resolveCommit, setRef } from '../infra/git/branches.ts';
import { mergeCommitOf, mergeIntoBranch, type MergeMethod } from '../infra/git/merge.ts';
import { rebaseBranch } from '../infra/git/rebase.ts';
import type { WorktreeManager } from '../infra/git/worktrees.ts';
import type { MergeOutcome } from '../issues/source.ts';
import { PushRefused, type Commit, type GitRef, type WorkspacePort } from './ports.ts';

const REMOTE = 'origin';
/** Where the sha the orchestra last pushed of a branch is kept: the lease of its next push. */
const pushedRef = (branch: string) => branchRef(branch).replace(/^refs\/heads\//, 'refs/miyabi/pushed/');

export interface WorkspaceGitOptions {
  repoDir: string;
  baseBranch: string;
  worktrees: WorktreeManager;
  /** Where temporary worktrees for restacks go. */
  tempDir: string;
  logger: Logger;
}

export class WorkspaceGit implements WorkspacePort {
  readonly baseBranch: string;
  readonly #options: WorkspaceGitOptions;
  #remote: Promise<boolean> | undefined;

  constructor(options: WorkspaceGitOptions) {
    this.#options = options;
    this.baseBranch = options.baseBranch;
  }

  get #repo(): string {
    return this.#options.repoDir;
  }

  #hasRemote(): Promise<boolean> {
    this.#remote ??= hasRemote(this.#repo, REMOTE);
    return this.#remote;
  }

  async baseTip(): Promise<GitRef> {
    if (await this.#hasRemote()) {
      const sha = await fetchBranch(this.#repo, REMOTE, this.baseBranch);
      if (sha) return { ref: `${REMOTE}/${this.baseBranch}`, sha };
    }
    const sha = await resolveCommit(this.#repo, `refs/heads/${this.baseBranch}`);
    if (!sha) throw new Error(`the base branch ${this.baseBranch} does not exist in ${this.#repo}`);
    return { ref: this.baseBranch, sha };
  }

  head(branch: string): Promise<string | undefined> {
    return branchHead(this.#repo, branch);
  }

  async createBranch(branch: string, sha: string): Promise<void> {
    const { created } = await createBranch(this.#repo, branch, sha);
    if (created) this.#options.logger.info({ branch, from: sha }, 'branch created');
  }

  async mergeCommit(parents: readonly GitRef[], message: string): Promise<{ sha: string } | { conflict: { files: string[] } }> {
    const result = await mergeCommitOf(this.#repo, parents, message);
    return 'sha' in result ? result : { conflict: { files: result.conflict.files } };
  }

  async rebase(branch: string, upstream: string, onto: string): Promise<{ sha: string } | { conflict: { files: string[] } } | { refused: string }> {
    const result = await rebaseBranch(this.#repo, { branch, upstream, onto, tempDir: this.#options.tempDir });
    if ('sha' in result) {
      if (result.changed) this.#options.logger.info({ branch, onto }, 'branch restacked');
      return { sha: result.sha };
    }
    return 'conflict' in result ? { conflict: { files: result.conflict.files } } : result;
  }

  isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    return isAncestor(this.#repo, ancestor, descendant);
  }

  commitsBetween(from: string, to: string): Promise<Commit[]> {
    return commitsBetween(this.#repo, from, to, 20);
  }

  async publish(branch: string): Promise<void> {
    if (!(await this.#hasRemote())) return;
    // A branch pushed before the orchestra kept its own record (an older version): the
    // remote-tracking ref, as that version leased on.
    const lease = (await resolveCommit(this.#repo, pushedRef(branch))) ?? (await resolveCommit(this.#repo, `refs/remotes/${REMOTE}/${branch}`));
    // Already there as far as we know (the merge stage looks again and again while CI runs).
    if (lease !== undefined && lease === (await branchHead(this.#repo, branch))) return;
    const pushed = await pushBranch(this.#repo, REMOTE, branch, lease ? { forceWithLease: lease } : {});
    if ('rejected' in pushed) throw new PushRefused(branch, pushed.rejected);
    await setRef(this.#repo, pushedRef(branch), pushed.sha);
    this.#options.logger.info({ branch, sha: pushed.sha }, 'branch pushed to origin');
  }

  async worktree(issue: number, branch: string): Promise<string> {
    return (await this.#options.worktrees.ensure(`issue-${issue}`, branch)).path;
  }
}

/**
 * The local source's merge (LocalIssueSource `repository`): the pull request's branch into the
 * base branch of the workspace repository, exactly once (a trailer names the branch and head, so
 * a replay finds its own merge).
 */
export function localMergePort(repoDir: string) {
  // One merge into the repository at a time: merges of several issues finishing together would
  // each move the base branch under the others (a compare-and-swap that loses, again and again).
  let last: Promise<unknown> = Promise.resolve();
  const serially = <T>(work: () => Promise<T>): Promise<T> => {
    const next = last.then(work, work);
    last = next.catch(() => undefined);
    return next;
  };
  return {
    head: (branch: string) => branchHead(repoDir, branch),
    merge: (request: { head: string; headSha: string; base: string; method: MergeMethod; title: string; message: string }): Promise<MergeOutcome> =>
      serially(async () => {
        const result = await mergeIntoBranch(repoDir, {
          base: request.base,
          head: request.head,
          headSha: request.headSha,
          method: request.method,
          message: `${request.title}\n\n${request.message}`,
          trailer: `Miyabi-Merge: ${request.head} ${request.headSha}`,
        });
        if ('sha' in result) return { kind: 'merged', sha: result.sha, already: result.already };
        // git's `ours` is the base branch merged into; to the issue's agent, the base is theirs.
        if ('conflict' in result) return { kind: 'conflict', files: result.conflict.files, theirs: result.conflict.ours, ours: result.conflict.theirs };
        if ('headChanged' in result) return { kind: 'head_changed', reason: `${request.head} moved to ${result.headChanged ?? 'nothing'} since ${request.headSha}` };
        // Someone else moved the base branch meanwhile (a person's push): not a refusal, the next look tries again.
        if (result.reason === 'base_moved') throw new Error(result.refused);
        return { kind: 'refused', reason: result.refused };
      }),
  };
}
