/**
 * Handoff: how long the orchestra takes between one agent and the next, unloaded (a chain of
 * issues, one thing at a time), with real runner processes, the real bus and a real git repository:
 *
 *   stage → stage      from the orchestra's receipt of a stage's result (the result message's
 *                      arrival in the orchestra's process) to the next stage's agent process
 *                      started, for the same issue (codegen → review, review → pr);
 *   merged → dependent from a dependency's merge recorded (the orchestra's log) to its dependent's
 *                      first agent process started (merged mode: the dependent's branch is made
 *                      from main after the merge).
 *
 * "Started" is the agent's own first instant (bench/fixtures/stamp-agent.mjs, in its task
 * directory). Beside a floor measured in the same run on the same machine: a raw JetStream round
 * trip (publish with PubAck to a stream, a pull consumer receives it and acks) plus a spawn of the
 * same agent as a runner spawns it — from a process of its own, through the runner's own code,
 * in the sandbox when agents run in one (bench/fixtures/spawn-floor.ts). The goal is a median
 * within 3× the floor. Quantiles are interpolated between the nearest samples.
 */
import { execa } from 'execa';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { resultSubject, type TaskResult } from '../src/runner/task-message.ts';
import { startTestOrchestra } from '../test/support/orchestra.ts';
import { waitFor } from '../test/support/wait.ts';
import { quantile, readStamps, type Stamp } from './stamps.ts';
import type { BenchRow } from './types.ts';

/** 31 issues: 30 merge handoffs and 62 stage handoffs, so p99 is more than the slowest one. */
const CHAIN = 31;
const ROUNDS = 40;
const SPAWNS = 30;
const ROLES = ['codegen', 'review', 'pr'] as const;
const agentScript = join(import.meta.dirname, 'fixtures', 'stamp-agent.mjs');

async function chain(): Promise<{ stages: number[]; merges: number[] }> {
  const agent = { command: ['node', agentScript], min: 1, max: 1 };
  const test = await startTestOrchestra({
    backend: 'process',
    agents: { codegen: agent, review: agent, pr: agent },
    config: {
      log: { level: 'info', file: true },
      workflow: { defaultRoute: ['codegen', 'review', 'pr', 'merge'], ci: { command: [] } },
    },
  });
  try {
    // When each result reached the orchestra's process: a subscriber on its own connection, so
    // the callback runs on the orchestra's event loop, as the workflow's consumer does.
    const received = new Map<string, number>();
    const nc = test.orchestra.resources.nc as NatsConnection;
    const subscriptions = ROLES.map((role) =>
      nc.subscribe(resultSubject(role, '*'), {
        callback: (_error, message) => {
          const at = performance.timeOrigin + performance.now();
          const { payload } = message.json() as { payload: TaskResult };
          if (payload.taskId !== undefined && !received.has(`${payload.issue}.${payload.stage}`)) received.set(`${payload.issue}.${payload.stage}`, at);
        },
      }),
    );
    const issues = join(test.dir.path, 'issues');
    for (let number = 1; number <= CHAIN; number += 1) {
      const dependsOn = number === 1 ? '' : `dependsOn: [${number - 1}]\n`;
      await writeFile(join(issues, `${number}.md`), `---\nnumber: ${number}\ntitle: Step ${number}\nlabels: [miyabi]\n${dependsOn}---\nBench.\n`);
    }
    const log = async () => (await readFile(join(test.dataDir, 'logs', 'orchestra.log'), 'utf8').catch(() => '')).split('\n').filter(Boolean);
    await waitFor(async () => (await log()).filter((line) => line.includes('"msg":"merge recorded"')).length >= CHAIN, {
      timeoutMs: 600_000,
      intervalMs: 500,
      what: `${CHAIN} merges`,
    });
    for (const subscription of subscriptions) subscription.unsubscribe();
    const stamps = await readStamps(test.dataDir);
    const at = (issue: number, stage: string, event: Stamp['event']) => stamps.find((stamp) => stamp.issue === issue && stamp.stage === stage && stamp.event === event)?.at;
    const stages: number[] = [];
    const merges: number[] = [];
    const mergedAt = new Map<number, number>();
    for (const line of await log()) {
      const entry = JSON.parse(line) as { msg: string; issue?: number; time: string };
      if (entry.msg === 'merge recorded') mergedAt.set(entry.issue!, Date.parse(entry.time));
    }
    for (let number = 1; number <= CHAIN; number += 1) {
      for (const [from, to] of [['codegen', 'review'], ['review', 'pr']] as const) {
        const result = received.get(`${number}.${from}`);
        const start = at(number, to, 'start');
        if (result !== undefined && start !== undefined) stages.push(start - result);
      }
      const merged = mergedAt.get(number - 1);
      const start = at(number, 'codegen', 'start');
      if (number > 1 && merged !== undefined && start !== undefined) merges.push(start - merged);
    }
    return { stages, merges };
  } finally {
    await test.stop();
  }
}

/** Publish with PubAck → pull consumer receives → ack, one at a time. */
async function jetstreamRoundTrips(nc: NatsConnection): Promise<number[]> {
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  await jsm.streams.add({ name: 'BENCH_HANDOFF', subjects: ['bench.handoff'], storage: 'file' as never });
  await jsm.consumers.add('BENCH_HANDOFF', { durable_name: 'floor', ack_policy: AckPolicy.Explicit });
  const consumer = await js.consumers.get('BENCH_HANDOFF', 'floor');
  const times: number[] = [];
  try {
    for (let round = 0; round < ROUNDS; round += 1) {
      const started = performance.now();
      await js.publish('bench.handoff', `round ${round}`);
      const message = await consumer.next({ expires: 5_000 });
      message?.ack();
      times.push(performance.now() - started);
    }
  } finally {
    await jsm.streams.delete('BENCH_HANDOFF');
  }
  return times;
}

/** The agent spawned as a runner spawns it, from a process of its own (bench/fixtures/spawn-floor.ts). */
async function spawns(dir: string): Promise<{ sandboxed: boolean; times: number[] }> {
  const dataDir = join(dir, 'floor-data');
  const worktree = join(dataDir, 'worktrees', 'floor');
  await mkdir(worktree, { recursive: true });
  const floor = join(import.meta.dirname, 'fixtures', 'spawn-floor.ts');
  const run = await execa('node', ['--import', 'tsx', floor, String(SPAWNS), dataDir, worktree, agentScript]);
  return JSON.parse(run.stdout) as { sandboxed: boolean; times: number[] };
}

export async function benchHandoff(): Promise<BenchRow[]> {
  const { stages, merges } = await chain();
  const floorTest = await startTestOrchestra({ backend: 'process', agents: {} });
  let roundTrips: number[];
  let spawn: { sandboxed: boolean; times: number[] };
  try {
    roundTrips = await jetstreamRoundTrips(floorTest.orchestra.resources.nc!);
    spawn = await spawns(floorTest.dir.path);
  } finally {
    await floorTest.stop();
  }
  const floor = quantile(roundTrips, 0.5) + quantile(spawn.times, 0.5);
  const row = (name: string, values: number[], note: string): BenchRow[] => [
    { name: `handoff: ${name}, median`, value: quantile(values, 0.5), unit: 'ms', note: `${values.length} handoffs; ${note}` },
    { name: `handoff: ${name}, p99`, value: quantile(values, 0.99), unit: 'ms', note: `slowest ${Math.max(...values).toFixed(0)} ms` },
    { name: `handoff: ${name}, median / floor`, value: quantile(values, 0.5) / floor, unit: '×', note: 'goal ≤ 3×' },
  ];
  return [
    ...row(
      'stage result received → next stage\'s agent started',
      stages,
      'the orchestra steps and writes KV, dispatches, a runner pulls, prepares the worktree and task files, spawns',
    ),
    ...row('dependency merged → dependent\'s agent started', merges, 'merge recorded, dependent ready, branch made from main, dispatched, spawned'),
    {
      name: 'handoff: floor (JetStream round trip + agent spawn), median',
      value: floor,
      unit: 'ms',
      note: `round trip ${quantile(roundTrips, 0.5).toFixed(1)} ms + spawn ${quantile(spawn.times, 0.5).toFixed(1)} ms (${spawn.times.length} spawns as a runner spawns, ${spawn.sandboxed ? 'in the sandbox' : 'no sandbox'}), same run`,
    },
  ];
}
