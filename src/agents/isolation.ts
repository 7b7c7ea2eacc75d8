/**
 * Least privilege for an agent, where the host allows it (`agents.<role>.isolation`): the argv
 * the runner executes instead of the agent's own, still without a shell.
 *
 *   user      `runuser -u <user> --` when the runner is root (it keeps the environment and sets
 *             HOME, USER, LOGNAME to the user's), else `sudo -n -u <user> --preserve-env=<names> --`
 *             (sudo resets the environment but for the names listed; `-n`: never a password prompt,
 *             a missing sudoers rule fails the task at once). The agent can then neither read the
 *             orchestra's data directory, run file and secrets (modes 0700/0600) nor signal its
 *             processes.
 *   systemd   `systemd-run --user --scope --quiet --collect -p MemoryMax=… -p CPUQuota=… -p TasksMax=… --`:
 *             a transient scope with those limits (needs a systemd user session; with `user`, the
 *             agent user's own, e.g. `loginctl enable-linger <user>`).
 *   sandbox   `unshare` user, mount and PID namespaces that hide the data directory but the agent's
 *             worktree and task files (./sandbox.ts): with `auto` (the default) where the host allows
 *             it, with `required` or not at all; innermost, so it also holds under the other two.
 *
 * What this does not do: confine the network, or what the agent may do in its worktree and with
 * the credentials it is given (an agent with the repository's push credentials can push).
 */

import { sandboxedArgv, type SandboxMode, type SandboxPlan } from './sandbox.ts';

export interface AgentIsolation {
  user?: string;
  systemd?: { memoryMax?: string; cpuQuota?: string; tasksMax?: number };
  /** Default when unset: `off` here (the caller's choice); the config's default is `auto`. */
  sandbox?: SandboxMode;
  /** The util-linux `unshare` binary. Default: `unshare` on PATH. */
  unshare?: string;
}

const OWN_TO_THE_USER = new Set(['HOME', 'USER', 'LOGNAME', 'SHELL', 'MAIL']);

export interface IsolationHost {
  /** The runner runs as root: `runuser` needs no rule; `sudo` would. */
  isRoot: boolean;
}

export function currentHost(): IsolationHost {
  return { isRoot: typeof process.getuid === 'function' && process.getuid() === 0 };
}

/**
 * The argv that runs `argv` with `isolation`; `envNames` are the variables the agent must keep
 * (sudo only); `sandbox`, what the sandbox hides and keeps when the agent runs in one.
 */
export function isolatedArgv(
  argv: readonly string[],
  isolation: AgentIsolation | undefined,
  envNames: readonly string[],
  host: IsolationHost = currentHost(),
  sandbox?: SandboxPlan,
): string[] {
  const inner = sandbox === undefined ? [...argv] : sandboxedArgv(argv, sandbox, isolation?.unshare);
  if (!isolation) return inner;
  const scope: string[] = [];
  if (isolation.systemd) {
    const { memoryMax, cpuQuota, tasksMax } = isolation.systemd;
    scope.push('systemd-run', '--user', '--scope', '--quiet', '--collect');
    if (memoryMax !== undefined) scope.push('-p', `MemoryMax=${memoryMax}`);
    if (cpuQuota !== undefined) scope.push('-p', `CPUQuota=${cpuQuota}`);
    if (tasksMax !== undefined) scope.push('-p', `TasksMax=${tasksMax}`);
    scope.push('--');
  }
  const user: string[] = [];
  if (isolation.user !== undefined) {
    if (host.isRoot) user.push('runuser', '-u', isolation.user, '--');
    else {
      // The user's own HOME and names, not the orchestra's (-H).
      const kept = envNames.filter((name) => !OWN_TO_THE_USER.has(name));
      user.push('sudo', '-n', '-H', '-u', isolation.user, ...(kept.length > 0 ? [`--preserve-env=${kept.join(',')}`] : []), '--');
    }
  }
  return [...user, ...scope, ...inner];
}
