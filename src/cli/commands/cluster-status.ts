/**
 * `status` in cluster mode: every node of the cluster, not the one that answers first. The nodes
 * the cluster knows are the heartbeats in its members bucket (src/cluster/members.ts); every
 * running node answers the status request, and the answers are gathered until each node with a
 * fresh heartbeat (written within the lease TTL, not stopped) has answered, or the timeout. A
 * known node that does not answer is shown `missing` with the age of its last heartbeat; one that
 * stopped cleanly, `stopped`.
 */
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { CONTROL_SUBJECTS, type StatusReply } from '../../actors/control-subjects.ts';
import type { LoadedConfig } from '../../config/load.ts';
import { LEADER_KEY } from '../../cluster/leader-lease.ts';
import { describeRefusal, type NodeRecord } from '../../cluster/members.ts';
import { readNodeRecords } from '../../cluster/node-records.ts';
import { describeError } from '../../errors.ts';
import { DEFAULT_BUS_TOPOLOGY } from '../../infra/bus/topology.ts';
import { parseLeaseRecord, type LeaseRecord } from '../../machines/leader-lease.ts';
import { flattenTree, type TreeNode } from '../../supervisor/tree.ts';
import { connectCli, serversFor } from '../connect.ts';
import { CliExit, ExitCode, countActors, formatBudget, formatDuration, renderTree } from '../output.ts';

export type NodeEntry =
  | { node: string; state: 'answered'; reply: StatusReply; heartbeat?: NodeRecord }
  | { node: string; state: 'missing' | 'stopped'; heartbeat: NodeRecord };

export interface ClusterStatus {
  lease?: LeaseRecord & { writtenAt: string };
  nodes: NodeEntry[];
}

export async function clusterStatus(loaded: LoadedConfig, flags: { json?: boolean }, timeoutMs = 5_000): Promise<number> {
  const ttlMs = loaded.config.cluster?.leaseTtlMs ?? 10_000;
  const servers = await serversFor(loaded);
  const nc = await connectCli(loaded, servers);
  let status: ClusterStatus;
  try {
    status = await gatherClusterStatus(nc, { timeoutMs, ttlMs });
  } catch (error) {
    throw new CliExit(ExitCode.failure, `cannot read the cluster's status at ${servers.join(', ')}: ${describeError(error)}`);
  } finally {
    await nc.close();
  }
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
    return ExitCode.ok;
  }
  process.stdout.write(renderClusterStatus(status, Date.now()));
  return status.nodes.some((entry) => entry.state === 'answered') ? ExitCode.ok : ExitCode.failure;
}

/**
 * Waits for the nodes whose heartbeat is fresh (a node just killed among them: it costs the whole
 * timeout), not for one whose heartbeat is older than a TTL: it is gone, and shown missing.
 */
export async function gatherClusterStatus(nc: NatsConnection, options: { timeoutMs: number; ttlMs: number }): Promise<ClusterStatus> {
  const kvm = new Kvm(nc);
  const nodes = await kvm.open(DEFAULT_BUS_TOPOLOGY.nodesBucket);
  const known = await readNodeRecords(nc, nodes, DEFAULT_BUS_TOPOLOGY.nodesBucket);
  const now = Date.now();
  const fresh = [...known.values()].filter((record) => record.stoppedAt === undefined && now - record.at <= options.ttlMs);
  const expected = new Set(fresh.map((record) => record.node));
  const replies = new Map<string, StatusReply>();
  const answers = await nc.requestMany(CONTROL_SUBJECTS.status, undefined, { strategy: 'timer', maxWait: options.timeoutMs });
  for await (const message of answers) {
    const reply = message.json<StatusReply>();
    replies.set(reply.cluster?.node ?? `pid ${reply.pid}`, reply);
    if ([...expected].every((node) => replies.has(node))) break;
  }
  const entries: NodeEntry[] = [];
  for (const node of [...new Set([...known.keys(), ...replies.keys()])].sort()) {
    const reply = replies.get(node);
    const heartbeat = known.get(node);
    if (reply) entries.push({ node, state: 'answered', reply, ...(heartbeat ? { heartbeat } : {}) });
    else if (heartbeat) entries.push({ node, state: heartbeat.stoppedAt === undefined ? 'missing' : 'stopped', heartbeat });
  }
  const lease = await readLease(kvm);
  return { ...(lease ? { lease } : {}), nodes: entries };
}

async function readLease(kvm: Kvm): Promise<ClusterStatus['lease']> {
  try {
    const entry = await (await kvm.open(DEFAULT_BUS_TOPOLOGY.leaseBucket)).get(LEADER_KEY);
    const record = entry?.operation === 'PUT' ? parseLeaseRecord(entry.json()) : undefined;
    return record && entry ? { ...record, writtenAt: entry.created.toISOString() } : undefined;
  } catch {
    return undefined;
  }
}

/** A node's agents, from its tree: `codegen-1 (idle)`. */
export function agentsOf(tree: TreeNode): string[] {
  const agents = tree.children?.find((child) => child.id === 'agents');
  if (!agents) return [];
  // agents/pool.<role>/<agent>
  return flattenTree(agents)
    .filter((entry) => entry.path.split('/').length === 3)
    .map((entry) => `${entry.id} (${entry.state})`);
}

export function renderClusterStatus(status: ClusterStatus, now: number): string {
  const answered = status.nodes.filter((entry) => entry.state === 'answered').length;
  const lines: string[] = [];
  const { lease } = status;
  const leaseLine = !lease
    ? 'no leader lease yet'
    : `${lease.holder} leads, epoch ${lease.epoch}; lease written ${formatDuration(now - Date.parse(lease.writtenAt))} ago, ` +
      (lease.expiresAt > now ? `expires in ${formatDuration(lease.expiresAt - now)}` : `EXPIRED ${formatDuration(now - lease.expiresAt)} ago`);
  lines.push(`cluster of ${status.nodes.length} nodes, ${answered} answered; ${leaseLine}`, '');
  for (const entry of status.nodes) {
    if (entry.state === 'answered') {
      const { reply } = entry;
      const role = reply.cluster?.role ?? 'unknown';
      const leads = reply.cluster?.epoch !== undefined ? `, epoch ${reply.cluster.epoch} for ${formatDuration(now - Date.parse(reply.cluster.leaderSince ?? new Date(now).toISOString()))}` : '';
      const agents = agentsOf(reply.tree);
      lines.push(
        `${entry.node}: ${role}${leads}, pid ${reply.pid}, up ${formatDuration(reply.uptimeMs)}, NATS ${reply.natsUrl}${reply.httpUrl ? `, HTTP ${reply.httpUrl}` : ''}, ` +
          `${countActors(reply.tree)} actors, agents: ${agents.length > 0 ? agents.join(', ') : 'none'}`,
      );
      if (reply.cluster?.refusal) lines.push(`  ${describeRefusal(reply.cluster.refusal)}; taking no tasks`);
    } else if (entry.state === 'missing') {
      lines.push(`${entry.node}: MISSING, no answer; last heartbeat ${formatDuration(now - entry.heartbeat.at)} ago (pid ${entry.heartbeat.pid}, was ${entry.heartbeat.role})`);
    } else {
      lines.push(`${entry.node}: stopped ${formatDuration(now - (entry.heartbeat.stoppedAt ?? entry.heartbeat.at))} ago`);
    }
  }
  for (const entry of status.nodes) {
    if (entry.state !== 'answered') continue;
    lines.push('', `── ${entry.node} ──`, renderTree(entry.reply.tree));
    if (entry.reply.budget) lines.push('', formatBudget(entry.reply.budget));
  }
  return `${lines.join('\n')}\n`;
}
