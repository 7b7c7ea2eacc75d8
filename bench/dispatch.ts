/**
 * Dispatch: 1,000 issues become ready at once (they all depend on one issue, which completes) and
 * go to in-process no-op agents through the real bus: the workflow engine steps each lifecycle,
 * writes its record to the KV bucket (256 issues' at once), publishes its task, writes the
 * record again without the task in its outbox (the dispatch's ledger), and writes the state label
 * and comment to a no-op tracker in the background; an agent (a durable pull consumer) takes the
 * task. Measured:
 * issues/s and the latency from "ready" to "agent started", median and p99.
 *
 * Against, in the same run on the same server: raw JetStream, the same 1,000 task messages
 * published one after another (PubAck awaited, as the engine does) to a pull consumer. The ratio
 * is what the orchestra's durability and bookkeeping cost per dispatch.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { parseConfigText } from '../src/config/load.ts';
import { Bus } from '../src/infra/bus/bus.ts';
import { spawnNatsServer } from '../src/infra/nats/embedded-server.ts';
import type { IssueSource } from '../src/issues/source.ts';
import { TASK_DISPATCHED, taskSubject, type TaskMessage } from '../src/runner/task-message.ts';
import { Workflow } from '../src/workflow/engine.ts';
import { InspectionHub } from '../src/actors/inspection.ts';
import { workflowParts } from '../test/support/workflow-parts.ts';
import { WorkflowStore } from '../src/workflow/store.ts';
import type { BenchRow } from './types.ts';

const ISSUES = 1_000;
const BATCH = 256;

/** A tracker that accepts every write and remembers nothing: the bench measures the orchestra's path. */
export const noopTracker: IssueSource = {
  kind: 'local',
  listOpen: async () => ({ issues: [] }),
  get: async () => undefined,
  labeler: async () => undefined,
  comment: async () => ({ posted: true }),
  setExclusiveLabel: async () => {},
  openPullRequest: async (request) => ({ number: request.issue, url: '', created: true }),
  listComments: async () => [],
  pullRequest: async () => undefined,
  mergePullRequest: async () => ({ kind: 'refused', reason: 'the bench tracker merges nothing' }),
  retargetPullRequest: async () => {},
  syncLabels: async () => ({ created: [] }),
  close: async () => {},
};

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

/** The orchestra's path; `inspect`: with the console's inspection hub recording every lifecycle step (bench/inspection.ts). */
export async function ourPath(nc: NatsConnection, inspect = false): Promise<{ perSecond: number; latencies: number[]; inspection?: InspectionHub }> {
  const parsed = parseConfigText(
    [`agents: { codegen: { command: [x], max: ${ISSUES + 1} } }`, 'workflow: { defaultRoute: [codegen] }', 'bus: { storage: file }'].join('\n'),
    'bench.yaml',
  );
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  const logger = pino({ level: 'silent' });
  const bus = new Bus(nc, { sender: 'bench', logger });
  await bus.ensureTopology();
  const started = new Map<number, number>();
  let readyAt = 0;
  let allStarted!: () => void;
  const done = new Promise<void>((resolve) => (allStarted = resolve));
  const agents = await bus.consume<TaskMessage>({
    stream: bus.topology.streams.tasks,
    durable: 'bench-agents',
    filterSubject: taskSubject('codegen'),
    batch: BATCH,
    handler: async (envelope) => {
      const number = envelope.payload.issue.number;
      if (number === 1 || started.has(number)) return;
      started.set(number, performance.now());
      if (started.size === ISSUES) allStarted();
    },
  });
  const inspection = inspect ? new InspectionHub({ config: parsed.config, logger }) : undefined;
  await inspection?.connect(nc);
  const engine = new Workflow({
    ...(inspection ? { onTransition: (record, previous, next, event) => inspection.issueTransition(record, previous, next, event) } : {}),
    config: parsed.config,
    ...workflowParts(parsed.config),
    source: noopTracker,
    store: new WorkflowStore(await bus.kv()),
    logger,
    publish: async (subject, type, payload, msgId) => {
      await bus.publish(subject, type, payload, { msgId });
    },
    cancel: async () => {},
  });
  await engine.start();
  const issue = (number: number, dependsOn: number[]) =>
    engine.observe({
      issue: { number, title: `Issue ${number}`, body: 'Bench.', labels: ['miyabi'], author: 'bench' },
      contentHash: `h${number}`,
      dependsOn,
    });
  await issue(1, []);
  for (let number = 2; number <= ISSUES + 1; number += 1) await issue(number, [1]);
  const root = engine.snapshot(1)!.context;
  // #1 completes: every other issue is ready from this instant.
  readyAt = performance.now();
  await engine.result({
    taskId: root.taskId!, issue: 1, role: 'codegen', stage: 'codegen', attempt: 1, agentId: 'bench', status: 'success', reason: 'ok', durationMs: 0, worktree: '/', branch: 'b',
  });
  await done;
  const last = Math.max(...started.values());
  await agents.stop();
  await engine.close();
  await bus.close();
  const latencies = [...started.values()].map((at) => at - readyAt);
  return { perSecond: ISSUES / ((last - readyAt) / 1000), latencies, ...(inspection ? { inspection } : {}) };
}

async function rawPath(nc: NatsConnection): Promise<{ perSecond: number; latencies: number[] }> {
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  await jsm.streams.add({ name: 'RAW_DISPATCH', subjects: ['raw.dispatch.>'], storage: 'file' as never });
  await jsm.consumers.add('RAW_DISPATCH', { durable_name: 'raw', ack_policy: AckPolicy.Explicit });
  const consumer = await js.consumers.get('RAW_DISPATCH', 'raw');
  const messages = await consumer.consume({ max_messages: BATCH });
  const started: number[] = [];
  let allStarted!: () => void;
  const done = new Promise<void>((resolve) => (allStarted = resolve));
  void (async () => {
    for await (const message of messages) {
      started.push(performance.now());
      message.ack();
      if (started.length === ISSUES) allStarted();
    }
  })();
  const readyAt = performance.now();
  for (let number = 2; number <= ISSUES + 1; number += 1) {
    await js.publish('raw.dispatch.codegen', JSON.stringify({ number, title: `Issue ${number}` }), { msgID: `raw:${number}` });
  }
  await done;
  await messages.close();
  const last = Math.max(...started);
  return { perSecond: ISSUES / ((last - readyAt) / 1000), latencies: started.map((at) => at - readyAt) };
}

export async function benchDispatch(): Promise<BenchRow[]> {
  const storeDir = await mkdtemp(path.join(tmpdir(), 'miyabi-bench-dispatch-'));
  const server = await spawnNatsServer({ storeDir });
  const nc = await connect({ servers: server.url, noAsyncTraces: true });
  try {
    const ours = await ourPath(nc);
    const raw = await rawPath(nc);
    return [
      { name: 'dispatch: orchestra, 1,000 ready issues → agents', value: ours.perSecond, unit: 'issues/s', note: 'ready = their one dependency completes; 256 issues committed at once' },
      { name: 'dispatch: raw JetStream, 1,000 task messages → consumer', value: raw.perSecond, unit: 'msgs/s', note: 'same server, same run; PubAck awaited per message' },
      { name: 'dispatch: orchestra / raw JetStream', value: ours.perSecond / raw.perSecond, unit: '×', note: 'what durability (the KV record, written before and after the publish) and write-back cost per dispatch' },
      { name: 'dispatch: ready → agent start, median', value: quantile(ours.latencies, 0.5), unit: 'ms', note: `raw ${quantile(raw.latencies, 0.5).toFixed(1)} ms` },
      { name: 'dispatch: ready → agent start, p99', value: quantile(ours.latencies, 0.99), unit: 'ms', note: `raw ${quantile(raw.latencies, 0.99).toFixed(1)} ms; each dispatch: KV cache read, KV record, publish, KV record; label and comment in the background` },
    ];
  } finally {
    await nc.close();
    await server.stop();
    await rm(storeDir, { recursive: true, force: true });
  }
}
