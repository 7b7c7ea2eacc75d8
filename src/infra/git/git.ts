/**
 * Running git: every call an argv array (never a shell string) in a directory of the repository,
 * with `GIT_TERMINAL_PROMPT=0` (a credential prompt fails instead of hanging), `LC_ALL=C` (so
 * messages can be matched), without inherited GIT_DIR-style variables and without an identity
 * taken from the environment (commits the orchestra makes carry its own, see `COMMIT_CONFIG`).
 *
 * - `git(args, cwd)` resolves with stdout and rejects with `git_command_failed` naming the command.
 * - `gitRun(args, cwd, options)` is the same with the exit status as data (`okExitCodes`), extra
 *   environment variables and text on stdin.
 * A git refusing to wait for another git's lock file is retried a few times, both ways.
 */
import { execFile } from 'node:child_process';
import { ErrorCodes, MiyabiError } from '../../errors.ts';

// Not execa: this runs in the pane runner too, where importing execa costs about 190 ms of the
// time to replace a dead agent.
const INHERITED_GIT_VARIABLES = [
  'GIT_DIR',
  'GIT_WORK_TREE',
  'GIT_INDEX_FILE',
  'GIT_COMMON_DIR',
  'GIT_AUTHOR_NAME',
  'GIT_AUTHOR_EMAIL',
  'GIT_AUTHOR_DATE',
  'GIT_COMMITTER_NAME',
  'GIT_COMMITTER_EMAIL',
  'GIT_COMMITTER_DATE',
];

/** Who the orchestra's own commits (merges, replays, rebases) are made by. */
export const ORCHESTRA_IDENTITY = { name: 'miyabi-orchestra', email: 'miyabi-orchestra@localhost' } as const;

/** Leading options of every git call that writes commits: our identity, never the user's, unsigned. */
export const COMMIT_CONFIG: readonly string[] = [
  '-c',
  `user.name=${ORCHESTRA_IDENTITY.name}`,
  '-c',
  `user.email=${ORCHESTRA_IDENTITY.email}`,
  '-c',
  'commit.gpgsign=false',
];

/** Leading options of calls that touch a working tree on the orchestra's behalf: no hooks, no rerere. */
export const QUIET_CONFIG: readonly string[] = ['-c', 'core.hooksPath=/dev/null', '-c', 'rerere.enabled=false'];

export interface GitRunOptions {
  /** Exit statuses that resolve instead of rejecting. Default `[0]`. */
  okExitCodes?: readonly number[];
  /** Variables added to the environment (e.g. GIT_AUTHOR_DATE of a replayed commit). */
  env?: Readonly<Record<string, string>>;
  /** Written to git's stdin. */
  input?: string;
}

export interface GitRunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

function gitEnv(extra: Readonly<Record<string, string>> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' };
  for (const name of INHERITED_GIT_VARIABLES) delete env[name];
  return { ...env, ...extra };
}

/** `git <first two words>` of an argv, skipping the leading `-c key=value` pairs. */
export function gitCommandName(args: readonly string[]): string {
  let start = 0;
  while (args[start] === '-c' || args[start] === '--git-dir') start += 2;
  return `git ${args.slice(start, start + 2).join(' ')}`;
}

/** Runs git in `cwd`; resolves with stdout, rejects with `git_command_failed` naming the command. */
export async function git(args: readonly string[], cwd: string): Promise<string> {
  return (await gitRun(args, cwd)).stdout;
}

/** Runs git in `cwd`; the exit statuses in `okExitCodes` resolve, any other rejects. */
export async function gitRun(args: readonly string[], cwd: string, options: GitRunOptions = {}): Promise<GitRunResult> {
  // Runners of different issues change one repository's worktree list from several processes at
  // once, and git refuses to wait for its lock files: a lock held by another git is retried.
  for (let attempt = 1; ; attempt += 1) {
    const result = await gitOnce(args, cwd, options);
    const ok = (options.okExitCodes ?? [0]).includes(result.exitCode);
    if (ok) return result;
    const locked = /\.lock'?: File exists|could not lock|Unable to create .*\.lock/i.test(result.stderr);
    if (!locked || attempt >= LOCK_RETRIES) {
      const why = result.stderr.trim() || result.error?.message || `exit status ${result.exitCode}`;
      throw new MiyabiError(ErrorCodes.GitCommandFailed, `${gitCommandName(args)} in ${cwd}: ${why}`, {
        cause: result.error,
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 20 * attempt + Math.random() * 30));
  }
}

const LOCK_RETRIES = 8;

function gitOnce(args: readonly string[], cwd: string, options: GitRunOptions): Promise<GitRunResult & { error?: Error }> {
  return new Promise((resolve) => {
    const child = execFile(
      'git',
      [...args],
      { cwd, env: gitEnv(options.env), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (!error) return resolve({ stdout, stderr, exitCode: 0 });
        // A number when git exited; a string (ENOENT, …) or null (a signal) when it did not run or finish.
        const exitCode = typeof error.code === 'number' ? error.code : -1;
        resolve({ stdout, stderr, exitCode, error });
      },
    );
    child.stdin?.on('error', () => {}); // git may exit before reading all of it; its status says why
    child.stdin?.end(options.input);
  });
}
