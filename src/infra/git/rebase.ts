/**
 * Restacking a branch: `git rebase --onto <onto> <upstream>` of one branch, the move a stacked
 * branch needs when the branch it was built on got new commits (or was merged).
 *
 * The contract:
 * - A rebase needs a working tree, and runs where the branch is checked out: in `worktree` when
 *   given (the branch must be checked out there: `worktree_conflict` otherwise), in the worktree
 *   git says has it, or else in a temporary worktree made under `tempDir` and removed afterwards.
 * - A worktree with uncommitted changes to tracked files, or in the middle of a rebase or merge,
 *   is refused (`{ refused }`): nothing of anyone's work is stashed or lost.
 * - A conflict is data: the rebase is aborted, so the branch stays exactly where it was, and
 *   `{ conflict: { files, ours, theirs, commit } }` names the conflicting files, `onto` (ours),
 *   the branch's old head (theirs) and the commit that did not apply.
 * - A branch holding a merge commit of its own (an agent merged in another branch and resolved
 *   a conflict) keeps it, which a plain rebase would flatten away with the resolution: when
 *   `onto` descends from `upstream` (what it was built on moved on), `onto` is merged into the
 *   branch instead (`git merge --no-ff`, only the new commits to merge); when it does not (what it
 *   was built on was rewritten), the rebase recreates the merges (`--rebase-merges`), redoing
 *   their conflicts, if any, as a conflict of the restack.
 * - Commits are rewritten by `miyabi-orchestra` as committer, each keeping its author; hooks, autostash,
 *   `rebase.updateRefs` and rerere of the user's configuration are off.
 */
import { mkdtemp, realpath, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ErrorCodes, MiyabiError } from '../../errors.ts';
import { COMMIT_CONFIG, QUIET_CONFIG, git, gitRun } from './git.ts';
import { type BranchConflict, branchHead, branchRef, checkRev, invalid, isAncestor, isClean, resolveCommit, worktreeOf } from './branches.ts';

export interface RebaseBranchOptions {
  branch: string;
  /** Where the branch's own commits start: those after it are moved. */
  upstream: string;
  /** What they are moved onto. */
  onto: string;
  /** The worktree where `branch` is checked out, when the caller knows it. */
  worktree?: string;
  /** Where a temporary worktree is made when the branch is checked out nowhere. Default: the OS's. */
  tempDir?: string;
}

export type RebaseBranchResult = { sha: string; changed: boolean } | { conflict: BranchConflict } | { refused: string };

export async function rebaseBranch(repo: string, options: RebaseBranchOptions): Promise<RebaseBranchResult> {
  const { branch } = options;
  branchRef(branch);
  const old = await branchHead(repo, branch);
  if (old === undefined) throw invalid(`there is no branch ${branch} in ${repo}`);
  const upstream = await resolveCommit(repo, checkRev(options.upstream));
  if (upstream === undefined) throw invalid(`${options.upstream} does not name a commit in ${repo}`);
  const onto = await resolveCommit(repo, checkRev(options.onto));
  if (onto === undefined) throw invalid(`${options.onto} does not name a commit in ${repo}`);
  const job: Rebase = { branch, old, upstream, onto: { ref: options.onto, sha: onto } };

  const checkedOut = await worktreeOf(repo, branch);
  if (options.worktree !== undefined) {
    const given = await realpath(options.worktree).catch(() => options.worktree);
    if (checkedOut === undefined || (await realpath(checkedOut).catch(() => checkedOut)) !== given) {
      throw new MiyabiError(ErrorCodes.WorktreeConflict, `branch ${branch} is not checked out in ${options.worktree}`);
    }
  }
  if (checkedOut !== undefined) return rebaseIn(repo, checkedOut, job);

  const scratch = await mkdtemp(path.join(options.tempDir ?? tmpdir(), 'miyabi-rebase-'));
  const dir = path.join(scratch, 'worktree');
  try {
    await git([...QUIET_CONFIG, 'worktree', 'add', '--quiet', dir, branch], repo);
    return await rebaseIn(repo, dir, job);
  } finally {
    await git(['worktree', 'remove', '--force', '--force', dir], repo).catch(() => {});
    await rm(scratch, { recursive: true, force: true });
    await git(['worktree', 'prune'], repo).catch(() => {});
  }
}

interface Rebase {
  branch: string;
  old: string;
  upstream: string;
  onto: { ref: string; sha: string };
}

async function rebaseIn(repo: string, dir: string, job: Rebase): Promise<RebaseBranchResult> {
  const { branch, old } = job;
  if (await operationInProgress(dir)) return { refused: `branch ${branch} is checked out in ${dir}, in the middle of a rebase or merge` };
  if (!(await isClean(dir))) return { refused: `branch ${branch} is checked out in ${dir} with uncommitted changes` };
  const how = await restackMove(repo, job);
  const args =
    how === 'merge'
      ? [...COMMIT_CONFIG, ...QUIET_CONFIG, 'merge', '--quiet', '--no-ff', '--no-edit', '-m', `Restack ${branch} onto ${job.onto.ref}`, job.onto.sha]
      : [...COMMIT_CONFIG, ...QUIET_CONFIG, 'rebase', '--quiet', '--no-autostash', '--no-update-refs', ...(how === 'rebase-merges' ? ['--rebase-merges'] : []), '--onto', job.onto.sha, job.upstream];
  const result = await gitRun(args, dir, { okExitCodes: [0, 1, 128] });
  if (result.exitCode === 0) {
    const sha = await branchHead(repo, branch);
    if (sha === undefined) throw new MiyabiError(ErrorCodes.GitCommandFailed, `git rebase in ${dir}: branch ${branch} is gone`);
    return { sha, changed: sha !== old };
  }
  const command = how === 'merge' ? 'merge' : 'rebase';
  const failed = new MiyabiError(ErrorCodes.GitCommandFailed, `git ${command} in ${dir}: ${result.stderr.trim() || `exit status ${result.exitCode}`}`);
  if (!(await operationInProgress(dir))) throw failed; // refused before it began (untracked files in the way, …)
  const files = (await git(['diff', '--name-only', '--diff-filter=U', '-z'], dir)).split('\0').filter((file) => file !== '');
  const stopped = await gitRun(['rev-parse', '--verify', '--quiet', 'REBASE_HEAD'], dir, { okExitCodes: [0, 1] });
  await git([...COMMIT_CONFIG, ...QUIET_CONFIG, command, '--abort'], dir);
  const now = await branchHead(repo, branch);
  if (now !== old) {
    throw new MiyabiError(ErrorCodes.GitCommandFailed, `git ${command} --abort in ${dir} left ${branch} at ${now ?? 'nothing'}, not ${old}`);
  }
  if (files.length === 0) throw failed;
  const commit = stopped.exitCode === 0 ? stopped.stdout.trim() : undefined;
  return {
    conflict: { files, ours: job.onto, theirs: { ref: branch, sha: old }, ...(commit !== undefined && { commit }) },
  };
}

/** How the branch's own commits are moved: a plain rebase unless a merge commit is among them. */
async function restackMove(repo: string, job: Rebase): Promise<'rebase' | 'merge' | 'rebase-merges'> {
  const merges = Number((await git(['rev-list', '--merges', '--count', `${job.upstream}..${job.old}`], repo)).trim());
  if (merges === 0) return 'rebase';
  return (await isAncestor(repo, job.upstream, job.onto.sha)) ? 'merge' : 'rebase-merges';
}

/** Whether a rebase, merge or cherry-pick is under way in the worktree at `dir`. */
async function operationInProgress(dir: string): Promise<boolean> {
  const markers = ['rebase-merge', 'rebase-apply', 'MERGE_HEAD', 'CHERRY_PICK_HEAD'];
  const out = await git(['rev-parse', '--path-format=absolute', ...markers.flatMap((marker) => ['--git-path', marker])], dir);
  const paths = out.split('\n').filter((line) => line !== '');
  const found = await Promise.all(paths.map((file) => stat(file).then(() => true, () => false)));
  return found.includes(true);
}
