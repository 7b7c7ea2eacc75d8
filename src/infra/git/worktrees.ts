/**
 * Git worktrees of one target repository, one per name, all under one root directory:
 * `<rootDir>/<name>` on its own branch. Plain names, branches and paths; nothing about issues.
 *
 * The contract:
 * - `ensure(name, branch)` returns the worktree of that name, creating it (and the branch, from
 *   `baseRef`, without upstream tracking) when missing. An existing one is reused as it is, so
 *   work committed there by an earlier user is still there. A worktree of that name on another
 *   branch is an error (`worktree_conflict`); so is a branch checked out elsewhere (git's rule:
 *   two worktrees never share a branch).
 * - `remove(name)` removes the worktree (`git worktree remove --force --force`: uncommitted
 *   changes are lost, commits stay on the branch unless `deleteBranch`), and prunes.
 * - `releaseIndexLock(name)` removes the worktree's `index.lock`, which a git killed mid-write (an
 *   agent stopped in a `git add`) leaves behind and every later git there then refuses. Only for a
 *   caller that knows no git of its own runs there: git cannot tell a stale lock from a held one.
 * - `list()` is only ours: the repository's worktrees directly under `rootDir`.
 * - `reconcile(keep)` removes each of ours not in `keep` (stale ones of a previous run), the
 *   directories under `rootDir` git no longer knows (an interrupted add), and prunes; it returns
 *   the names removed.
 * - Calls for one name run one at a time (an in-process chain per name), so two callers never
 *   create or remove the same worktree at once.
 *
 * Every git call goes through `git()` of ./git.ts: an argv array run in the repository with
 * `GIT_TERMINAL_PROMPT=0` (a credential prompt fails instead of hanging) and without inherited
 * GIT_DIR-style variables; lock files held by another git are retried.
 */
import { mkdir, readdir, readFile, realpath, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { ErrorCodes, MiyabiError } from '../../errors.ts';
import { git } from './git.ts';

export { git } from './git.ts';

export interface Repository {
  /** The working tree's top directory, symlinks resolved. */
  dir: string;
}

function notARepository(dir: string, why?: string, cause?: unknown): MiyabiError {
  return new MiyabiError(ErrorCodes.NotAGitRepository, `${dir} is not a git repository${why ? ` (${why})` : ''}`, {
    cause,
  });
}

/** The repository whose top directory is `dir`; `not_a_git_repository` otherwise. */
export async function openRepository(dir: string): Promise<Repository> {
  const isDir = await stat(dir).then((s) => s.isDirectory(), () => false);
  if (!isDir) throw notARepository(dir, 'no such directory');
  let top: string;
  try {
    top = (await git(['rev-parse', '--show-toplevel'], dir)).trim();
  } catch (error) {
    throw notARepository(dir, undefined, error);
  }
  const [realTop, realDir] = await Promise.all([realpath(top), realpath(dir)]);
  if (realTop !== realDir) throw notARepository(dir, `it is a directory inside ${realTop}`);
  return { dir: realTop };
}

/**
 * A repository of our own at `dir`, made when missing: `git init` on `main` with one commit, so
 * branches and worktrees have a base. An existing repository is left as it is.
 */
export async function ensureScratchRepository(dir: string): Promise<Repository> {
  const exists = await stat(path.join(dir, '.git')).then(() => true, () => false);
  if (!exists) {
    await mkdir(dir, { recursive: true });
    await git(['init', '--quiet', '--initial-branch=main'], dir);
    await writeFile(path.join(dir, 'README.md'), '# Scratch repository\n\nThe miyabi-orchestra demo works here: one branch and worktree per issue.\n');
    await git(['add', 'README.md'], dir);
    await git(['-c', 'user.name=miyabi-orchestra', '-c', 'user.email=miyabi-orchestra@localhost', 'commit', '--quiet', '-m', 'Initial commit'], dir);
  }
  return openRepository(dir);
}

export interface WorktreeManagerOptions {
  /** The target repository (its top directory). */
  repoDir: string;
  /** Where the worktrees live, e.g. `<dataDir>/worktrees`; created if missing. */
  rootDir: string;
  /** What new branches start from. Default `HEAD` of the repository. */
  baseRef?: string;
  logger?: Logger;
}

export interface Worktree {
  name: string;
  path: string;
  branch: string;
  /** False when an existing worktree was reused. */
  created: boolean;
}

export interface WorktreeEntry {
  name: string;
  path: string;
  /** Short branch name; null on a detached HEAD. */
  branch: string | null;
  head: string | null;
  /** Registered, but its directory is gone. */
  prunable: boolean;
}

const namePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
/**
 * The lock of the repository's worktree administration (`.git/worktrees/`): a `worktree add` reads every
 * entry there, and one half-written by a concurrent add — or pruned under it — fails it ("failed to read
 * .git/worktrees/c/commondir"). Not a worktree name (those cannot hold '/'), so it never waits on one.
 */
const repositoryAdmin = '/repository';

function invalid(message: string): MiyabiError {
  return new MiyabiError(ErrorCodes.InvalidArgument, message);
}

/** `git worktree list --porcelain -z`: records of NUL-terminated fields, an empty field between records. */
export function parseWorktreeList(output: string): { path: string; branch: string | null; head: string | null; prunable: boolean }[] {
  const records: { path: string; branch: string | null; head: string | null; prunable: boolean }[] = [];
  let current: (typeof records)[number] | undefined;
  for (const field of output.split('\0')) {
    if (field.startsWith('worktree ')) {
      current = { path: field.slice('worktree '.length), branch: null, head: null, prunable: false };
      records.push(current);
    } else if (current && field.startsWith('HEAD ')) {
      current.head = field.slice('HEAD '.length);
    } else if (current && field.startsWith('branch ')) {
      current.branch = field.slice('branch '.length).replace(/^refs\/heads\//, '');
    } else if (current && (field === 'prunable' || field.startsWith('prunable '))) {
      current.prunable = true;
    }
  }
  return records;
}

export class WorktreeManager {
  private readonly locks = new Map<string, Promise<unknown>>();
  /** Counts the adds and removals this manager has finished: a listing taken before it moved may be stale. */
  private madeOrRemoved = 0;
  private ready: Promise<{ repo: string; root: string }> | undefined;

  constructor(private readonly options: WorktreeManagerOptions) {}

  /** The worktree `name` on `branch`, created if missing. */
  async ensure(name: string, branch: string): Promise<Worktree> {
    const { repo, root } = await this.init();
    checkName(name);
    // Every git call the add may need, at once: a worktree made for a task's start costs two rounds
    // of git (these, then the add), an existing one (every stage after the first) one.
    const made = this.madeOrRemoved;
    const [, listed, branchMade] = await Promise.all([checkBranch(branch, repo), this.listAll(), hasBranch(branch, repo)]);
    return this.locked(name, async () => {
      const worktreePath = path.join(root, name);
      // What this manager made or removed since the listing is the one change a caller here can miss.
      const fresh = this.madeOrRemoved === made;
      const records = fresh ? listed : await this.listAll();
      const existing = ours(records, root).find((entry) => entry.name === name);
      if (existing && !existing.prunable) {
        if (existing.branch !== branch) {
          throw new MiyabiError(
            ErrorCodes.WorktreeConflict,
            `worktree ${worktreePath} is on ${existing.branch ?? 'a detached HEAD'}, not ${branch}`,
          );
        }
        return { name, path: worktreePath, branch, created: false };
      }
      await this.locked(repositoryAdmin, async () => {
        // A registration whose directory is gone (this name's, or one holding the branch) fails the add.
        if (records.some((record) => record.prunable)) await git(['worktree', 'prune'], repo);
        await rm(worktreePath, { recursive: true, force: true }); // an interrupted add, never registered
        const add = (fresh ? branchMade : await hasBranch(branch, repo))
          ? ['worktree', 'add', worktreePath, branch]
          : ['worktree', 'add', '--no-track', '-b', branch, worktreePath, this.options.baseRef ?? 'HEAD'];
        await git(add, repo).finally(() => (this.madeOrRemoved += 1));
      });
      this.options.logger?.info({ worktree: name, branch, path: worktreePath }, 'worktree created');
      return { name, path: worktreePath, branch, created: true };
    });
  }

  /** Removes the worktree `name` (and its branch with `deleteBranch`); false if there was none. */
  async remove(name: string, options: { deleteBranch?: boolean } = {}): Promise<boolean> {
    const { repo, root } = await this.init();
    checkName(name);
    return this.locked(name, async () => {
      const worktreePath = path.join(root, name);
      const entry = (await this.list()).find((candidate) => candidate.name === name);
      const leftover = await this.locked(repositoryAdmin, async () => {
        try {
          if (entry && !entry.prunable) await git(['worktree', 'remove', '--force', '--force', worktreePath], repo);
          const left = await stat(worktreePath).then(() => true, () => false);
          await rm(worktreePath, { recursive: true, force: true });
          await git(['worktree', 'prune'], repo);
          if (options.deleteBranch && entry?.branch) await git(['branch', '-D', entry.branch], repo);
          return left;
        } finally {
          this.madeOrRemoved += 1;
        }
      });
      if (entry || leftover) this.options.logger?.info({ worktree: name, path: worktreePath }, 'worktree removed');
      return entry !== undefined || leftover;
    });
  }

  /** Removes the index lock of worktree `name` (see the contract above); true if there was one. */
  async releaseIndexLock(name: string): Promise<boolean> {
    const { root } = await this.init();
    checkName(name);
    const worktreePath = path.join(root, name);
    // `<worktree>/.git` names the worktree's own git directory, where its index and lock are.
    const pointer = await readFile(path.join(worktreePath, '.git'), 'utf8').catch(() => undefined);
    const gitDir = /^gitdir: (.+)$/m.exec(pointer ?? '')?.[1]?.trim();
    if (gitDir === undefined) return false;
    const lock = path.join(path.resolve(worktreePath, gitDir), 'index.lock');
    if (!(await stat(lock).then(() => true, () => false))) return false;
    await rm(lock, { force: true });
    this.options.logger?.warn({ worktree: name, lock }, 'index lock left by a git that was stopped: removed');
    return true;
  }

  /** Our worktrees: those of the repository directly under rootDir. */
  async list(): Promise<WorktreeEntry[]> {
    const { root } = await this.init();
    return ours(await this.listAll(), root);
  }

  /** Every worktree of the repository, ours or not. */
  private async listAll(): Promise<ReturnType<typeof parseWorktreeList>> {
    const { repo } = await this.init();
    return parseWorktreeList(await git(['worktree', 'list', '--porcelain', '-z'], repo));
  }

  /** Removes every worktree (and stray directory) under rootDir whose name is not in `keep`. */
  async reconcile(keep: ReadonlySet<string>): Promise<string[]> {
    const { root } = await this.init();
    const registered = (await this.list()).map((entry) => entry.name);
    const directories = (await readdir(root, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
    const stale = [...new Set([...registered, ...directories])].filter((name) => !keep.has(name)).sort();
    const removed: string[] = [];
    for (const name of stale) {
      if (!namePattern.test(name)) continue; // not one we could have made
      // A registered one whose directory vanished may already be pruned by an earlier remove.
      if ((await this.remove(name)) || registered.includes(name)) removed.push(name);
    }
    if (removed.length > 0) this.options.logger?.info({ removed }, 'stale worktrees removed');
    return removed;
  }

  private init(): Promise<{ repo: string; root: string }> {
    this.ready ??= (async () => {
      const { dir: repo } = await openRepository(this.options.repoDir);
      const baseRef = this.options.baseRef ?? 'HEAD';
      if (baseRef.startsWith('-')) throw invalid(`base ref ${JSON.stringify(baseRef)} cannot start with '-'`);
      await git(['rev-parse', '--verify', '--quiet', `${baseRef}^{commit}`], repo).catch((error: unknown) => {
        throw new MiyabiError(ErrorCodes.GitCommandFailed, `${baseRef} does not name a commit in ${repo}`, {
          cause: error,
        });
      });
      await mkdir(this.options.rootDir, { recursive: true });
      return { repo, root: await realpath(this.options.rootDir) };
    })();
    // A failed start is not cached: the next call tries again (the repository may appear).
    this.ready.catch(() => (this.ready = undefined));
    return this.ready;
  }

  private locked<T>(name: string, task: () => Promise<T>): Promise<T> {
    const run = (this.locks.get(name) ?? Promise.resolve()).then(task);
    const tail = run.catch(() => {});
    this.locks.set(name, tail);
    void tail.then(() => {
      if (this.locks.get(name) === tail) this.locks.delete(name);
    });
    return run;
  }
}

function ours(records: ReturnType<typeof parseWorktreeList>, root: string): WorktreeEntry[] {
  return records.filter((record) => path.dirname(record.path) === root).map((record) => ({ name: path.basename(record.path), ...record }));
}

async function hasBranch(branch: string, repo: string): Promise<boolean> {
  return git(['rev-parse', '--verify', '--quiet', `refs/heads/${branch}`], repo).then(
    () => true,
    () => false,
  );
}

function checkName(name: string): void {
  if (!namePattern.test(name)) {
    throw invalid(`worktree name ${JSON.stringify(name)} must be letters, digits, '.', '_' or '-' (not first)`);
  }
}

async function checkBranch(branch: string, repo: string): Promise<void> {
  const valid =
    !branch.startsWith('-') &&
    (await git(['check-ref-format', `refs/heads/${branch}`], repo).then(
      () => true,
      () => false,
    ));
  if (!valid) throw invalid(`${JSON.stringify(branch)} is not a valid branch name`);
}
