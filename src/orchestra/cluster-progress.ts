/**
 * How a local cluster's backlog stands (`miyabi-orchestra cluster up --once`, docs/CLUSTER.md):
 * read from the cluster itself — the workflow's records in the state bucket, the lease's holder —
 * and from each node's pane logs (the runners' task markers say which node ran what), so it holds
 * whichever node leads, and after the leader died.
 */
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_BUS_TOPOLOGY } from '../infra/bus/topology.ts';
import { parseMarker, type TaskMarker } from '../infra/panes/log.ts';
import { LEADER_KEY } from '../cluster/leader-lease.ts';
import { parseLeaseRecord, type LeaseRecord } from '../machines/leader-lease.ts';

/** States an issue does not leave by itself (src/workflow/intake.ts). */
const SETTLED = new Set(['done', 'failed', 'blocked', 'released', 'waiting_for_human', 'merge_blocked']);

export interface IssueProgress {
  number: number;
  state: string;
  /** Effects decided and not yet known done. */
  outbox: number;
}

export interface ClusterProgress {
  issues: IssueProgress[];
  /** Every expected issue has a record, settled, with nothing left in its outbox. */
  settled: boolean;
  done: number;
  leader: LeaseRecord | undefined;
}

export async function readProgress(nc: NatsConnection, expected: readonly number[]): Promise<ClusterProgress> {
  const kvm = new Kvm(nc);
  const state = await kvm.open(DEFAULT_BUS_TOPOLOGY.kvBucket);
  const issues: IssueProgress[] = [];
  for (const number of expected) {
    const entry = await state.get(`issue.${number}`).catch(() => null);
    if (entry === null || entry.operation !== 'PUT') continue;
    const record = entry.json<{ snapshot?: { value?: unknown }; outbox?: unknown[] }>();
    issues.push({ number, state: String(record.snapshot?.value ?? 'unknown'), outbox: record.outbox?.length ?? 0 });
  }
  const lease = await kvm.open(DEFAULT_BUS_TOPOLOGY.leaseBucket);
  const leaseEntry = await lease.get(LEADER_KEY).catch(() => null);
  const leader = leaseEntry?.operation === 'PUT' ? parseLeaseRecord(safeJson(leaseEntry.string())) : undefined;
  const settled = issues.length === expected.length && issues.every((issue) => SETTLED.has(issue.state) && issue.outbox === 0);
  return { issues, settled, done: issues.filter((issue) => issue.state === 'done').length, leader };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** One run of an agent, as its runner marked it in the pane log of its node. */
export interface StageRun {
  node: string;
  taskId: string;
  issue: number;
  role: string;
  attempt: number;
  /** The end marker's status; undefined when the run never ended (its node or runner died). */
  status: string | undefined;
  /** When it started (ISO). */
  at: string;
}

/** Every run the runners of `nodes` marked in their pane logs (`<dataDir>/logs/agents/<agent>/*.log`). */
export async function stageRuns(nodes: ReadonlyArray<{ name: string; dataDir: string }>): Promise<StageRun[]> {
  const runs: StageRun[] = [];
  for (const node of nodes) {
    const open = new Map<string, StageRun>();
    for (const marker of await markersUnder(join(node.dataDir, 'logs', 'agents'))) {
      if (marker.kind === 'start') {
        const run: StageRun = { node: node.name, taskId: marker.taskId, issue: marker.issue, role: marker.role, attempt: marker.attempt, status: undefined, at: marker.at };
        runs.push(run);
        open.set(marker.taskId, run);
      } else {
        const run = open.get(marker.taskId);
        if (run) run.status = marker.status;
        open.delete(marker.taskId);
      }
    }
  }
  return runs.sort((a, b) => a.at.localeCompare(b.at));
}

/** Every task start and end marker the runners wrote under `root` (`<dataDir>/logs/agents`), agent by agent, file by file. */
export async function markersUnder(root: string): Promise<TaskMarker[]> {
  const markers: TaskMarker[] = [];
  for (const agent of (await readdir(root).catch(() => [] as string[])).sort()) {
    for (const file of (await readdir(join(root, agent)).catch(() => [] as string[])).sort()) {
      const text = await readFile(join(root, agent, file), 'utf8').catch(() => '');
      for (const line of text.split('\n')) {
        const marker = parseMarker(line);
        if (marker) markers.push(marker);
      }
    }
  }
  return markers;
}

/**
 * Runs of the same task (id and attempt) that both finished it: a task run twice. A run that never
 * ended (killed with its node) or ended handing the task back (`retry`: stopped, killed by a
 * signal, timed out, cancelled — the bus gives it to another runner by design, on one node as on
 * several) did not finish it; the run that finishes it is its only finishing run.
 */
export function runTwice(runs: readonly StageRun[]): StageRun[][] {
  const finished = new Map<string, StageRun[]>();
  for (const run of runs) {
    if (run.status === undefined || run.status === 'retry') continue;
    const key = `${run.taskId}#${run.attempt}`;
    finished.set(key, [...(finished.get(key) ?? []), run]);
  }
  return [...finished.values()].filter((group) => group.length > 1);
}
