/**
 * Broker-loss MTTR (issue #15): an orchestra on the embedded default with idle agents, its
 * nats-server killed with `kill -9` ROUNDS times. Each round times the kill → a new server ready
 * (the broker supervisor's restart), and the kill → every agent's heartbeat arriving through the
 * new server (the orchestrator's own connection reconnected, then one heartbeat more from each
 * runner): the agents are working again. Beside it, the floor in the same run: a bare
 * `nats-server -js` from spawn to ready on a store of its own.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { AnyActorRef } from 'xstate';
import { loadConfig } from '../src/config/load.ts';
import { spawnNatsServer } from '../src/infra/nats/embedded-server.ts';
import { startOrchestra, type Orchestra } from '../src/orchestra/orchestra.ts';
import type { BenchRow } from './types.ts';

const ROUNDS = 10;
const ROUND_SPACING_MS = 3_000;
const ROLES = { codegen: 2, review: 1, pr: 1 };
const root = resolve(import.meta.dirname, '..');

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function until<T>(probe: () => T | undefined | false, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`broker-loss bench: no ${what} within ${timeoutMs} ms`);
    await new Promise((done) => setTimeout(done, 2));
  }
}

function agentsOf(orchestra: Orchestra): AnyActorRef[] {
  const agents = orchestra.root()?.childSupervisor('agents');
  return Object.entries(ROLES).flatMap(([role, count]) =>
    Array.from({ length: count }, (_, i) => agents?.childSupervisor(`pool.${role}`)?.childActor(`${role}-${i + 1}`)).filter((actor) => actor !== undefined),
  );
}

const heartbeats = (actor: AnyActorRef) => (actor.getSnapshot() as { context: { heartbeats: number } }).context.heartbeats;
const natsPid = (orchestra: Orchestra) =>
  (orchestra.root()?.childSupervisor('broker')?.childActor('nats-server')?.getSnapshot() as { context?: { detail?: { pid?: number } } } | undefined)?.context
    ?.detail?.pid;

async function floorMs(dir: string): Promise<number[]> {
  const times: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const started = performance.now();
    const server = await spawnNatsServer({ storeDir: join(dir, `floor-${round}`) });
    times.push(performance.now() - started);
    await server.stop();
  }
  return times;
}

export async function benchBrokerLoss(): Promise<BenchRow[]> {
  const dir = await mkdtemp(join(tmpdir(), 'miyabi-bench-broker-'));
  const agent = (role: string, min: number) => `  ${role}: { command: [node, ${join(root, `examples/agents/${role}.mjs`)}], min: ${min}, max: ${min} }`;
  const config = join(dir, 'bench.yaml');
  await writeFile(
    config,
    [
      `dataDir: ${join(dir, 'data')}`,
      'http: { enabled: false }',
      'log: { level: warn }',
      'panes: { backend: process }',
      `workspace: { repo: ${root} }`,
      'agents:',
      ...Object.entries(ROLES).map(([role, min]) => agent(role, min)),
    ].join('\n'),
  );
  const orchestra = await startOrchestra(await loadConfig(config), { logStream: false });
  const serverMs: number[] = [];
  const agentsMs: number[] = [];
  let lastKill = 0;
  try {
    await until(() => agentsOf(orchestra).length === 4 && agentsOf(orchestra).every((actor) => heartbeats(actor) > 0), 'agents ready');
    for (let round = 0; round < ROUNDS; round++) {
      // One kill per ROUND_SPACING_MS: faster would exceed the broker's restart intensity (5 in
      // 10 s by default), and the whole tree would restart, as it should for a server that keeps dying.
      if (round > 0) await new Promise((done) => setTimeout(done, Math.max(0, lastKill + ROUND_SPACING_MS - performance.now())));
      lastKill = performance.now();
      const deadPid = natsPid(orchestra)!;
      const killed = performance.now();
      process.kill(deadPid, 'SIGKILL');
      // The bus says `reconnecting` once it has noticed; `connected` again once it is back.
      await until(() => orchestra.inspect().children?.find((child) => child.id === 'bus')?.state === 'reconnecting' || natsPid(orchestra) !== deadPid, 'disconnect noticed');
      await until(() => natsPid(orchestra) !== undefined && natsPid(orchestra) !== deadPid, 'new nats-server');
      serverMs.push(performance.now() - killed);
      await until(() => orchestra.inspect().children?.find((child) => child.id === 'bus')?.state === 'connected', 'bus reconnected');
      const seen = new Map(agentsOf(orchestra).map((actor) => [actor, heartbeats(actor)]));
      await until(() => agentsOf(orchestra).every((actor) => heartbeats(actor) > (seen.get(actor) ?? -1)), 'every agent heartbeating');
      agentsMs.push(performance.now() - killed);
    }
  } finally {
    await orchestra.stop();
  }
  const floor = await floorMs(dir);
  await rm(dir, { recursive: true, force: true });
  const row = (name: string, values: number[], note?: string): BenchRow[] => [
    { name: `${name}, median`, value: percentile(values, 50), unit: 'ms', ...(note ? { note } : {}) },
    { name: `${name}, p99`, value: percentile(values, 99), unit: 'ms', note: `${ROUNDS} rounds: the slowest` },
  ];
  return [
    ...row('broker loss: kill -9 → a new nats-server ready', serverMs),
    ...row('broker loss: kill -9 → every agent heartbeating again (MTTR)', agentsMs, 'target ≤ 3000 ms (issue #15); 4 agents, default heartbeat interval'),
    ...row('floor: a bare nats-server -js, spawn → ready, same run', floor, 'floor'),
  ];
}
