/**
 * An orchestra run as its operators run it, for the chaos suite and the soak: `up` on the
 * embedded default in a directory of its own (a git repository, a local issue directory, the
 * example agents), started again whenever it exits as systemd would (`Restart=always`, except
 * for exit 2: `RestartPreventExitStatus=2`), and the faults that strike it, each finding its
 * target in the process table.
 */
import { execa, type ResultPromise } from 'execa';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processAlive } from '../../src/infra/os/process.ts';
import { cliPath, repoRoot } from '../support/cli.ts';
import { gitRepo } from '../support/orchestra.ts';
import type { IssueOutcome } from './invariants.ts';
import type { ProcessFaultKind } from './plan.ts';
import { isAgentProgram, isNatsServer, isRunner, listProcesses, type ProcessInfo } from '../support/processes.ts';

export const NO_TARGET = 'no target at that moment';

export class SupervisedUp {
  #up: ResultPromise | undefined;
  restarts = 0;
  /** How each exit that `keepRunning` restarted ended: a restart the schedule did not cause says why here. */
  readonly exits: string[] = [];
  /** Each line `up` writes to its stdout (the journal's copy of its log), when asked for. */
  onStdoutLine: ((line: string) => void) | undefined;

  private constructor(
    readonly runDir: string,
    readonly dataDir: string,
    readonly repo: string,
    readonly issuesDir: string,
    readonly configPath: string,
    readonly socket: string | undefined,
    readonly env: Record<string, string>,
  ) {}

  /** `config` replaces sections of the default one (`issues` for another tracker); `env` is added to the CLI's (a token). */
  static async create(options: {
    name: string;
    backend: 'tmux' | 'process';
    config?: Record<string, unknown>;
    env?: Record<string, string>;
  }): Promise<SupervisedUp> {
    const runDir = await mkdtemp(join(tmpdir(), `miyabi-${options.name}-`));
    const dataDir = join(runDir, 'data');
    const repo = join(runDir, 'repo');
    const issuesDir = join(runDir, 'issues');
    const socket = options.backend === 'tmux' ? `miyabi-${options.name}-${process.pid}-${Date.now()}` : undefined;
    await mkdir(repo);
    await mkdir(issuesDir);
    await gitRepo(repo);
    const agent = (role: string) => ({ command: ['node', join(repoRoot, `examples/agents/${role}.mjs`)], min: 1, max: 2 });
    const configPath = join(runDir, `${options.name}.yaml`);
    await writeFile(
      configPath,
      JSON.stringify({
        dataDir,
        http: { enabled: false },
        issues: { local: { dir: issuesDir, pollIntervalMs: 500 } },
        panes: { backend: options.backend, ...(socket ? { socket } : {}), heartbeatIntervalMs: 500, missedHeartbeats: 6 },
        workspace: { repo, taskFilesRetentionHours: 0 },
        health: { checkIntervalMs: 1000, reportHeartbeatMs: 1000 },
        bus: { ackWaitMs: 5000 },
        // Each fault may cost the stage it strikes an attempt (a killed runner or agent is a failed
        // run); a budget above any CI-sized schedule's fault count keeps faults alone from failing
        // an issue, so "every issue done" tests recovery, not how the seed spread its faults.
        workflow: { retry: { initialDelayMs: 200, maxAttempts: 12 } },
        agents: { codegen: agent('codegen'), pr: agent('pr') },
        ...options.config,
      }),
    );
    return new SupervisedUp(runDir, dataDir, repo, issuesDir, configPath, socket, options.env ?? {});
  }

  start(): void {
    const onLine = this.onStdoutLine;
    // The stdout copy of the log is what an operator still has when the data directory cannot be written.
    const stdout = onLine === undefined ? 'ignore' : [function* (line: unknown) {
      onLine(String(line));
    }];
    this.#up = execa(cliPath, ['up', '--config', this.configPath], { cwd: repoRoot, env: this.env, reject: false, stdin: 'ignore', stdout });
  }

  get pid(): number | undefined {
    return this.#up?.pid;
  }

  #exited(): boolean {
    return this.#up === undefined || this.#up.exitCode !== null || this.#up.signalCode !== null;
  }

  /** How `up` ended (its exit and the end of its stderr), or undefined while it runs. */
  async ended(): Promise<string | undefined> {
    if (!this.#exited()) return undefined;
    const exited = await this.#up!;
    return `up exited (code ${exited.exitCode}, signal ${exited.signal}): ${String(exited.stderr).slice(-3000)}`;
  }

  /** Starts `up` again if it exited; true when it did. An exit 2 (config or setup) throws with its stderr. */
  async keepRunning(): Promise<boolean> {
    if (!this.#exited()) return false;
    const exited = await this.#up!;
    if (exited.exitCode === 2) throw new Error(`up refused to start: ${String(exited.stderr).slice(-2000)}`);
    this.restarts += 1;
    this.exits.push(`exit ${this.restarts}: code ${exited.exitCode}, signal ${exited.signal}: ${String(exited.stderr).slice(-1500)}`);
    this.start();
    return true;
  }

  /** The CLI against this orchestra (`issues --json`, `kpi --json`…). */
  cli(args: string[]) {
    return execa(cliPath, [...args, '--config', this.configPath], { cwd: repoRoot, env: this.env, reject: false, timeout: 30_000 });
  }

  /** Each issue's state and reason as `issues --json` shows them; undefined while the orchestra does not answer. */
  async issueRows(): Promise<IssueOutcome[] | undefined> {
    const shown = await this.cli(['issues', '--json']);
    if (shown.exitCode !== 0) return undefined;
    return (JSON.parse(shown.stdout) as Array<{ issue: number; state: string; reason?: string }>).map(({ issue, state, reason }) => ({ issue, state, reason }));
  }

  /** tmux on the run's private socket. */
  cliTmux(args: string[]) {
    return execa('tmux', ['-L', this.socket ?? 'none', ...args], { reject: false });
  }

  /** git in the target repository. */
  git(args: string[]) {
    return execa('git', args, { cwd: this.repo, reject: false });
  }

  async dispatchedStages(): Promise<number> {
    const text = await readFile(join(this.dataDir, 'logs', 'orchestra.log'), 'utf8').catch(() => '');
    return text.split('\n').filter((line) => line.includes('"msg":"stage dispatched"')).length;
  }

  /** One fault: its target found in the process table, waiting until `until` for one to exist. */
  async inject(kind: ProcessFaultKind, until: number): Promise<string> {
    if (kind === 'kill_orchestrator') {
      this.#up?.kill('SIGKILL');
      return `orchestrator ${this.#up?.pid}`;
    }
    const matches: Record<Exclude<ProcessFaultKind, 'kill_orchestrator'>, (info: ProcessInfo) => boolean> = {
      kill_agent: (info) => isAgentProgram(info, this.dataDir),
      kill_runner: (info) => isRunner(info, this.configPath),
      silence_runner: (info) => isRunner(info, this.configPath),
      kill_nats: (info) => isNatsServer(info, this.dataDir),
    };
    for (;;) {
      const candidates = (await listProcesses()).filter(matches[kind]);
      // A runner fault hits an agent's runner when there is one: an idle spare's death costs nothing.
      const working = candidates.filter((info) => info.argv.includes('--agent'));
      const targets = working.length > 0 ? working : candidates;
      const target = targets[Math.floor(Math.random() * targets.length)];
      if (target && processAlive(target.pid)) {
        process.kill(target.pid, kind === 'silence_runner' ? 'SIGUSR2' : 'SIGKILL');
        return `pid ${target.pid} (${target.argv.slice(0, 6).join(' ').slice(0, 120)})`;
      }
      if (Date.now() > until) return NO_TARGET;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** SIGTERM, as systemd stops it; SIGKILL if it has not stopped in 30 s (then what it left shows as leaked). */
  async stop(): Promise<void> {
    const up = this.#up;
    if (up === undefined) return;
    if (this.#exited()) return void (await up);
    up.kill('SIGTERM');
    const timer = setTimeout(() => up.kill('SIGKILL'), 30_000);
    await up;
    clearTimeout(timer);
  }

  /** Stops it if it still runs, the tmux server with it; the directory goes unless kept. */
  async dispose(keep: boolean): Promise<void> {
    await this.stop();
    if (this.socket) await execa('tmux', ['-L', this.socket, 'kill-server'], { reject: false });
    if (!keep) await rm(this.runDir, { recursive: true, force: true });
  }
}
