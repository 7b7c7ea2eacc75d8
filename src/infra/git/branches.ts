/**
 * Branches of a plain repository: what a ref points at, whether one commit contains another,
 * creating a branch without a checkout, and moving branches to and from a remote. Nothing about
 * issues: repositories (any directory of one of their worktrees), branch names, shas.
 *
 * The contract:
 * - A branch is named without `refs/heads/` and is always passed to git as `refs/heads/<name>`;
 *   a free ref (a sha, `main~2`, a remote-tracking ref) may not start with '-'. Both are
 *   `invalid_argument` otherwise.
 * - Queries answer `undefined` / `false` for what does not exist; a git failure (no repository,
 *   a broken object) is a `git_command_failed` MiyabiError naming the command.
 * - `createBranch` never moves an existing branch (a compare-and-swap against "absent").
 * - `pushBranch` never forces blindly: a rewrite needs `forceWithLease`, the remote sha last
 *   seen, and a remote that moved since is a `rejected` result, as is any refusal of the remote.
 */
import { ErrorCodes, MiyabiError } from '../../errors.ts';
import { COMMIT_CONFIG, git, gitRun } from './git.ts';
import { parseWorktreeList } from './worktrees.ts';

/** A ref and the commit it was at. */
export interface Head {
  ref: string;
  sha: string;
}

/**
 * Why two lines of work could not be joined: the conflicting files, and the two sides — `ours`
 * the branch receiving the change, `theirs` the one brought in; `commit`, when one commit of
 * `theirs` was being replayed, is that commit.
 */
export interface BranchConflict {
  files: string[];
  ours: Head;
  theirs: Head;
  commit?: string;
}

export function invalid(message: string): MiyabiError {
  return new MiyabiError(ErrorCodes.InvalidArgument, message);
}

/** A ref or rev given to git as an argument: never an option, never several lines. */
export function checkRev(rev: string, what = 'ref'): string {
  if (rev === '' || rev.startsWith('-') || /[\0\n\r]/.test(rev)) throw invalid(`${JSON.stringify(rev)} is not a valid ${what}`);
  return rev;
}

/** `refs/heads/<branch>`, for a branch name given without it. */
export function branchRef(branch: string): string {
  checkRev(branch, 'branch name');
  if (branch.startsWith('refs/') || /[\s~^:?*[\\]|\.\.|@\{|\/\/|\.lock$|\/$|\.$/.test(branch)) {
    throw invalid(`${JSON.stringify(branch)} is not a valid branch name`);
  }
  return `refs/heads/${branch}`;
}

/** The full sha of the commit `ref` names, or undefined when it names none. */
export async function resolveCommit(repo: string, ref: string): Promise<string | undefined> {
  const result = await gitRun(['rev-parse', '--verify', '--quiet', `${checkRev(ref)}^{commit}`], repo, {
    okExitCodes: [0, 1],
  });
  return result.exitCode === 0 ? result.stdout.trim() : undefined;
}

/** The sha `refs/heads/<branch>` is at, or undefined when there is no such branch. */
export function branchHead(repo: string, branch: string): Promise<string | undefined> {
  return resolveCommit(repo, branchRef(branch));
}

export async function branchExists(repo: string, branch: string): Promise<boolean> {
  return (await branchHead(repo, branch)) !== undefined;
}

/** Whether `ancestor` is reachable from `descendant` (a commit is its own ancestor). */
export async function isAncestor(repo: string, ancestor: string, descendant: string): Promise<boolean> {
  const result = await gitRun(['merge-base', '--is-ancestor', checkRev(ancestor), checkRev(descendant)], repo, {
    okExitCodes: [0, 1],
  });
  return result.exitCode === 0;
}

/** The commits in `to` and not in `from`, newest first, at most `limit`. */
export async function commitsBetween(
  repo: string,
  from: string,
  to: string,
  limit = 20,
): Promise<{ sha: string; subject: string }[]> {
  if (!Number.isInteger(limit) || limit < 1) throw invalid(`limit must be a positive integer, not ${limit}`);
  const out = await git(
    ['-c', 'log.showSignature=false', 'log', `--max-count=${limit}`, '--format=%H %s', `${checkRev(from)}..${checkRev(to)}`, '--'],
    repo,
  );
  return out
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const space = line.indexOf(' ');
      return space < 0 ? { sha: line, subject: '' } : { sha: line.slice(0, space), subject: line.slice(space + 1) };
    });
}

/**
 * Creates `refs/heads/<branch>` at `startSha` when missing: no worktree, no checkout, no upstream.
 * An existing branch is left where it is and reported with its head.
 */
export async function createBranch(
  repo: string,
  branch: string,
  startSha: string,
): Promise<{ created: boolean; head: string }> {
  const ref = branchRef(branch);
  const start = await resolveCommit(repo, startSha);
  if (start === undefined) throw invalid(`${startSha} does not name a commit in ${repo}`);
  // The empty old value: only if the ref does not exist yet, so a concurrent creator wins cleanly.
  try {
    await git([...COMMIT_CONFIG, 'update-ref', '-m', 'miyabi-orchestra: create branch', ref, start, ''], repo);
    return { created: true, head: start };
  } catch (error) {
    const head = await branchHead(repo, branch);
    if (head === undefined) throw error;
    return { created: false, head };
  }
}

/** Points `ref` (a full ref name outside `refs/heads/`, e.g. `refs/miyabi/…`) at `sha`, whatever it pointed at. */
export async function setRef(repo: string, ref: string, sha: string): Promise<void> {
  if (!ref.startsWith('refs/') || ref.startsWith('refs/heads/')) throw invalid(`${JSON.stringify(ref)} is not a ref setRef may move`);
  await git([...COMMIT_CONFIG, 'update-ref', '-m', 'miyabi-orchestra: record', checkRev(ref), checkRev(sha, 'sha')], repo);
}

/** The worktree (its top directory) where `branch` is checked out, if any. */
export async function worktreeOf(repo: string, branch: string): Promise<string | undefined> {
  branchRef(branch);
  const records = parseWorktreeList(await git(['worktree', 'list', '--porcelain', '-z'], repo));
  return records.find((record) => record.branch === branch && !record.prunable)?.path;
}

/** Whether the worktree at `dir` has no uncommitted change to a tracked file (untracked ones aside). */
export async function isClean(dir: string): Promise<boolean> {
  const status = await git(['status', '--porcelain', '-z', '--untracked-files=no', '--ignore-submodules=none'], dir);
  return status === '';
}

export async function hasRemote(repo: string, name: string): Promise<boolean> {
  const remotes = await git(['remote'], repo);
  return remotes.split('\n').some((line) => line.trim() === name);
}

/**
 * Fetches `branch` of `remote` into `refs/remotes/<remote>/<branch>` and returns its sha, or
 * undefined when the remote has no such branch.
 */
export async function fetchBranch(repo: string, remote: string, branch: string): Promise<string | undefined> {
  const ref = branchRef(branch);
  checkRev(remote, 'remote name');
  const tracking = `refs/remotes/${remote}/${branch}`;
  try {
    await git(['fetch', '--quiet', '--no-tags', '--no-write-fetch-head', remote, `+${ref}:${tracking}`], repo);
  } catch (error) {
    if (/couldn't find remote ref/i.test((error as Error).message)) return undefined;
    throw error;
  }
  return resolveCommit(repo, tracking);
}

export type PushResult = { pushed: true; sha: string } | { rejected: string };

/**
 * Pushes `refs/heads/<branch>` to the same branch of `remote`. A fast-forward needs nothing
 * more; a rewrite needs `forceWithLease`, the sha the remote branch is expected at (git's
 * `--force-with-lease=refs/heads/<b>:<sha>`, never a plain --force). A remote that moved, a
 * non-fast-forward, a hook that declines: `{ rejected }` with git's reason.
 */
export async function pushBranch(
  repo: string,
  remote: string,
  branch: string,
  options: { forceWithLease?: string } = {},
): Promise<PushResult> {
  const ref = branchRef(branch);
  checkRev(remote, 'remote name');
  const sha = await branchHead(repo, branch);
  if (sha === undefined) throw invalid(`there is no branch ${branch} in ${repo}`);
  const lease = options.forceWithLease === undefined ? [] : [`--force-with-lease=${ref}:${checkRev(options.forceWithLease, 'sha')}`];
  const result = await gitRun(['push', '--porcelain', ...lease, remote, `${ref}:${ref}`], repo, { okExitCodes: [0, 1] });
  // --porcelain: one line per ref, `<flag>\t<from>:<to>\t<summary>`; '!' is a rejected one.
  const rejected = result.stdout.split('\n').find((line) => line.startsWith('!\t'));
  if (rejected !== undefined) return { rejected: rejected.split('\t')[2] ?? 'rejected' };
  if (result.exitCode !== 0) {
    throw new MiyabiError(ErrorCodes.GitCommandFailed, `git push ${remote} ${branch} in ${repo}: ${result.stderr.trim()}`);
  }
  return { pushed: true, sha };
}

/**
 * The branch HEAD of the repository's main worktree points at (for a bare repository, its HEAD
 * when that branch exists); on a detached HEAD, `main` when it exists; otherwise undefined.
 */
export async function defaultBranch(repo: string): Promise<string | undefined> {
  const common = (await git(['rev-parse', '--path-format=absolute', '--git-common-dir'], repo)).trim();
  // The main worktree's HEAD lives in the common directory, whichever worktree `repo` is.
  const head = await gitRun(['--git-dir', common, 'symbolic-ref', '--quiet', 'HEAD'], repo, { okExitCodes: [0, 1] });
  const target = head.stdout.trim();
  if (head.exitCode === 0 && target.startsWith('refs/heads/')) {
    const branch = target.slice('refs/heads/'.length);
    if ((await resolveCommit(repo, target)) !== undefined) return branch;
  }
  return (await resolveCommit(repo, 'refs/heads/main')) === undefined ? undefined : 'main';
}
