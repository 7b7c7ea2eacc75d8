/**
 * The repository's git side, when a test gives the fake a real bare repository (`origin`, the
 * one the workspace's `origin` remote points at): branch heads are read from it, whether a pull
 * request merges cleanly is a `git merge-tree` of its base and head, and a merge is made there as
 * GitHub makes it — `merge` (a merge commit), `squash` (one commit on the base), `rebase` (the
 * head's commits replayed on the base, merges left out) — in a temporary worktree of the bare
 * repository, the base branch then moved by a compare-and-swap of its ref. Commits are GitHub's
 * (`GitHub <noreply@github.com>`, unsigned). Synchronous: the fake answers one request at a time,
 * and a merge is a handful of git commands on a small repository.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type MergeMethod = 'merge' | 'squash' | 'rebase';

const IDENTITY = ['-c', 'user.name=GitHub', '-c', 'user.email=noreply@github.com', '-c', 'commit.gpgsign=false', '-c', 'core.hooksPath=/dev/null'];

function run(args: string[], options: { gitDir?: string; cwd?: string } = {}): { status: number; stdout: string; stderr: string } {
  const where = options.gitDir === undefined ? [] : ['--git-dir', options.gitDir];
  const result = spawnSync('git', [...IDENTITY, ...where, ...args], { cwd: options.cwd, encoding: 'utf8' });
  if (result.error) throw result.error;
  return { status: result.status ?? -1, stdout: result.stdout.trim(), stderr: result.stderr.trim() };
}

function must(args: string[], options: { gitDir?: string; cwd?: string }): string {
  const result = run(args, options);
  if (result.status !== 0) throw new Error(`fake GitHub: git ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

/** The sha `branch` is at in the bare repository, or undefined when there is no such branch. */
export function originHead(origin: string, branch: string): string | undefined {
  const result = run(['rev-parse', '--verify', '--quiet', `refs/heads/${branch}^{commit}`], { gitDir: origin });
  return result.status === 0 ? result.stdout : undefined;
}

/** Whether `head` merges into `base` without a conflict (false when either is missing). */
export function mergesCleanly(origin: string, base: string, head: string): boolean {
  const [baseSha, headSha] = [originHead(origin, base), originHead(origin, head)];
  if (baseSha === undefined || headSha === undefined) return false;
  return run(['merge-tree', '--write-tree', '--name-only', '--no-messages', baseSha, headSha], { gitDir: origin }).status === 0;
}

/**
 * Puts `headSha` on branch `base` by `method`; answers the commit the base branch ends at, or
 * `conflict` (nothing moved). `message`: the merge or squash commit's (a rebase keeps each commit's own).
 */
export function mergeInOrigin(origin: string, request: { base: string; headSha: string; method: MergeMethod; message: string }): { sha: string } | { conflict: true } {
  const baseSha = originHead(origin, request.base);
  if (baseSha === undefined) throw new Error(`fake GitHub: the base branch ${request.base} is not in ${origin}`);
  const scratch = mkdtempSync(join(tmpdir(), 'fake-github-merge-'));
  const worktree = join(scratch, 'worktree');
  must(['worktree', 'add', '--quiet', '--detach', worktree, baseSha], { gitDir: origin });
  try {
    const here = { cwd: worktree };
    let clean = true;
    if (request.method === 'merge') {
      clean = run(['merge', '--no-ff', '--quiet', '-m', request.message, request.headSha], here).status === 0;
    } else if (request.method === 'squash') {
      clean = run(['merge', '--squash', '--quiet', request.headSha], here).status === 0;
      if (clean) must(['commit', '--quiet', '--allow-empty', '-m', request.message], here);
    } else {
      const commits = must(['rev-list', '--reverse', '--no-merges', `${baseSha}..${request.headSha}`], here).split('\n').filter(Boolean);
      for (const commit of commits) {
        if (run(['cherry-pick', '--allow-empty', '--keep-redundant-commits', commit], here).status !== 0) {
          clean = false;
          break;
        }
      }
    }
    if (!clean) return { conflict: true };
    const sha = must(['rev-parse', 'HEAD'], here);
    must(['update-ref', `refs/heads/${request.base}`, sha, baseSha], { gitDir: origin });
    return { sha };
  } finally {
    run(['worktree', 'remove', '--force', '--force', worktree], { gitDir: origin });
    rmSync(scratch, { recursive: true, force: true });
    run(['worktree', 'prune'], { gitDir: origin });
  }
}
