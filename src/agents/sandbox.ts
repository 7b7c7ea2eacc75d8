/**
 * The agent's sandbox (`agents.<role>.isolation.sandbox`): Linux user, mount and PID namespaces
 * made with util-linux `unshare`, so that an agent run as the orchestra's own Unix user still
 * cannot read the orchestra's secrets nor signal its processes.
 *
 *   unshare --user --map-root-user --mount --pid --fork --kill-child --mount-proc -- /bin/sh -c SCRIPT …
 *
 * In the new namespaces the script (which is PID 1 there, and reaps):
 * 1. opens each path the agent keeps (its worktree, its task directory, the repository's git
 *    directory) while it is still visible;
 * 2. covers each hidden path with an empty tmpfs: the data directory (secrets, run file, NATS
 *    store, logs, tracker, other tasks and worktrees), the orchestra's tmux socket directory (a
 *    tmux client there could run commands outside the sandbox) and the user's runtime directory
 *    (the systemd and D-Bus user sockets: `systemd-run --user` would, too);
 * 3. binds each kept path back at its own path (from the open descriptor: the path now leads into
 *    the tmpfs);
 * 4. runs the agent in a nested user namespace that maps it back to its own user id: it has no
 *    capability over the mount namespace, so it cannot unmount the tmpfs to see what is under it,
 *    and a namespace it makes itself gets the mounts locked together (the kernel's rule).
 *
 * `/proc` is the new PID namespace's: the agent sees only its own processes, so it can neither
 * signal the orchestra nor reach its files through `/proc/<pid>/root`. The runner still kills the
 * whole tree: `unshare` leads the process group it started (a group kill reaches every process
 * in the namespace), waits for its child while SIGTERM passes, and `--kill-child` ends PID 1,
 * with it every process of the namespace, when `unshare` itself dies.
 *
 * The agent's argv follows the script's own arguments and is run as `"$@"`, never parsed by the
 * shell. An agent that dies by a signal makes PID 1 exit 128 + the signal (PID 1 cannot die of a
 * signal sent from inside), so in the sandbox such an exit code reads as that signal.
 *
 * What it does not hide: the network (the NATS port: an agent has no credentials for it), files
 * outside the hidden paths that the user can read, and what the agent is given.
 */
import { execFile } from 'node:child_process';
import { constants as osConstants, tmpdir } from 'node:os';
import { mkdtemp, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';

/** `auto`: used where the host allows it; `required`: agents do not run without it; `off`. */
export type SandboxMode = 'auto' | 'required' | 'off';

export const DEFAULT_UNSHARE = 'unshare';

/** What the sandbox hides and keeps, as absolute paths. */
export interface SandboxPlan {
  hidden: string[];
  kept: string[];
}

const SCRIPT = [
  'set -eu',
  'u=$1; k=$2; shift 2; i=3',
  'while [ "$k" -gt 0 ]; do eval "exec $i<\\"\\$1\\"; keep$i=\\$1"; i=$((i+1)); k=$((k-1)); shift; done',
  'c=$1; shift',
  'while [ "$c" -gt 0 ]; do mount -t tmpfs -o size=16m,mode=0755 miyabi-sandbox "$1"; c=$((c-1)); shift; done',
  'j=3',
  'while [ "$j" -lt "$i" ]; do eval "p=\\$keep$j"; mkdir -p "$p"; mount --no-canonicalize --bind "/proc/self/fd/$j" "$p"; eval "exec $j<&-"; j=$((j+1)); done',
  'read -r _ uid _ < /proc/self/uid_map; read -r _ gid _ < /proc/self/gid_map',
  'set +e',
  '"$u" --user --map-user="$uid" --map-group="$gid" -- "$@"',
  'exit $?',
].join('\n');

/** The argv that runs `argv` in the sandbox `plan` (./sandbox.ts). */
export function sandboxedArgv(argv: readonly string[], plan: SandboxPlan, unshare = DEFAULT_UNSHARE): string[] {
  return [
    unshare,
    '--user',
    '--map-root-user',
    '--mount',
    '--pid',
    '--fork',
    '--kill-child',
    '--mount-proc',
    '--',
    '/bin/sh',
    '-c',
    SCRIPT,
    'miyabi-sandbox',
    unshare,
    String(plan.kept.length),
    ...plan.kept,
    String(plan.hidden.length),
    ...plan.hidden,
    ...argv,
  ];
}

function isInside(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/** Each path once, and none inside another of the list (its parent already covers or keeps it). */
function outermost(paths: readonly string[]): string[] {
  const sorted = [...new Set(paths.map((path) => resolve(path)))].sort((a, b) => a.length - b.length);
  return sorted.filter((path, index) => !sorted.slice(0, index).some((outer) => isInside(path, outer)));
}

async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}

/** The repository's git directory a worktree needs (objects, refs): `<repo>/.git`; undefined for a repository's own checkout. */
export async function gitCommonDir(worktree: string): Promise<string | undefined> {
  const dotGit = await readFile(join(worktree, '.git'), 'utf8').catch(() => undefined);
  const gitDir = dotGit?.match(/^gitdir: (.+)$/m)?.[1]?.trim();
  if (gitDir === undefined) return undefined;
  const absolute = resolve(worktree, gitDir);
  const common = (await readFile(join(absolute, 'commondir'), 'utf8').catch(() => undefined))?.trim();
  return common === undefined ? absolute : resolve(absolute, common);
}

export interface PlanInput {
  dataDir: string;
  worktree: string;
  taskDir: string;
  /** The runner's environment: where its tmux socket and runtime directory are. */
  env: NodeJS.ProcessEnv;
  uid?: number;
}

/** What an agent's sandbox hides (those that exist) and keeps (those inside what is hidden). */
export async function sandboxPlan(input: PlanInput): Promise<SandboxPlan> {
  const uid = input.uid ?? process.getuid?.() ?? 0;
  const candidates = [
    input.dataDir,
    join(input.env.TMUX_TMPDIR || '/tmp', `tmux-${uid}`),
    input.env.XDG_RUNTIME_DIR || `/run/user/${uid}`,
  ];
  const hidden: string[] = [];
  for (const path of outermost(candidates)) if (await isDirectory(path)) hidden.push(path);
  const common = await gitCommonDir(input.worktree);
  const kept = outermost([input.worktree, input.taskDir, ...(common === undefined ? [] : [common])]).filter((path) =>
    hidden.some((dir) => isInside(path, dir)),
  );
  return { hidden, kept };
}

/** Whether the sandbox works on this host, and if not, why (the first line `unshare` said). */
export type SandboxProbe = { ok: true } | { ok: false; reason: string };

const probes = new Map<string, Promise<SandboxProbe>>();

/**
 * Runs the sandbox once for real (a file hidden, one kept, a PID namespace) with `unshare`; the
 * answer is kept for the life of the process, per binary.
 */
export function probeSandbox(unshare = DEFAULT_UNSHARE): Promise<SandboxProbe> {
  let probe = probes.get(unshare);
  if (probe === undefined) {
    probe = runProbe(unshare);
    probes.set(unshare, probe);
  }
  return probe;
}

async function runProbe(unshare: string): Promise<SandboxProbe> {
  const root = await mkdtemp(join(tmpdir(), 'miyabi-sandbox-probe-'));
  try {
    const hiddenFile = join(root, 'hidden', 'secret');
    const keptDir = join(root, 'hidden', 'kept');
    await mkdir(keptDir, { recursive: true });
    await writeFile(hiddenFile, 'secret\n');
    await writeFile(join(keptDir, 'file'), 'kept\n');
    const check = 'test ! -e "$1" && test -f "$2" && test "$$" -lt 100 || { echo "the sandbox did not hide, keep or isolate as it should" >&2; exit 1; }';
    const argv = sandboxedArgv(['/bin/sh', '-c', check, 'probe', hiddenFile, join(keptDir, 'file')], { hidden: [dirname(hiddenFile)], kept: [keptDir] }, unshare);
    return await new Promise<SandboxProbe>((done) => {
      execFile(argv[0]!, argv.slice(1), { timeout: 10_000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } }, (error, _stdout, stderr) => {
        if (!error) return done({ ok: true });
        const said = stderr.trim().split('\n').find((line) => line.trim() !== '');
        const code = (error as NodeJS.ErrnoException).code;
        done({ ok: false, reason: code === 'ENOENT' ? `${unshare} not found (util-linux)` : `${unshare}: ${said ?? error.message}` });
      });
    });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** In the sandbox, PID 1 reports an agent killed by signal n as exit code 128 + n: the signal's name, or undefined. */
export function signalOfExitCode(exitCode: number | undefined): string | undefined {
  if (exitCode === undefined || exitCode <= 128) return undefined;
  return Object.entries(osConstants.signals).find(([, number]) => number === exitCode - 128)?.[0];
}
