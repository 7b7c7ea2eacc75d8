import { afterEach, describe, expect, it } from 'vitest';
import { createMachine, setup } from 'xstate';
import type { SupervisorEvent } from '../../src/supervisor/index.ts';
import { Journal, startTree, waitForEntry, worker, type RunningTree } from './helpers.ts';
import { waitFor } from '../support/wait.ts';

let tree: RunningTree | undefined;
afterEach(async () => {
  await tree?.stop();
  tree = undefined;
});

describe('backoff between restarts', () => {
  it('waits min × 2^n (with jitter, capped) before each restart in the window', async () => {
    const journal = new Journal();
    const startedAt: number[] = [];
    const exitedAt: number[] = [];
    tree = await startTree({
      id: 'backoff',
      strategy: 'one_for_one',
      restartIntensity: 10,
      restartPeriodMs: 60_000,
      backoff: { minMs: 40, maxMs: 160, randomFactor: 0.25 },
      random: () => 0.5,
      listener: (event: SupervisorEvent) => {
        if (!('child' in event) || event.child !== 'a') return;
        if (event.type === 'child.started') startedAt.push(Date.now());
        if (event.type === 'child.exited') exitedAt.push(Date.now());
      },
      children: [worker('a', journal)],
    });
    for (let round = 2; round <= 5; round += 1) {
      tree.supervisor.childActor('a')!.send({ type: 'crash' });
      await waitForEntry(journal, `start:a`, round);
      await waitFor(() => tree!.supervisor.childActor('a') && startedAt.length >= round, { what: 'a running' });
    }
    const delays = tree.events.flatMap((event) => (event.type === 'child.restarting' ? [event.delayMs] : []));
    // 40, 80, 160, capped 160; each × (1 + 0.5 × 0.25)
    expect(delays).toEqual([45, 90, 180, 180]);
    for (let index = 0; index < delays.length; index += 1) {
      const waited = startedAt[index + 1]! - exitedAt[index]!;
      expect(waited, `restart ${index + 1} waited ${waited} ms`).toBeGreaterThanOrEqual(delays[index]! - 2);
    }
    // while waiting, the child is reported in backoff
    tree.supervisor.childActor('a')!.send({ type: 'crash' });
    await waitFor(() => tree!.supervisor.inspect().children![0]!.status === 'backoff', { what: 'backoff status' });
  });

  it('cancels a pending restart when the supervisor stops', async () => {
    const journal = new Journal();
    tree = await startTree({
      id: 'backoff-stop',
      strategy: 'one_for_one',
      backoff: { minMs: 60_000, maxMs: 60_000, randomFactor: 0 },
      children: [worker('a', journal)],
    });
    tree.supervisor.childActor('a')!.send({ type: 'crash' });
    await waitFor(() => tree!.supervisor.inspect().children![0]!.status === 'backoff', { what: 'backoff status' });
    await tree.stop();
    expect(journal.count('start:a')).toBe(1);
  });
});

describe('simple_one_for_one pools', () => {
  it('adds and removes children at run time and restarts only the one that crashed', async () => {
    const journal = new Journal();
    tree = await startTree({ id: 'pool', strategy: 'simple_one_for_one', restartIntensity: 10 });
    for (const id of ['w1', 'w2', 'w3']) await tree.supervisor.startChild(worker(id, journal));
    expect(tree.supervisor.childIds()).toEqual(['w1', 'w2', 'w3']);

    tree.supervisor.childActor('w2')!.send({ type: 'crash' });
    await waitForEntry(journal, 'start:w2', 2);
    expect(journal.count('start:w1')).toBe(1);
    expect(journal.count('start:w3')).toBe(1);

    await tree.supervisor.terminateChild('w1');
    expect(tree.supervisor.childIds()).toEqual(['w2', 'w3']);
    expect(journal.count('shutdown:w1')).toBe(1);

    // a transient child that finishes normally leaves the pool
    await tree.supervisor.startChild(worker('w4', journal, { restart: 'transient' }));
    tree.supervisor.childActor('w4')!.send({ type: 'finish' });
    await waitFor(() => !tree!.supervisor.childIds().includes('w4'), { what: 'w4 removed' });
  });

  it('refuses children in its initial spec', async () => {
    const journal = new Journal();
    await expect(
      startTree({ id: 'pool', strategy: 'simple_one_for_one', children: [worker('x', journal)] }),
    ).rejects.toThrow(/starts empty/);
  });
});

describe('fresh actors on restart', () => {
  it('restarts a machine that registers a systemId without tripping over it', async () => {
    const starts: string[] = [];
    const withSystemChild = setup({
      actors: { clock: createMachine({}) },
      actions: {
        boom: () => {
          throw new Error('boom');
        },
      },
    }).createMachine({
      entry: () => starts.push('start'),
      invoke: { src: 'clock', systemId: 'scheduler-clock' },
      on: { crash: { actions: 'boom' }, 'supervisor.shutdown': '.done' },
      initial: 'running',
      states: { running: {}, done: { type: 'final' } },
    });
    tree = await startTree({
      id: 'sysid',
      strategy: 'one_for_one',
      restartIntensity: 10,
      children: [{ id: 'machine', logic: withSystemChild }],
    });
    for (let round = 2; round <= 3; round += 1) {
      tree.supervisor.childActor('machine')!.send({ type: 'crash' });
      await waitFor(() => starts.length >= round && tree!.supervisor.childActor('machine'), { what: `start ${round}` });
    }
    expect(tree.actor.getSnapshot().status).toBe('active');
    expect(tree.supervisor.childActor('machine')!.getSnapshot().status).toBe('active');
  });
});
