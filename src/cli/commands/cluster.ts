/**
 * `cluster up` / `cluster down`: a local cluster to try scale-out on (docs/CLUSTER.md) —
 * nats-servers routed on loopback and as many orchestra nodes (src/orchestra/local-cluster.ts).
 *
 * `cluster up` runs in the foreground until SIGINT/SIGTERM (or `cluster down`). With `--once` it
 * works the backlog to the end, prints per issue the node that ran each stage, stops everything,
 * and exits 0 only when every issue is done and no task ran twice. `--kill-leader` kills the
 * leading node with `kill -9` once half the backlog is done, and starts it again (as a follower)
 * once another node leads.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { readIssueDirectory } from '../../issues/local-source.ts';
import { processAlive } from '../../infra/os/process.ts';
import { readProgress, runTwice, stageRuns, type ClusterProgress, type StageRun } from '../../orchestra/cluster-progress.ts';
import { readClusterFile, startLocalCluster, type LocalCluster } from '../../orchestra/local-cluster.ts';
import { CliExit, ExitCode } from '../output.ts';

export interface ClusterUpFlags {
  config?: string;
  nodes?: string;
  backlog?: string;
  dir?: string;
  once?: boolean;
  'kill-leader'?: boolean;
  'lease-ttl'?: string;
  timeout?: string;
}

const POLL_MS = 500;

export async function clusterUp(flags: ClusterUpFlags): Promise<number> {
  const nodes = Number(flags.nodes ?? 3);
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 5) throw new CliExit(ExitCode.invalid, `--nodes ${flags.nodes}: expected 1 to 5`);
  const dir = flags.dir ?? '.miyabi-cluster';
  const existing = await readClusterFile(dir);
  if (existing && processAlive(existing.pid)) throw new CliExit(ExitCode.failure, `a local cluster already runs in ${dir} (pid ${existing.pid}): cluster down --dir ${dir}`);
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const cluster = await startLocalCluster({
    dir,
    nodes,
    ...(flags.backlog ? { backlog: flags.backlog } : {}),
    ...(flags.config ? { baseConfig: flags.config } : {}),
    ...(flags['lease-ttl'] ? { leaseTtlMs: Number(flags['lease-ttl']) } : {}),
  });
  out(`nats: ${cluster.urls.join(', ')}`);
  for (const node of cluster.nodes) out(`${node.name}: pid ${node.process.pid}, config ${node.config}`);
  const stopped = new AbortController();
  const onSignal = () => stopped.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    if (!flags.once) {
      out(`running; stop with: miyabi-orchestra cluster down --dir ${dir}`);
      await new Promise<void>((resolve) => stopped.signal.addEventListener('abort', () => resolve(), { once: true }));
      return ExitCode.ok;
    }
    return await workOnce(cluster, { killLeader: flags['kill-leader'] === true, timeoutMs: Number(flags.timeout ?? 1_800) * 1000, signal: stopped.signal, out });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    out('stopping the cluster');
    await cluster.stop();
  }
}

async function workOnce(
  cluster: LocalCluster,
  options: { killLeader: boolean; timeoutMs: number; signal: AbortSignal; out: (line: string) => void },
): Promise<number> {
  const { out } = options;
  const scan = await readIssueDirectory(cluster.backlog);
  const expected = scan.issues.filter((issue) => issue.state !== 'closed' && issue.labels.includes(cluster.triggerLabel)).map((issue) => issue.number);
  out(`backlog: ${expected.length} issues to work in ${cluster.backlog}`);
  const nc: NatsConnection = await connect({ servers: cluster.urls, maxReconnectAttempts: -1 });
  const deadline = Date.now() + options.timeoutMs;
  let progress: ClusterProgress | undefined;
  let killed: { node: string; epoch: number } | undefined;
  let restarted = false;
  let settledStreak = 0;
  let said = '';
  try {
    while (settledStreak < 2) {
      if (options.signal.aborted) throw new CliExit(ExitCode.failure, 'stopped before the backlog was worked');
      if (Date.now() > deadline) throw new CliExit(ExitCode.failure, `the backlog was not worked within ${options.timeoutMs / 1000} s`);
      if (cluster.nodes.every((node) => node.process.exitCode !== null || node.process.signalCode !== null)) throw new CliExit(ExitCode.failure, 'every node stopped');
      progress = await readProgress(nc, expected).catch(() => progress);
      if (progress) {
        const line = `${progress.done}/${expected.length} done; leader ${progress.leader ? `${progress.leader.holder} (epoch ${progress.leader.epoch})` : 'none yet'}`;
        if (line !== said) out((said = line));
        settledStreak = progress.settled ? settledStreak + 1 : 0;
        const leader = progress.leader;
        if (options.killLeader && !killed && leader && progress.done >= expected.length / 2 && !progress.settled) {
          const node = cluster.nodes.find((candidate) => candidate.name === leader.holder);
          if (node) {
            out(`kill -9 of the leader ${node.name} (pid ${node.process.pid}, epoch ${leader.epoch})`);
            killed = { node: node.name, epoch: leader.epoch };
            await node.kill();
          }
        }
        if (killed && !restarted && leader && leader.epoch > killed.epoch) {
          out(`${leader.holder} leads (epoch ${leader.epoch}); starting ${killed.node} again as a follower`);
          restarted = true;
          await cluster.nodes.find((node) => node.name === killed!.node)!.restart();
        }
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  } finally {
    await nc.close().catch(() => undefined);
  }
  const runs = await stageRuns(cluster.nodes);
  const twice = runTwice(runs);
  printSummary(progress!, runs, out);
  for (const group of twice) out(`run twice: task ${group[0]!.taskId} on ${group.map((run) => run.node).join(', ')}`);
  const allDone = progress!.done === expected.length;
  if (options.killLeader && !killed) out('the leader was not killed: the backlog was done before half of it was');
  out(allDone && twice.length === 0 ? `all ${expected.length} done, nothing run twice` : `${progress!.done}/${expected.length} done, ${twice.length} tasks run twice`);
  return allDone && twice.length === 0 ? ExitCode.ok : ExitCode.failure;
}

function printSummary(progress: ClusterProgress, runs: readonly StageRun[], out: (line: string) => void): void {
  for (const issue of progress.issues) {
    const mine = runs.filter((run) => run.issue === issue.number && run.status !== undefined);
    const stages = mine.map((run) => `${run.role}@${run.node}${run.status === 'success' ? '' : `(${run.status})`}`).join(' ');
    out(`#${issue.number} ${issue.state}: ${stages || '(no agent stage)'}`);
  }
}

export async function clusterDown(flags: { dir?: string; timeout?: string }): Promise<number> {
  const dir = flags.dir ?? '.miyabi-cluster';
  const file = await readClusterFile(dir);
  if (!file || !processAlive(file.pid)) throw new CliExit(ExitCode.failure, `no local cluster runs in ${dir}`);
  process.kill(file.pid, 'SIGTERM');
  const deadline = Date.now() + Number(flags.timeout ?? 120) * 1000;
  while (processAlive(file.pid)) {
    if (Date.now() > deadline) throw new CliExit(ExitCode.failure, `cluster up (pid ${file.pid}) still running`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  process.stdout.write(`local cluster in ${dir} stopped\n`);
  return ExitCode.ok;
}
