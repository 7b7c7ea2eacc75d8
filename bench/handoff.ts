/**
 * Handoff: how long the orchestra takes between one agent and the next, unloaded (a chain of
 * issues, one thing at a time), with real runner processes, the real bus and a real git repository:
 *
 *   stage → stage      from an agent's last instant (its result) to the next stage's agent process
 *                      started, for the same issue (codegen → review, review → pr);
 *   merged → dependent from a dependency's merge recorded (the orchestra's log) to its dependent's
 *                      first agent process started (merged mode: the dependent's branch is made
 *                      from main after the merge).
 *
 * Beside a floor measured in the same run on the same machine: a raw JetStream round trip (publish
 * with PubAck to a stream, a pull consumer receives it and acks) plus a process spawn (`node` of
 * the same agent script, to its first instant). The goal is a median within 3× the floor.
 */
import { execa } from 'execa';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { readFile } from 'node:fs/promises';
import { startTestOrchestra } from '../test/support/orchestra.ts';
import { waitFor } from '../test/support/wait.ts';
import type { BenchRow } from './types.ts';

const CHAIN = 10;
const ROUNDS = 40;
const agentScript = join(import.meta.dirname, 'fixtures', 'stamp-agent.mjs');

interface Stamp {
  event: 'start' | 'end';
  at: number;
  issue: number;
  stage: string;
}

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

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
    const issues = join(test.dir.path, 'issues');
    for (let number = 1; number <= CHAIN; number += 1) {
      const dependsOn = number === 1 ? '' : `dependsOn: [${number - 1}]\n`;
      await writeFile(join(issues, `${number}.md`), `---\nnumber: ${number}\ntitle: Step ${number}\nlabels: [miyabi]\n${dependsOn}---\nBench.\n`);
    }
    const log = async () => (await readFile(join(test.dataDir, 'logs', 'orchestra.log'), 'utf8').catch(() => '')).split('\n').filter(Boolean);
    await waitFor(async () => (await log()).filter((line) => line.includes('"msg":"merge recorded"')).length >= CHAIN, {
      timeoutMs: 300_000,
      what: `${CHAIN} merges`,
    });
    const stamps = (await readFile(join(test.dataDir, 'bench-stamps.jsonl'), 'utf8')).split('\n').filter(Boolean).map((line) => JSON.parse(line) as Stamp);
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
        const end = at(number, from, 'end');
        const start = at(number, to, 'start');
        if (end !== undefined && start !== undefined) stages.push(start - end);
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

/** From spawn to the agent script's first instant (it exits at once: no task file). */
async function spawns(): Promise<number[]> {
  const times: number[] = [];
  for (let round = 0; round < ROUNDS / 2; round += 1) {
    const started = performance.timeOrigin + performance.now();
    const run = await execa('node', ['-e', 'process.stdout.write(String(performance.timeOrigin + performance.now()))']);
    times.push(Number(run.stdout) - started);
  }
  return times;
}

export async function benchHandoff(): Promise<BenchRow[]> {
  const { stages, merges } = await chain();
  const floorTest = await startTestOrchestra({ backend: 'process', agents: {} });
  let roundTrips: number[];
  try {
    roundTrips = await jetstreamRoundTrips(floorTest.orchestra.resources.nc!);
  } finally {
    await floorTest.stop();
  }
  const spawn = await spawns();
  const floor = quantile(roundTrips, 0.5) + quantile(spawn, 0.5);
  const row = (name: string, values: number[], note: string): BenchRow[] => [
    { name: `handoff: ${name}, median`, value: quantile(values, 0.5), unit: 'ms', note: `${values.length} handoffs; ${note}` },
    { name: `handoff: ${name}, p99`, value: quantile(values, 0.99), unit: 'ms', note: '' },
    { name: `handoff: ${name}, median / floor`, value: quantile(values, 0.5) / floor, unit: '×', note: 'goal ≤ 3×' },
  ];
  return [
    ...row('stage result → next stage\'s agent started', stages, 'runner publishes, orchestra steps and writes KV, dispatches, a runner pulls, prepares the worktree, spawns'),
    ...row('dependency merged → dependent\'s agent started', merges, 'merge recorded, dependent ready, branch made from main, dispatched, spawned'),
    { name: 'handoff: floor (JetStream round trip + process spawn), median', value: floor, unit: 'ms', note: `round trip ${quantile(roundTrips, 0.5).toFixed(1)} ms + spawn ${quantile(spawn, 0.5).toFixed(1)} ms, same run` },
  ];
}
