/**
 * A restart with history (issue #18): the KV bucket of a real nats-server holds N finished issues
 * and 50 open ones, and the real CLI (`up`, the compiled bundle) starts on it. Measured: spawn →
 * /readyz answering 200 (the workflow has restored every issue, src/actors/lifecycles.ts), and the
 * orchestrator's RSS then and its peak (VmHWM), for N = 1,000 and N = 10,000, and how each grows;
 * beside them the floor, the same start on a bucket with one finished issue.
 *
 * The records are the real thing: one issue is worked through a two-stage route by the workflow
 * engine (results with summaries and outputs, as agents give them) and its record, read back from
 * KV, is the template of every finished one; the open ones are observed by the engine and queued.
 * Each N runs on a store of its own, ROUNDS starts each; the medians are reported.
 */
import { execa } from 'execa';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect } from '@nats-io/transport-node';
import { pino } from 'pino';
import { parseConfigText } from '../src/config/load.ts';
import { Bus } from '../src/infra/bus/bus.ts';
import { spawnNatsServer } from '../src/infra/nats/embedded-server.ts';
import { Workflow } from '../src/workflow/engine.ts';
import type { IssueRecord } from '../src/workflow/record.ts';
import { WorkflowStore } from '../src/workflow/store.ts';
import { workflowParts } from '../test/support/workflow-parts.ts';
import { noopTracker } from './dispatch.ts';
import type { BenchRow } from './types.ts';

const OPEN = 50;
const ROUNDS = 3;
/** Finished issues in the bucket; the first, the worked template alone, is the floor: a start with no history. */
const SIZES = [1, 1_000, 10_000];
const FIRST_OPEN = 1_000_001;
const root = path.resolve(import.meta.dirname, '..');

interface Measured {
  readyMs: number;
  rssMb: number;
  peakMb: number;
}

const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  const { port } = server.address() as { port: number };
  await new Promise((closed) => server.close(closed));
  return port;
}

const body = (number: number) => `Make the widget of issue ${number} configurable.\n\n${'Acceptance: the option is documented, tested and shown in the console. '.repeat(6)}`;

/** Fills the bucket: `finished` records cloned from a worked one, and OPEN issues observed (queued). */
async function fill(url: string, finished: number): Promise<void> {
  const parsed = parseConfigText(
    ['agents: { codegen: { command: [x] }, review: { command: [x] } }', 'workflow: { defaultRoute: [codegen, review] }', 'bus: { storage: file }'].join('\n'),
    'bench.yaml',
  );
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  const nc = await connect({ servers: url, noAsyncTraces: true });
  const bus = new Bus(nc, { sender: 'bench', logger: pino({ level: 'silent' }) });
  await bus.ensureTopology();
  const kv = await bus.kv();
  const engineOptions = {
    config: parsed.config,
    source: noopTracker,
    store: new WorkflowStore(kv),
    logger: pino({ level: 'silent' }),
    publish: async () => {},
    cancel: async () => {},
  };
  const engine = new Workflow({ ...engineOptions, ...workflowParts(parsed.config) });
  await engine.start();
  const observe = (number: number) =>
    engine.observe({ issue: { number, title: `Widget option ${number}`, body: body(number), labels: ['miyabi'], author: 'someone' }, contentHash: `h${number}`, dependsOn: [] });
  await observe(1);
  for (const [stage, role] of [['codegen', 'codegen'], ['review', 'review']] as const) {
    const { taskId, attempt } = engine.snapshot(1).context;
    await engine.result({
      taskId: taskId!, issue: 1, role, stage, attempt, agentId: `${role}-1`, status: 'success', reason: 'ok', durationMs: 91_000, worktree: '/w', branch: 'miyabi/1',
      summary: `${stage}: added the option, its schema entry, two tests and a paragraph of docs; ${'all checks pass. '.repeat(4)}`,
      outputs: { files: ['src/widget.ts', 'src/config/widget.ts', 'test/widget.test.ts', 'docs/WIDGET.md'] },
    } as never);
  }
  await engine.flush();
  if (String(engine.snapshot(1).value) !== 'done') throw new Error(`restart bench: the template issue is ${String(engine.snapshot(1).value)}, not done`);
  for (let number = FIRST_OPEN; number < FIRST_OPEN + OPEN; number += 1) await observe(number);
  await engine.flush();
  await engine.close();
  const template = JSON.parse(new TextDecoder().decode((await kv.get('issue.1'))!.value)) as IssueRecord;
  const encoder = new TextEncoder();
  const writes: Array<Promise<unknown>> = [];
  for (let number = 2; number <= finished; number += 1) {
    const record: IssueRecord = { ...template, number, issue: { ...template.issue, number, title: `Widget option ${number}`, body: body(number) }, contentHash: `h${number}` };
    writes.push(kv.put(`issue.${number}`, encoder.encode(JSON.stringify(record))));
    if (writes.length >= 256) await Promise.all(writes.splice(0));
  }
  await Promise.all(writes);
  // A start on it, as the orchestra's last run would have left it: each finished issue summed up, the graph saved whole.
  const settled = new Workflow({ ...engineOptions, ...workflowParts(parsed.config) });
  await settled.start();
  await settled.close();
  await bus.close();
  await nc.close();
}

async function rssKb(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
}

/** One start of the real CLI: spawn → /readyz 200, the RSS then and its peak. */
async function start(dir: string, url: string, round: number): Promise<Measured> {
  const port = await freePort();
  const issues = path.join(dir, 'issues');
  const config = path.join(dir, `up-${round}.yaml`);
  await writeFile(
    config,
    [
      `dataDir: ${path.join(dir, `data-${round}`)}`,
      `nats: { urls: ['${url}'] }`,
      `http: { port: ${port} }`,
      'log: { level: warn }',
      `issues: { local: { dir: ${issues}, pollIntervalMs: 60000 } }`,
      `workspace: { repo: ${root} }`,
      `panes: { backend: process }`,
      `agents: { codegen: { command: [node, ${path.join(root, 'examples/agents/codegen.mjs')}], min: 0 }, review: { command: [node, ${path.join(root, 'examples/agents/review.mjs')}], min: 0 } }`,
      'workflow: { defaultRoute: [codegen, review] }',
    ].join('\n'),
  );
  const started = performance.now();
  const up = execa(process.execPath, [path.join(root, 'dist/miyabi-orchestra.mjs'), 'up', '--config', config], { reject: false, all: true });
  try {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const status = await fetch(`http://127.0.0.1:${port}/readyz`).then((answer) => answer.status, () => 0);
      if (status === 200) break;
      if (up.exitCode !== null) throw new Error(`restart bench: up exited (${up.exitCode}) before /readyz: ${String(up.all).slice(-2000)}`);
      if (Date.now() > deadline) throw new Error('restart bench: /readyz not 200 within 120 s');
      await new Promise((next) => setTimeout(next, 10));
    }
    const readyMs = performance.now() - started;
    return { readyMs, rssMb: (await rssKb(up.pid!, 'VmRSS')) / 1024, peakMb: (await rssKb(up.pid!, 'VmHWM')) / 1024 };
  } finally {
    up.kill('SIGTERM');
    await up;
  }
}

export async function benchRestart(): Promise<BenchRow[]> {
  await execa(process.execPath, [path.join(root, 'scripts/build.mjs')]);
  const results = new Map<number, Measured>();
  for (const finished of SIZES) {
    const dir = await mkdtemp(path.join(tmpdir(), 'miyabi-bench-restart-'));
    const server = await spawnNatsServer({ storeDir: path.join(dir, 'nats') });
    try {
      await fill(server.url, finished);
      // The open issues are on the tracker too: the watcher leaves them open between rounds.
      await mkdir(path.join(dir, 'issues'));
      for (let number = FIRST_OPEN; number < FIRST_OPEN + OPEN; number += 1) {
        await writeFile(path.join(dir, 'issues', `${number}.md`), `---\nnumber: ${number}\ntitle: Widget option ${number}\nlabels: [miyabi]\n---\n${body(number)}\n`);
      }
      const rounds = [];
      for (let round = 0; round < ROUNDS; round += 1) rounds.push(await start(dir, server.url, round));
      results.set(finished, { readyMs: median(rounds.map((r) => r.readyMs)), rssMb: median(rounds.map((r) => r.rssMb)), peakMb: median(rounds.map((r) => r.peakMb)) });
    } finally {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    }
  }
  const [floor, small, large] = [1, 1_000, 10_000].map((size) => results.get(size)!) as [Measured, Measured, Measured];
  const rows: BenchRow[] = [];
  for (const size of SIZES) {
    const result = results.get(size)!;
    const label = size.toLocaleString('en');
    const above = size === SIZES[0] ? 'floor: no history' : `${(result.readyMs - floor.readyMs).toFixed(0)} ms above the floor`;
    rows.push(
      { name: `restart: ${label} finished + ${OPEN} open issues, up → /readyz`, value: result.readyMs, unit: 'ms', note: `median of ${ROUNDS} starts of the compiled CLI; ${above}; goal < 3 s at 10,000` },
      { name: `restart: ${label} finished + ${OPEN} open, orchestrator RSS at ready`, value: result.rssMb, unit: 'MiB', note: `peak (VmHWM) ${result.peakMb.toFixed(0)} MiB; goal < 200 MB at 10,000` },
    );
  }
  rows.push(
    { name: 'restart: start to ready, 10,000 / 1,000 finished', value: large.readyMs / small.readyMs, unit: '×', note: '1.0: history costs nothing; 10: grows with it' },
    { name: 'restart: RSS at ready, 10,000 / 1,000 finished', value: large.rssMb / small.rssMb, unit: '×', note: `peak ${(large.peakMb / small.peakMb).toFixed(2)}×` },
  );
  return rows;
}
