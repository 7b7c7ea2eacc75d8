/**
 * `up` as an operator runs it: the real CLI in a child process, a real embedded nats-server, then
 * `status --json` over NATS request/reply, then SIGTERM. Nothing may be left running.
 *
 * `restart AGENT` against a running `up` (headless runners): the agent is restarted through its
 * pool (its restart count goes up, a fresh runner heartbeats), and the orchestra counts a person
 * stepping in: `miyabi_human_interventions_total{kind="manual_restart"}` goes from 0 to 1. An
 * agent that does not exist is refused, and counts nothing.
 */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processAlive } from '../../src/infra/os/process.ts';
import { flattenTree, type TreeNode } from '../../src/supervisor/tree.ts';
import { cliPath, runCli, startUp, tempDir, type TempDir } from '../support/cli.ts';
import { gitRepo } from '../support/orchestra.ts';
import { listProcesses, processTree } from '../support/processes.ts';
import { waitFor } from '../support/wait.ts';

let dir: TempDir;
let repo: string;
beforeAll(async () => {
  dir = await tempDir();
  // Every orchestra needs a git repository to work on (workspace.repo).
  repo = join(dir.path, 'target');
  await mkdir(repo);
  await gitRepo(repo);
});
afterAll(async () => {
  await dir[Symbol.asyncDispose]();
});

async function readRun(dataDir: string) {
  return JSON.parse(await readFile(join(dataDir, 'orchestra.json'), 'utf8')) as {
    pid: number;
    natsUrl: string;
    natsServerPid?: number;
    httpUrl?: string;
  };
}

/** A `bus tail` left running: its lines as they come, waited on with a deadline, killed by the caller. */
function startTail(args: string[]) {
  const child = execa(cliPath, ['bus', 'tail', ...args], { reject: false, timeout: 60_000, buffer: false });
  const lines: string[] = [];
  let ready = false;
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => lines.push(...chunk.split('\n').filter(Boolean)));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    if (chunk.includes('tailing ')) ready = true;
  });
  return {
    lines,
    ready: () => waitFor(() => ready || child.exitCode !== null, { timeoutMs: 30_000, what: `bus tail ${args.join(' ')} to subscribe` }),
    async stop() {
      if (child.exitCode === null) child.kill('SIGKILL');
      await child;
    },
  };
}

const HEARTBEAT_LINE = / miyabi\.heartbeat\.codegen\.codegen-\d+ heartbeat \{/;

/**
 * `bus tail` (everything under miyabi.>) leaves the runners' heartbeats out while `--heartbeats`
 * shows them: both tails subscribe, then the asking one sees heartbeats while the plain one sees
 * the health reports only. Every wait is bounded and both tails are killed whatever happens.
 */
async function tailLeavesHeartbeatsOut(config: string) {
  const plain = startTail(['--config', config]);
  const asking = startTail(['--heartbeats', '--config', config]);
  try {
    await plain.ready();
    await asking.ready();
    const heartbeatsBefore = asking.lines.filter((line) => HEARTBEAT_LINE.test(line)).length;
    await waitFor(() => asking.lines.filter((line) => HEARTBEAT_LINE.test(line)).length >= heartbeatsBefore + 3, {
      timeoutMs: 20_000,
      what: 'three heartbeats printed by bus tail --heartbeats',
    });
    await waitFor(() => plain.lines.some((line) => line.includes(' health.report ')), {
      timeoutMs: 20_000,
      what: 'a health report printed by bus tail',
    });
    expect(plain.lines.filter((line) => line.includes(' miyabi.heartbeat.'))).toEqual([]);
  } finally {
    await plain.stop();
    await asking.stop();
  }
}

// Each CLI call is a fresh Node process (about a second on a loaded 2-core machine): allow for it.
describe('up, status, SIGTERM', { timeout: 120_000 }, () => {
  it('runs the tree, reports it, and stops everything on SIGTERM with exit 0', async () => {
    const dataDir = join(dir.path, 'data');
    const socket = `miyabi-test-up-${process.pid}`;
    const config = await dir.file(
      'up.yaml',
      [
        `dataDir: ${dataDir}`,
        'http:',
        '  port: 0',
        'health:',
        '  checkIntervalMs: 300',
        '  reportHeartbeatMs: 300',
        'log:',
        '  level: info',
        'panes:',
        '  backend: tmux',
        '  heartbeatIntervalMs: 200',
        `  socket: ${socket}`,
        'workspace:',
        `  repo: ${repo}`,
        'agents:',
        '  codegen:',
        '    displayName: カエデ Kaede',
        '    command: [node, agent.mjs]',
        '    min: 2',
        '    max: 3',
        '',
      ].join('\n'),
    );
    const up = startUp(['--config', config]);
    try {
      const run = await waitFor(() => readRun(dataDir), { timeoutMs: 30_000, what: 'run file' });
      expect(run.pid).toBe(up.pid);
      expect(run.natsServerPid).toBeGreaterThan(0);

      // agents are up once their runners have sent a first heartbeat
      const reply = await waitFor(async () => {
        const status = await runCli(['status', '--json', '--config', config]);
        expect(status.stderr).toBe('');
        expect(status.exitCode).toBe(0);
        const parsed = JSON.parse(status.stdout);
        const agents = flattenTree(parsed.tree).filter((node) => node.path.includes('/pool.codegen/'));
        return agents.length === 2 && agents.every((node) => node.state.includes('ready.')) ? parsed : undefined;
      }, { timeoutMs: 60_000, what: 'agents ready' });
      expect(reply.pid).toBe(up.pid);
      const nodes = flattenTree(reply.tree);
      const paths = nodes.map((node) => node.path);
      for (const path of ['root/http', 'root/broker/nats-server', 'root/bus', 'root/control', 'root/panes', 'root/core/issue-watcher', 'root/core/workflow', 'root/core/workflow/dag', 'root/core/workflow/scheduler', 'root/core/workflow/lifecycles', 'root/core/health-monitor', 'root/agents/pool.codegen/codegen-1', 'root/agents/pool.codegen/codegen-2']) {
        expect(paths).toContain(path);
      }
      for (const node of nodes) {
        expect(node.status, node.path).toBe('running');
        expect(node.restarts, node.path).toBe(0);
        expect(typeof node.uptimeMs).toBe('number');
      }
      expect(nodes.find((node) => node.path === 'root/bus')!.state).toBe('connected');
      // The workflow is a supervisor over the graph, the queue and their coordinator.
      expect(nodes.find((node) => node.path === 'root/core/workflow')).toMatchObject({ type: 'supervisor', strategy: 'one_for_all' });
      expect(nodes.find((node) => node.path === 'root/agents/pool.codegen/codegen-1')!.state).toBe('alive.ready.idle');
      expect(nodes.find((node) => node.path === 'root/panes')!.state).toBe('tmux');
      const panes = await execa('tmux', ['-L', socket, 'list-panes', '-a', '-F', '#{pane_title}']);
      expect(panes.stdout).toContain('カエデ Kaede · codegen · idle');
      // The compiled runtime: `up` and its runners (under tmux, not under `up`) run the bundles,
      // with no TypeScript loader and no build beside them.
      const all = await listProcesses();
      const ours = [...processTree(up.pid!, all), ...all.filter((entry) => entry.argv.includes(config))];
      expect(ours.find((entry) => entry.pid === up.pid)?.argv[1]).toMatch(/dist\/miyabi-orchestra\.mjs$/);
      const runners = ours.filter((entry) => entry.argv.includes('pane'));
      expect(runners.length).toBeGreaterThanOrEqual(2);
      // Node's flags (RUNNER_NODE_FLAGS) come before the bundle.
      for (const runner of runners) expect(runner.argv.slice(1).find((arg) => !arg.startsWith('--'))).toMatch(/dist\/miyabi-runner\.mjs$/);
      for (const entry of ours) expect(entry.argv.join(' ')).not.toMatch(/esbuild|tsx/);

      const human = await runCli(['status', '--config', config]);
      expect(human.exitCode).toBe(0);
      expect(human.stdout).toMatch(/root \(rest_for_one\)\s+running/);
      expect(human.stdout).toMatch(/workflow \(one_for_all\)\s+running/);
      expect(human.stdout).toMatch(/codegen-1\s+running\s+alive\.ready\.idle\s+0/);

      const streams = await runCli(['bus', 'streams', '--json', '--config', config]);
      expect(streams.exitCode).toBe(0);
      const names = (JSON.parse(streams.stdout) as Array<{ name: string }>).map((stream) => stream.name);
      expect(names).toEqual(expect.arrayContaining(['MIYABI_TASKS', 'MIYABI_EVENTS', 'MIYABI_DLQ', 'KV_miyabi-state']));
      const tail = await runCli(['bus', 'tail', 'miyabi.events.health', '--count', '1', '--config', config]);
      expect(tail.exitCode).toBe(0);
      expect(tail.stdout).toMatch(/miyabi\.events\.health health\.report orchestra#\d+ \{"ok":true/);
      await tailLeavesHeartbeatsOut(config);

      const metrics = await fetch(`${run.httpUrl}/metrics`);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toContain('miyabi_actor_state');
      expect(new URL(run.httpUrl!).hostname).toBe('127.0.0.1');

      up.kill('SIGTERM');
      const result = await up;
      expect(result.exitCode).toBe(0);
      expect(processAlive(run.natsServerPid!)).toBe(false);
      expect((await execa('tmux', ['-L', socket, 'list-sessions'], { reject: false })).exitCode).not.toBe(0);
      await expect(readFile(join(dataDir, 'orchestra.json'))).rejects.toThrow();
      // the log says it stopped in order: agents before core before the bus before NATS
      const log = (await readFile(join(dataDir, 'logs/orchestra.log'), 'utf8')).split('\n').filter(Boolean).map((line) => JSON.parse(line));
      const stopped = log.filter((line) => line.msg === 'actor stopped').map((line) => line.actorId);
      const order = ['codegen-1', 'agents', 'health-monitor', 'core', 'panes', 'control', 'bus', 'nats-server', 'broker', 'http'].map((id) => stopped.indexOf(id));
      expect(order.every((index) => index >= 0)).toBe(true);
      expect([...order].sort((a, b) => a - b)).toEqual(order);
      expect(log.filter((line) => typeof line.actorId !== 'string' && !line.msg.startsWith('orchestra'))).toEqual([]);

      const after = await runCli(['status', '--config', config]);
      expect(after.exitCode).toBe(1);
      expect(after.stderr).toContain('no orchestra is running');
    } finally {
      // A failed assertion above must fail now, not after execa's own timeout: kill what is left.
      if (up.exitCode === null && up.pid) up.kill('SIGKILL');
      await up;
      const orphan = await readRun(dataDir).catch(() => undefined);
      if (orphan?.natsServerPid && processAlive(orphan.natsServerPid)) process.kill(orphan.natsServerPid, 'SIGKILL');
      await execa('tmux', ['-L', socket, 'kill-server'], { reject: false });
    }
  });

  it('recognises the run file of a killed orchestra as stale, and the next up cleans up its nats-server', async () => {
    const dataDir = join(dir.path, 'stale');
    const config = await dir.file('stale.yaml', `dataDir: ${dataDir}\nhttp:\n  enabled: false\npanes:\n  socket: miyabi-test-stale-${process.pid}\nworkspace:\n  repo: ${repo}\n`);
    const first = startUp(['--config', config]);
    const run = await waitFor(() => readRun(dataDir), { timeoutMs: 30_000, what: 'run file' });
    first.kill('SIGKILL');
    await first;
    const status = await runCli(['status', '--config', config]);
    expect(status.exitCode).toBe(1);
    expect(status.stderr).toContain('stale');

    const second = startUp(['--config', config]);
    try {
      const next = await waitFor(async () => {
        const candidate = await readRun(dataDir);
        return candidate.pid === second.pid ? candidate : undefined;
      }, { timeoutMs: 30_000, what: 'second run file' });
      expect(processAlive(run.natsServerPid!)).toBe(false);
      const stop = await runCli(['stop', '--config', config]);
      expect(stop.exitCode).toBe(0);
      expect((await second).exitCode).toBe(0);
      expect(processAlive(next.natsServerPid!)).toBe(false);
    } finally {
      if (second.exitCode === null) second.kill('SIGKILL');
      await second;
    }
  });
});

describe('doctor', { timeout: 60_000 }, () => {
  it('passes on a machine set up by ./bootstrap, and names what to install when something is missing', async () => {
    // Without a config the data dir is ./.miyabi: checked, not made (a check changes nothing).
    const cwd = join(dir.path, 'doctor-cwd');
    await mkdir(cwd);
    const ok = await runCli(['doctor'], { cwd });
    expect(ok.stdout).toContain('all checks passed');
    expect(ok.stdout).toMatch(/✓ data dir +\S*\.miyabi not there yet; \S*doctor-cwd is writable, so up can make it/);
    expect(ok.exitCode).toBe(0);
    expect(existsSync(join(cwd, '.miyabi'))).toBe(false);
    const config = await dir.file('doctor.yaml', `dataDir: ${join(dir.path, 'doctor')}\nnats:\n  embedded:\n    binary: /nonexistent/nats-server\n`);
    const missing = await runCli(['doctor', '--config', config]);
    expect(missing.exitCode).toBe(1);
    expect(missing.stdout).toMatch(/✗ nats-server[\s\S]*apt-get install nats-server/);
  });
});

describe('up refuses bad input before starting anything', { timeout: 60_000 }, () => {
  it('exits 2 on an invalid config, one line per problem', async () => {
    const config = await dir.file('bad.yaml', 'agents:\n  codegen:\n    displayName: x\n    command: "rm -rf /"\nnope: 1\n');
    const result = await runCli(['up', '--config', config]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('agents.codegen.command: expected array, received string');
    expect(result.stderr).toContain('nope');
  });

  it('names the package to install when nats-server is missing in embedded mode', async () => {
    const config = await dir.file('nobinary.yaml', `dataDir: ${join(dir.path, 'nobinary')}\nnats:\n  embedded:\n    binary: /nonexistent/nats-server\n`);
    const result = await runCli(['up', '--config', config]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('apt-get install nats-server');
  });

  it('retries an unreachable NATS with a log line each time, then exits non-zero at the deadline', async () => {
    const dataDir = join(dir.path, 'unreachable');
    const config = await dir.file(
      'unreachable.yaml',
      `dataDir: ${dataDir}\nhttp:\n  enabled: false\nnats:\n  urls: [nats://127.0.0.1:1]\n  connectDeadlineMs: 1500\nworkspace:\n  repo: ${repo}\n`,
    );
    const result = await runCli(['up', '--config', config]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('NATS unreachable');
    const retries = result.stdout.split('\n').filter((line) => line.includes('nats connect failed'));
    expect(retries.length).toBeGreaterThanOrEqual(2);
  });
});

const MANUAL = 'miyabi_human_interventions_total{kind="manual_restart"}';

async function manualRestarts(httpUrl: string): Promise<number | undefined> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${MANUAL} `));
  return line === undefined ? undefined : Number(line.slice(MANUAL.length + 1));
}

describe('restart AGENT', { timeout: 120_000 }, () => {
  it('restarts the agent through its pool and counts a manual_restart; refuses an unknown agent', async () => {
    const dataDir = join(dir.path, 'data');
    const config = await dir.file(
      'restart.yaml',
      [`dataDir: ${dataDir}`, 'http:', '  port: 0', 'panes:', '  backend: process', 'workspace:', `  repo: ${repo}`, 'agents:', '  codegen:', '    command: [node, agent.mjs]', '    min: 1', ''].join('\n'),
    );
    const up = startUp(['--config', config]);
    try {
      const agent = async () => {
        const status = await runCli(['status', '--json', '--config', config]);
        if (status.exitCode !== 0) return undefined;
        const tree = JSON.parse(status.stdout).tree as TreeNode;
        return flattenTree(tree).find((node) => node.path === 'root/agents/pool.codegen/codegen-1');
      };
      const before = await waitFor(async () => ((await agent())?.state.startsWith('alive.ready') ? agent() : undefined), { timeoutMs: 60_000, what: 'codegen-1 ready' });
      const { httpUrl } = JSON.parse(await readFile(join(dataDir, 'orchestra.json'), 'utf8')) as { httpUrl: string };
      expect(await manualRestarts(httpUrl)).toBe(0);

      const restarted = await runCli(['restart', 'codegen-1', '--config', config]);
      expect(restarted.stdout).toBe('agent codegen-1 (codegen) restarted');
      expect(restarted.exitCode).toBe(0);
      expect(await manualRestarts(httpUrl)).toBe(1);
      const after = await waitFor(async () => {
        const node = await agent();
        return node?.state.startsWith('alive.ready') ? node : undefined;
      }, { timeoutMs: 60_000, what: 'codegen-1 ready again' });
      expect(after.restarts).toBe(before!.restarts + 1);

      const unknown = await runCli(['restart', 'nobody-1', '--config', config]);
      expect(unknown.exitCode).toBe(1);
      expect(unknown.stderr).toContain('no agent nobody-1');
      expect(await manualRestarts(httpUrl)).toBe(1);
    } finally {
      up.kill('SIGTERM');
      await up;
    }
  });
});
