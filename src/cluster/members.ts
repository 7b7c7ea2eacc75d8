/**
 * The members of a cluster, as kept in the bucket `KV_miyabi-nodes` (docs/CLUSTER.md "Members"):
 *
 * | key           | written by                      | holds                                              |
 * | ------------- | ------------------------------- | -------------------------------------------------- |
 * | `cluster`     | the first node, at creation     | the cluster's identity: what it works (its tracker) |
 * | `node.<name>` | that node, every lease poll     | its heartbeat: pid, role, epoch, config hash, parts |
 * | `config`      | the leader, fenced by its epoch | the config every node must have (hash and parts)    |
 *
 * Here only the decisions, without I/O: what of a config is the cluster's (and so hashed), how
 * two configs differ, whether a node is refused, and the records' shapes. The membership actor
 * (src/actors/membership.ts) reads and writes them.
 */
import { createHash } from 'node:crypto';
import type { OrchestraConfig } from '../config/schema.ts';
import type { LeaseRecord } from '../machines/leader-lease.ts';

export const CLUSTER_KEY = 'cluster';
export const CONFIG_KEY = 'config';
export const nodeKey = (node: string): string => `node.${node}`;

/** Part of a config → its hash. `workflow.routes[0]`, `agents.codegen`, `budget`… */
export type ConfigParts = Record<string, string>;

/**
 * What of a config must be the same on every node, by part: what is worked (`issues`, but its
 * webhook: one node receives it), how (`workflow`, each route a part of its own), by which roles
 * (`agents.<role>`, but `min` and `max`: a node's capacity is its own), the budget, the
 * notifications and reports the leader sends, the bus and the cluster (but `cluster.node`).
 * Not hashed, being each node's own: dataDir, nats, http, console, log, supervisor, panes,
 * workspace, health, retention.
 */
export function clusterConfigParts(config: OrchestraConfig): ConfigParts {
  const parts: ConfigParts = {};
  const add = (name: string, value: unknown) => (parts[name] = hashOf(value));
  const { node: _node, ...cluster } = config.cluster ?? { replicas: 1, leaseTtlMs: 0 };
  add('cluster', cluster);
  add('bus', config.bus);
  const { github, ...issues } = config.issues;
  add('issues', { ...issues, ...(github ? { github: { ...github, webhook: undefined } } : {}) });
  const { routes, ...workflow } = config.workflow;
  add('workflow', workflow);
  routes.forEach((route, index) => add(`workflow.routes[${index}]`, route));
  for (const [role, agent] of Object.entries(config.agents)) {
    const { min: _min, max: _max, ...definition } = agent;
    add(`agents.${role}`, definition);
  }
  add('budget', config.budget);
  add('notify', config.notify);
  add('reports', config.reports);
  return parts;
}

/** One hash of all the parts: equal on two nodes exactly when every part is. */
export function configHash(parts: ConfigParts): string {
  return hashOf(parts);
}

/** The parts whose hash differs, or that one side has and the other has not, sorted. */
export function configDifferences(mine: ConfigParts, theirs: ConfigParts): string[] {
  const names = new Set([...Object.keys(mine), ...Object.keys(theirs)]);
  return [...names].filter((name) => mine[name] !== theirs[name]).sort();
}

function hashOf(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, 16);
}

/** JSON with every object's keys sorted and undefined left out: the same config gives the same text. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item) => (item === undefined ? 'null' : canonicalJson(item))).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, item]) => item !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** What a cluster works: two clusters sharing one bucket by mistake work different trackers. */
export interface ClusterIdentity {
  works: string;
  createdBy: string;
  createdAt: string;
}

/** `github:owner/repo`, or `local:<issue directory>`: the tracker this config works. */
export function worksOn(config: Pick<OrchestraConfig, 'issues'>): string {
  const { issues } = config;
  if (issues.source === 'github' && issues.github) return `github:${issues.github.owner}/${issues.github.repo}`;
  return `local:${issues.local.dir}`;
}

export function parseIdentity(value: unknown): ClusterIdentity | undefined {
  const { works, createdBy, createdAt } = (value ?? {}) as Record<string, unknown>;
  if (typeof works !== 'string' || typeof createdBy !== 'string' || typeof createdAt !== 'string') return undefined;
  return { works, createdBy, createdAt };
}

/** The config the leader of `epoch` requires of every node. */
export interface ConfigReference {
  holder: string;
  epoch: number;
  hash: string;
  parts: ConfigParts;
}

export function parseReference(value: unknown): ConfigReference | undefined {
  const { holder, epoch, hash, parts } = (value ?? {}) as Record<string, unknown>;
  if (typeof holder !== 'string' || typeof epoch !== 'number' || typeof hash !== 'string') return undefined;
  if (typeof parts !== 'object' || parts === null) return undefined;
  return { holder, epoch, hash, parts: parts as ConfigParts };
}

export type NodeRole = 'leader' | 'follower' | 'refused';

/** A node's heartbeat: written every lease poll, and once more with `stoppedAt` on a clean stop. */
export interface NodeRecord {
  node: string;
  pid: number;
  startedAt: string;
  /** When written (ms since the epoch, the node's clock). */
  at: number;
  role: NodeRole;
  epoch?: number;
  httpUrl?: string;
  hash: string;
  parts: ConfigParts;
  /** Refused: by which leader, and the parts of the config that differ. */
  refusal?: Refusal;
  stoppedAt?: number;
}

export interface Refusal {
  by: string;
  epoch: number;
  differences: string[];
}

export function parseNodeRecord(value: unknown): NodeRecord | undefined {
  const record = (value ?? {}) as Partial<NodeRecord>;
  if (typeof record.node !== 'string' || typeof record.at !== 'number' || typeof record.hash !== 'string') return undefined;
  return record as NodeRecord;
}

/**
 * Whether `node` is refused: the config the last leader required (the reference) has another
 * hash than this node's. The reference stands across a change of leader (the next leader writes
 * its own at its first poll, and it had the same config, or it would have been refused), and
 * while the lease is held or expired less than a TTL ago, so that a follower with the reference's
 * config takes a dead leader's lease first. Past that (every such follower gone, or no lease at
 * all), a refused node may lead, and its config becomes the reference.
 */
export function refusalOf(input: {
  node: string;
  hash: string;
  parts: ConfigParts;
  reference: ConfigReference | undefined;
  lease: LeaseRecord | undefined;
  now: number;
  ttlMs: number;
}): Refusal | undefined {
  const { reference, lease } = input;
  if (!reference || reference.holder === input.node || reference.hash === input.hash) return undefined;
  if (!lease || input.now >= lease.expiresAt + input.ttlMs) return undefined;
  return { by: reference.holder, epoch: reference.epoch, differences: configDifferences(input.parts, reference.parts) };
}

/** `workflow.routes[1], agents.review`: the differences as a log line or a status column says them. */
export function describeRefusal(refusal: Refusal): string {
  return `refused by the leader ${refusal.by} (epoch ${refusal.epoch}): config differs in ${refusal.differences.join(', ')}`;
}
