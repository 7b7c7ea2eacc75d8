/**
 * Merges made by the orchestra without touching a working tree: trees come from
 * `git merge-tree --write-tree`, commits from `git commit-tree` (identity `miyabi-orchestra`,
 * unsigned), and a branch moves by a compare-and-swap of its ref.
 *
 * The contract:
 * - `mergeCommitOf(repo, parents, message)` makes one commit whose parents are the given heads,
 *   in order (merged pairwise, left to right); one head is returned as it is. A conflict is data:
 *   `{ conflict: { files, ours, theirs } }`, `ours` the heads merged so far.
 * - `mergeIntoBranch(repo, { base, head, headSha, method, message, trailer })` puts `head` on
 *   branch `base` exactly once:
 *   - every commit it makes ends with `trailer` (one `Key: value` line naming the head and its
 *     sha); a first-parent commit of `base` (the last 500) carrying it means "done already", and
 *     so does a head that `base` already contains: `{ sha, already: true }`, nothing moves;
 *   - `head` must be at `headSha`, else `{ headChanged: <sha, or null when it is gone> }`;
 *   - `merge`: a merge commit (parents base, head); `squash`: one commit with the same tree on
 *     base; `rebase`: head's commits (merges left out, as git rebase does) replayed one by one
 *     on base with their author and message, the last one carrying the trailer;
 *   - a conflict anywhere: `{ conflict }`, base untouched;
 *   - publishing: `update-ref refs/heads/<base> <new> <old>`; a base moved meanwhile starts the
 *     whole thing again once, then `{ refused, reason: 'base_moved' }`. When base is checked out
 *     in a worktree (the user's checkout, typically), its ref is not moved under it: a clean one
 *     is advanced by `git merge --ff-only`, a dirty one is `{ refused, reason: 'base_dirty' }`.
 */
import { ErrorCodes, MiyabiError } from '../../errors.ts';
import { COMMIT_CONFIG, QUIET_CONFIG, git, gitRun } from './git.ts';
import {
  type BranchConflict,
  type Head,
  branchHead,
  branchRef,
  invalid,
  isAncestor,
  isClean,
  worktreeOf,
} from './branches.ts';

export type MergeMethod = 'merge' | 'squash' | 'rebase';

export type MergeCommitResult = { sha: string } | { conflict: { files: string[]; ours: Head[]; theirs: Head } };

export interface MergeIntoBranchOptions {
  /** The branch receiving the change. */
  base: string;
  /** The branch brought in, expected at `headSha` (a full sha). */
  head: string;
  headSha: string;
  method: MergeMethod;
  /** The message of the merge or squash commit (a rebase keeps each commit's own). */
  message: string;
  /** One `Key: value` line that names this merge, e.g. `Miyabi-Merge: miyabi/issue-5 <headSha>`. */
  trailer: string;
}

export type MergeIntoBranchResult =
  | { sha: string; already: boolean }
  | { conflict: BranchConflict }
  | { headChanged: string | null }
  | { refused: string; reason: 'base_dirty' | 'base_moved' };

/** How many first-parent commits of base are searched for the trailer. */
export const TRAILER_SEARCH_DEPTH = 500;

const fullSha = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/** `message` with `trailer` as its last line, in the message's trailer block when it has one. */
export function withTrailer(message: string, trailer: string): string {
  const body = message.replace(/\s+$/, '');
  if (body === '') return `${trailer}\n`;
  const paragraphs = body.split(/\n[ \t]*\n/);
  const last = paragraphs.at(-1) ?? '';
  const inBlock = paragraphs.length > 1 && last.split('\n').every((line) => /^[A-Za-z0-9-]+: /.test(line));
  return inBlock ? `${body}\n${trailer}\n` : `${body}\n\n${trailer}\n`;
}

/** The tree of merging `theirs` into `ours`, or the files that conflict. */
async function mergeTree(repo: string, ours: string, theirs: string): Promise<{ tree: string } | { files: string[] }> {
  const args = ['merge-tree', '--write-tree', '-z', '--name-only', '--no-messages', ours, theirs];
  const result = await gitRun(args, repo, { okExitCodes: [0, 1] });
  // First the tree (written even on a conflict), then the conflicted paths, then an empty field.
  const fields = result.stdout.split('\0');
  const tree = fields[0] ?? '';
  if (!fullSha.test(tree)) {
    // Status 1 without a tree is a failure too (an unknown commit, say).
    throw new MiyabiError(ErrorCodes.GitCommandFailed, `git merge-tree in ${repo}: ${result.stderr.trim() || 'no tree written'}`);
  }
  if (result.exitCode === 0) return { tree };
  const end = fields.indexOf('', 1);
  return { files: fields.slice(1, end < 0 ? undefined : end) };
}

interface Author {
  name: string;
  email: string;
  /** git's internal format, `<seconds> <±hhmm>`. */
  date: string;
}

async function commitTree(repo: string, tree: string, parents: readonly string[], message: string, author?: Author): Promise<string> {
  const env = author && { GIT_AUTHOR_NAME: author.name, GIT_AUTHOR_EMAIL: author.email, GIT_AUTHOR_DATE: author.date };
  const args = [...COMMIT_CONFIG, 'commit-tree', '--no-gpg-sign', ...parents.flatMap((parent) => ['-p', parent]), '-F', '-', tree];
  const { stdout } = await gitRun(args, repo, { input: message.endsWith('\n') ? message : `${message}\n`, ...(env && { env }) });
  return stdout.trim();
}

/** A commit of all `parents` (in order), or the conflict that prevents it. No worktree is touched. */
export async function mergeCommitOf(repo: string, parents: readonly Head[], message: string): Promise<MergeCommitResult> {
  const [first, ...rest] = parents;
  if (first === undefined) throw invalid('a merge commit needs at least one parent');
  for (const parent of parents) {
    if (!fullSha.test(parent.sha)) throw invalid(`parent ${parent.ref} must be given as a full sha, not ${JSON.stringify(parent.sha)}`);
  }
  if (rest.length === 0) return { sha: first.sha };
  let merged = first.sha;
  for (const [index, parent] of rest.entries()) {
    const result = await mergeTree(repo, merged, parent.sha);
    if ('files' in result) return { conflict: { files: result.files, ours: parents.slice(0, index + 1), theirs: parent } };
    const last = index === rest.length - 1;
    // Between steps, an unreferenced commit of the two, so the next merge finds its merge base.
    merged = last
      ? await commitTree(repo, result.tree, parents.map((p) => p.sha), message)
      : await commitTree(repo, result.tree, [merged, parent.sha], 'miyabi-orchestra: intermediate merge\n');
  }
  return { sha: merged };
}

/** Merges `head` into branch `base` exactly once (see the contract at the top of this file). */
export async function mergeIntoBranch(repo: string, options: MergeIntoBranchOptions): Promise<MergeIntoBranchResult> {
  branchRef(options.base);
  branchRef(options.head);
  if (!fullSha.test(options.headSha)) throw invalid(`headSha must be a full sha, not ${JSON.stringify(options.headSha)}`);
  if (!/^[A-Za-z0-9-]+: \S[^\n\r]*$/.test(options.trailer)) {
    throw invalid(`the trailer must be one "Key: value" line, not ${JSON.stringify(options.trailer)}`);
  }
  if (!['merge', 'squash', 'rebase'].includes(options.method)) throw invalid(`unknown merge method ${JSON.stringify(options.method)}`);
  const first = await mergeOnce(repo, options);
  if (first !== 'moved') return first;
  const second = await mergeOnce(repo, options);
  if (second !== 'moved') return second;
  return { refused: `base branch ${options.base} moved twice while ${options.head} was merged into it`, reason: 'base_moved' };
}

async function mergeOnce(repo: string, options: MergeIntoBranchOptions): Promise<MergeIntoBranchResult | 'moved'> {
  const { base, head, headSha, method, trailer } = options;
  const baseSha = await branchHead(repo, base);
  if (baseSha === undefined) throw invalid(`there is no branch ${base} in ${repo}`);
  const done = await commitWithTrailer(repo, baseSha, trailer);
  if (done !== undefined) return { sha: done, already: true };
  const actual = await branchHead(repo, head);
  if (actual !== headSha) return { headChanged: actual ?? null };
  if (await isAncestor(repo, headSha, baseSha)) return { sha: baseSha, already: true };

  const ours = { ref: base, sha: baseSha };
  const theirs = { ref: head, sha: headSha };
  let next: string;
  if (method === 'rebase') {
    const replayed = await replay(repo, baseSha, headSha, trailer);
    if ('files' in replayed) return { conflict: { files: replayed.files, ours, theirs, commit: replayed.commit } };
    if (replayed.sha === baseSha) return { sha: baseSha, already: true }; // nothing but merges to replay
    next = replayed.sha;
  } else {
    const merged = await mergeTree(repo, baseSha, headSha);
    if ('files' in merged) return { conflict: { files: merged.files, ours, theirs } };
    const parents = method === 'merge' ? [baseSha, headSha] : [baseSha];
    next = await commitTree(repo, merged.tree, parents, withTrailer(options.message, trailer));
  }
  const published = await publish(repo, base, next, baseSha);
  return published === 'done' ? { sha: next, already: false } : published;
}

/** The newest of the last first-parent commits of `tip` whose message has the `trailer` line. */
async function commitWithTrailer(repo: string, tip: string, trailer: string): Promise<string | undefined> {
  const out = await git(
    ['-c', 'log.showSignature=false', 'log', '--first-parent', `--max-count=${TRAILER_SEARCH_DEPTH}`, '--format=%H%x00%B%x00', tip, '--'],
    repo,
  );
  const fields = out.split('\0');
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const body = fields[i + 1] ?? '';
    if (body.split('\n').some((line) => line.trim() === trailer)) return (fields[i] ?? '').trim();
  }
  return undefined;
}

/**
 * Head's own commits (not merges), oldest first, applied one by one on top of base. Each is a
 * cherry-pick done by merge-tree: a stand-in commit with the new tip's tree and the picked
 * commit's parent as its parent makes that parent the merge base (git 2.39 has no
 * `merge-tree --merge-base`).
 */
async function replay(
  repo: string,
  baseSha: string,
  headSha: string,
  trailer: string,
): Promise<{ sha: string } | { files: string[]; commit: string }> {
  const format = '--format=%H%x00%P%x00%an%x00%ae%x00%ad%x00%B%x00';
  const out = await git(
    ['-c', 'log.showSignature=false', 'log', '--reverse', '--no-merges', '--date=raw', format, `${baseSha}..${headSha}`, '--'],
    repo,
  );
  const fields = out.split('\0');
  const commits: { sha: string; parent: string; author: Author; message: string }[] = [];
  for (let i = 0; i + 5 < fields.length; i += 6) {
    const [sha = '', parentList = '', name = '', email = '', date = '', message = ''] = fields.slice(i, i + 6);
    const parent = parentList.trim().split(' ')[0] ?? '';
    if (parent === '') throw invalid(`${sha.trim()} has no parent: ${headSha} and ${baseSha} share no history`);
    commits.push({ sha: sha.trim(), parent, author: { name, email, date }, message });
  }
  let tip = baseSha;
  let tipTree = (await git(['rev-parse', `${baseSha}^{tree}`], repo)).trim();
  for (const [index, commit] of commits.entries()) {
    const standIn = await commitTree(repo, tipTree, [commit.parent], 'miyabi-orchestra: replay base\n');
    const merged = await mergeTree(repo, standIn, commit.sha);
    if ('files' in merged) return { files: merged.files, commit: commit.sha };
    const last = index === commits.length - 1;
    tip = await commitTree(repo, merged.tree, [tip], last ? withTrailer(commit.message, trailer) : commit.message, commit.author);
    tipTree = merged.tree;
  }
  return { sha: tip };
}

/** Moves branch `base` from `old` to `next`; see the contract for a base that is checked out. */
async function publish(
  repo: string,
  base: string,
  next: string,
  old: string,
): Promise<'done' | 'moved' | { refused: string; reason: 'base_dirty' }> {
  const dir = await worktreeOf(repo, base);
  if (dir === undefined) {
    try {
      await git([...COMMIT_CONFIG, 'update-ref', '-m', 'miyabi-orchestra: merge', branchRef(base), next, old], repo);
      return 'done';
    } catch (error) {
      if ((await branchHead(repo, base)) !== old) return 'moved';
      throw error;
    }
  }
  if (!(await isClean(dir))) {
    return { refused: `base branch ${base} is checked out in ${dir} with uncommitted changes`, reason: 'base_dirty' };
  }
  if ((await branchHead(repo, base)) !== old) return 'moved';
  try {
    await git([...COMMIT_CONFIG, ...QUIET_CONFIG, 'merge', '--ff-only', '--quiet', '--no-stat', next], dir);
    return 'done';
  } catch (error) {
    if ((await branchHead(repo, base)) !== old) return 'moved';
    // Untracked files in the way, typically; git's message says which.
    const why = (error as Error).message;
    return { refused: `base branch ${base} is checked out in ${dir} and cannot be advanced: ${why}`, reason: 'base_dirty' };
  }
}
