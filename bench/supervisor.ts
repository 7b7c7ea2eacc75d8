/**
 * Supervisor benchmarks: time from a crash to the fresh replacement being ready, and the time to
 * start 10,000 children under one supervisor.
 */
import { createActor, setup } from 'xstate';
import { supervisorLogic, supervisorOf, type SupervisorEvent } from '../src/supervisor/index.ts';
import type { BenchRow } from './types.ts';

const crashable = setup({
  actions: {
    crash: () => {
      throw new Error('bench crash');
    },
  },
}).createMachine({
  initial: 'running',
  on: { crash: { actions: 'crash' }, 'supervisor.shutdown': '.stopped' },
  states: { running: {}, stopped: { type: 'final' } },
});

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function restartLatency(samples: number): Promise<{ median: number; p99: number }> {
  let onStarted: (() => void) | undefined;
  const listener = (event: SupervisorEvent) => {
    if (event.type === 'child.started') onStarted?.();
  };
  const root = createActor(supervisorLogic, {
    input: {
      id: 'bench',
      strategy: 'one_for_one',
      restartIntensity: samples + 1,
      restartPeriodMs: 60_000,
      listener,
      children: [{ id: 'worker', logic: crashable }],
    },
  });
  root.subscribe({ error: () => {} });
  root.start();
  const supervisor = supervisorOf(root)!;
  await waitReady(root);
  const timings: number[] = [];
  for (let index = 0; index < samples; index += 1) {
    const started = new Promise<void>((resolve) => {
      onStarted = resolve;
    });
    const begin = performance.now();
    supervisor.childActor('worker')!.send({ type: 'crash' });
    await started;
    timings.push(performance.now() - begin);
  }
  root.stop();
  timings.sort((a, b) => a - b);
  return { median: percentile(timings, 50), p99: percentile(timings, 99) };
}

async function startMany(count: number): Promise<number> {
  const workers = setup({}).createMachine({
    initial: 'running',
    on: { 'supervisor.shutdown': '.stopped' },
    states: { running: {}, stopped: { type: 'final' } },
  });
  const begin = performance.now();
  const root = createActor(supervisorLogic, {
    input: {
      id: 'many',
      strategy: 'one_for_one',
      children: Array.from({ length: count }, (_, index) => ({ id: `w${index}`, logic: workers })),
    },
  });
  root.subscribe({ error: () => {} });
  root.start();
  await waitReady(root);
  const elapsed = performance.now() - begin;
  root.stop();
  return elapsed;
}

function waitReady(root: ReturnType<typeof createActor<typeof supervisorLogic>>): Promise<void> {
  return new Promise((resolve, reject) => {
    const subscription = root.subscribe({
      next: (snapshot) => {
        if (snapshot.context.ready) {
          subscription.unsubscribe();
          resolve();
        }
      },
      error: reject,
    });
    if (root.getSnapshot().context.ready) resolve();
  });
}

export async function benchSupervisor(): Promise<BenchRow[]> {
  await restartLatency(200); // warm-up
  const restart = await restartLatency(2_000);
  const many = await startMany(10_000);
  return [
    { name: 'supervisor: restart of a crashed in-process child, median', value: restart.median, unit: 'ms', note: 'goal < 1 ms' },
    { name: 'supervisor: restart of a crashed in-process child, p99', value: restart.p99, unit: 'ms' },
    { name: 'supervisor: start 10,000 children under one supervisor', value: many, unit: 'ms', note: 'goal < 1000 ms' },
  ];
}
