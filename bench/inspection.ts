/**
 * Inspection: the dispatch benchmark (bench/dispatch.ts: 1,000 issues ready at once, through the
 * real bus to in-process agents) with the console's inspection hub recording every lifecycle step
 * to the MIYABI_INSPECT stream, against the same without it, in one run. Each run gets a fresh
 * nats-server and store; the modes alternate (off, on, off, on) so drift on a shared machine
 * falls on both. The goal (issue #13): with inspection ≥ 90 % of without.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect } from '@nats-io/transport-node';
import { spawnNatsServer } from '../src/infra/nats/embedded-server.ts';
import { ourPath } from './dispatch.ts';
import type { BenchRow } from './types.ts';

const ROUNDS = 2;

async function once(inspect: boolean): Promise<{ perSecond: number; published: number; dropped: number }> {
  const storeDir = await mkdtemp(path.join(tmpdir(), 'miyabi-bench-inspection-'));
  const server = await spawnNatsServer({ storeDir });
  const nc = await connect({ servers: server.url, noAsyncTraces: true });
  try {
    const run = await ourPath(nc, inspect);
    await nc.flush();
    return { perSecond: run.perSecond, published: run.inspection?.publisher.published ?? 0, dropped: run.inspection?.publisher.dropped ?? 0 };
  } finally {
    await nc.close();
    await server.stop();
    await rm(storeDir, { recursive: true, force: true });
  }
}

export async function benchInspection(): Promise<BenchRow[]> {
  const off: number[] = [];
  const on: number[] = [];
  let published = 0;
  let dropped = 0;
  for (let round = 0; round < ROUNDS; round += 1) {
    off.push((await once(false)).perSecond);
    const run = await once(true);
    on.push(run.perSecond);
    published += run.published;
    dropped += run.dropped;
  }
  const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
  return [
    { name: 'inspection: dispatch without it', value: mean(off), unit: 'issues/s', note: `1,000 ready issues; mean of ${ROUNDS} runs` },
    { name: 'inspection: dispatch with it', value: mean(on), unit: 'issues/s', note: `every lifecycle step recorded to MIYABI_INSPECT; ${published} published, ${dropped} dropped` },
    { name: 'inspection: with / without', value: mean(on) / mean(off), unit: '×', note: 'same run, alternating; goal ≥ 0.9' },
  ];
}
