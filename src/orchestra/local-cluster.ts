/**
 * A local cluster (`miyabi-orchestra cluster up`, docs/CLUSTER.md): `nodes` nats-servers routed
 * to each other on loopback (src/infra/nats/cluster.ts) and as many orchestra nodes, each its own
 * `miyabi-orchestra up` process with its own data directory, tmux socket and HTTP port (a free
 * one), all on one backlog, one tracker directory, one workspace repository and one worktree
 * directory (an issue's stages share its worktree whichever node runs them).
 *
 * Under `dir`: `nats/` (the servers' stores and configs), `<node>.yaml` and `<node>/` (each
 * node's config and data directory), `tracker/`, `worktrees/`, `repo/` (a scratch repository when
 * the base config names none), and `cluster.json` (the pids, for `cluster down`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { packageRoot } from '../package-root.ts';
import { startNatsClusterServers, type NatsClusterServers } from '../infra/nats/cluster.ts';
import { ensureScratchRepository } from '../infra/git/worktrees.ts';

export interface LocalClusterOptions {
  dir: string;
  nodes: number;
  /** The issue directory; default the base config's (the demo backlog for the embedded default). */
  backlog?: string;
  /** The config every node starts from; default the embedded one (config/miyabi.yaml). */
  baseConfig?: string;
  /** The lease's TTL (ms): how long a dead leader is waited for. */
  leaseTtlMs?: number;
}

export interface LocalNode {
  name: string;
  config: string;
  dataDir: string;
  process: ChildProcess;
  /** Settles when the process is gone, with its exit code or signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** `kill -9`, as a crash (its runners outlive it until it starts again). */
  kill(): Promise<void>;
  /** Starts it again after it died (the new start stops the runners its death left behind). */
  restart(): Promise<void>;
}

export interface LocalCluster {
  dir: string;
  urls: string[];
  nodes: LocalNode[];
  /** The base config's trigger label and issue directory: what the backlog is. */
  triggerLabel: string;
  backlog: string;
  /** SIGTERM to every node still running (a graceful stop), then the servers. */
  stop(): Promise<void>;
}

export const CLUSTER_FILE = 'cluster.json';

export interface ClusterFile {
  /** The `cluster up` process: `cluster down` asks it to stop everything. */
  pid: number;
  nodes: Array<{ name: string; pid: number | undefined; config: string }>;
  nats: Array<{ pid: number; url: string }>;
}

type Yaml = Record<string, unknown>;
const section = (config: Yaml, key: string): Yaml => (config[key] && typeof config[key] === 'object' ? (config[key] as Yaml) : {});

export async function startLocalCluster(options: LocalClusterOptions): Promise<LocalCluster> {
  const dir = resolve(options.dir);
  await mkdir(dir, { recursive: true });
  const basePath = options.baseConfig ? resolve(options.baseConfig) : join(packageRoot(), 'config', 'miyabi.yaml');
  const base = (parse(await readFile(basePath, 'utf8')) ?? {}) as Yaml;
  // The embedded default's relative paths (the demo backlog) are the package's.
  const baseDir = options.baseConfig ? resolve(basePath, '..') : packageRoot();
  const issues = section(base, 'issues');
  const local = section(issues, 'local');
  const backlog = resolve(options.backlog ?? resolve(baseDir, String(local.dir ?? join(packageRoot(), 'examples', 'backlog'))));
  const workspace = section(base, 'workspace');
  const repo = workspace.repo ? resolve(baseDir, String(workspace.repo)) : (await ensureScratchRepository(join(dir, 'repo'))).dir;
  const triggerLabel = String(section(base, 'workflow').triggerLabel ?? 'miyabi');

  const servers = await startNatsClusterServers({ root: join(dir, 'nats'), clusterName: `miyabi-local-${process.pid}`, size: options.nodes });
  const nodes: LocalNode[] = [];
  const stop = async () => {
    for (const node of nodes) if (node.process.exitCode === null && node.process.signalCode === null) node.process.kill('SIGTERM');
    await Promise.all(nodes.map((node) => node.exited));
    await Promise.all(servers.servers.map((server) => server.stop(5_000)));
    await rm(join(dir, CLUSTER_FILE), { force: true });
  };
  try {
    for (let i = 1; i <= options.nodes; i++) {
      const name = `node${i}`;
      const dataDir = join(dir, name);
      const config = join(dir, `${name}.yaml`);
      await writeFile(config, stringify(nodeConfig(base, { name, dataDir, urls: servers.urls, backlog, repo, dir, replicas: Math.min(3, options.nodes), leaseTtlMs: options.leaseTtlMs })));
      nodes.push(spawnNode(name, config, dataDir));
    }
    await writeClusterFile(dir, nodes, servers);
  } catch (error) {
    await stop();
    throw error;
  }
  return { dir, urls: servers.urls, nodes, triggerLabel, backlog, stop };
}

function nodeConfig(
  base: Yaml,
  node: { name: string; dataDir: string; urls: string[]; backlog: string; repo: string; dir: string; replicas: number; leaseTtlMs: number | undefined },
): Yaml {
  const issues = section(base, 'issues');
  return {
    ...base,
    dataDir: node.dataDir,
    nats: { ...section(base, 'nats'), urls: node.urls },
    cluster: { ...section(base, 'cluster'), node: node.name, replicas: node.replicas, ...(node.leaseTtlMs ? { leaseTtlMs: node.leaseTtlMs } : {}) },
    // A free port each: the run file of each node records it.
    http: { ...section(base, 'http'), port: 0 },
    issues: { ...issues, source: 'local', local: { ...section(issues, 'local'), dir: node.backlog, trackerDir: join(node.dir, 'tracker') } },
    workspace: { ...section(base, 'workspace'), repo: node.repo, worktreesDir: join(node.dir, 'worktrees') },
    panes: { ...section(base, 'panes'), socket: `miyabi-${node.name}-${process.pid}`, session: `miyabi-${node.name}` },
  };
}

function spawnNode(name: string, config: string, dataDir: string): LocalNode {
  const log = createWriteStream(join(resolve(config, '..'), `${name}.out.log`), { flags: 'a' });
  const start = () => {
    // The same CLI as this one (its bundle, or the sources with their loader).
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, 'up', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => {
      child.once('exit', (code, signal) => done({ code, signal }));
      child.once('error', () => done({ code: null, signal: null }));
    });
    return { child, exited };
  };
  const first = start();
  const node: LocalNode = {
    name,
    config,
    dataDir,
    process: first.child,
    exited: first.exited,
    async kill() {
      node.process.kill('SIGKILL');
      await node.exited;
    },
    async restart() {
      await node.exited;
      const next = start();
      node.process = next.child;
      node.exited = next.exited;
    },
  };
  return node;
}

async function writeClusterFile(dir: string, nodes: LocalNode[], servers: NatsClusterServers): Promise<void> {
  const file: ClusterFile = {
    pid: process.pid,
    nodes: nodes.map((node) => ({ name: node.name, pid: node.process.pid, config: node.config })),
    nats: servers.servers.map((server) => ({ pid: server.pid, url: server.url })),
  };
  await writeFile(join(dir, CLUSTER_FILE), `${JSON.stringify(file, null, 2)}\n`);
}

export async function readClusterFile(dir: string): Promise<ClusterFile | undefined> {
  const text = await readFile(join(resolve(dir), CLUSTER_FILE), 'utf8').catch(() => undefined);
  return text === undefined ? undefined : (JSON.parse(text) as ClusterFile);
}
