/** Ordered start and stop, start failure rollback, escalation up the tree, shutdown and kill. */
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, MiyabiError } from '../../src/errors.ts';
import { supervisorChild, supervisorOf, type SupervisorEvent } from '../../src/supervisor/index.ts';
import { Journal, launchTree, startTree, waitForEntry, worker, type RunningTree } from './helpers.ts';
import { waitFor } from '../support/wait.ts';

let tree: RunningTree | undefined;
afterEach(async () => {
  await tree?.stop();
  tree = undefined;
});

const exitsOf = (events: SupervisorEvent[]) =>
  events.filter((event) => event.type === 'child.exited').map((event) => event.child);

describe('ordered start', () => {
  it('starts each child only after the previous one is ready', async () => {
    const journal = new Journal();
    const launched = launchTree({
      id: 'ordered',
      strategy: 'one_for_one',
      children: [worker('a', journal, { startsUnready: true }), worker('b', journal)],
    });
    tree = launched;
    await waitForEntry(journal, 'start:a');
    const a = await waitFor(() => launched.supervisor.childActor('a'), { what: 'actor a' });
    // a is still warming up: b must wait for it.
    expect(journal.entries).toEqual(['start:a']);
    expect(launched.actor.getSnapshot().context.ready).toBe(false);
    a.send({ type: 'ready' });
    await launched.ready;
    expect(journal.entries).toEqual(['start:a', 'start:b']);
  });

  it('rolls back when a child fails to start: stops those started, never starts the rest, reports why', async () => {
    const journal = new Journal();
    const launched = launchTree({
      id: 'rollback',
      strategy: 'one_for_one',
      children: [worker('a', journal), worker('b', journal), worker('c', journal, { failOnStart: true }), worker('d', journal)],
    });
    const error = await launched.failure;
    expect(error).toBeInstanceOf(MiyabiError);
    expect((error as MiyabiError).code).toBe(ErrorCodes.ChildStartFailed);
    expect((error as Error).message).toContain('child c failed to start');
    expect((error as Error).message).toContain('c cannot start');
    expect(journal.entries).toEqual(['start:a', 'start:b', 'start:c', 'shutdown:b', 'shutdown:a']);
    expect(launched.supervisor.childActor('a')).toBeUndefined();
  });

  it('treats a child that is never ready as a failed start after its start timeout', async () => {
    const journal = new Journal();
    const launched = launchTree({
      id: 'timeout',
      strategy: 'one_for_one',
      children: [worker('a', journal), worker('slow', journal, { startsUnready: true, startTimeoutMs: 50 })],
    });
    const error = (await launched.failure) as MiyabiError;
    expect(error.code).toBe(ErrorCodes.ChildStartFailed);
    expect(error.message).toContain('not ready after 50 ms');
    expect(journal.entries).toEqual(['start:a', 'start:slow', 'shutdown:slow', 'shutdown:a']);
  });
});

describe('ordered stop', () => {
  it('stops children newest first and kills one that ignores shutdown after its shutdown time', async () => {
    const journal = new Journal();
    tree = await startTree({
      id: 'stop-order',
      strategy: 'one_for_one',
      children: [
        worker('a', journal),
        worker('stubborn', journal, { ignoresShutdown: true, shutdown: 100 }),
        worker('c', journal),
      ],
    });
    const started = Date.now();
    await tree.stop();
    expect(journal.entries.filter((entry) => entry.startsWith('shutdown:'))).toEqual([
      'shutdown:c',
      'shutdown:stubborn',
      'shutdown:a',
    ]);
    expect(exitsOf(tree.events)).toEqual(['c', 'stubborn', 'a']);
    expect(tree.events).toContainEqual({ type: 'child.killed', supervisor: 'stop-order', child: 'stubborn', afterMs: 100 });
    // the stubborn child ended by the kill, not on its own: a's shutdown came after the 100 ms
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    expect(tree.actor.getSnapshot().status).toBe('done');
  });

  it('stops a nested subtree in order before the siblings started before it', async () => {
    const journal = new Journal();
    tree = await startTree({
      id: 'root',
      strategy: 'one_for_one',
      children: [
        worker('infra', journal),
        supervisorChild({ id: 'core', strategy: 'one_for_one', children: [worker('x', journal), worker('y', journal)] }),
        worker('edge', journal),
      ],
    });
    await tree.stop();
    expect(journal.entries.filter((entry) => entry.startsWith('shutdown:'))).toEqual([
      'shutdown:edge',
      'shutdown:y',
      'shutdown:x',
      'shutdown:infra',
    ]);
  });

  it('kills the whole subtree at once when the root actor is stopped', async () => {
    const journal = new Journal();
    tree = await startTree({
      id: 'root',
      strategy: 'one_for_one',
      children: [supervisorChild({ id: 'core', strategy: 'one_for_one', children: [worker('x', journal)] })],
    });
    const core = tree.supervisor.childSupervisor('core')!;
    const x = core.childActor('x')!;
    tree.actor.stop();
    expect(x.getSnapshot().status).toBe('stopped');
    expect(journal.count('shutdown:x')).toBe(0);
  });
});

describe('restart intensity', () => {
  it('escalates up two levels when the budget is exhausted at each', async () => {
    const journal = new Journal();
    tree = await startTree({
      id: 'root',
      strategy: 'one_for_one',
      restartIntensity: 1,
      restartPeriodMs: 60_000,
      children: [
        worker('sibling', journal),
        supervisorChild({
          id: 'middle',
          strategy: 'one_for_one',
          restartIntensity: 1,
          restartPeriodMs: 60_000,
          children: [worker('leaf', journal)],
        }),
      ],
    });
    const crashLeaf = async (expectedStarts: number) => {
      const middle = await waitFor(() => supervisorOf(tree!.supervisor.childActor('middle')), { what: 'middle' });
      const leaf = await waitFor(() => middle.childActor('leaf'), { what: 'leaf' });
      leaf.send({ type: 'crash' });
      await waitForEntry(journal, 'start:leaf', expectedStarts);
    };
    // middle: 1 restart allowed; the 2nd crash exceeds it and middle fails
    await crashLeaf(2);
    await crashLeaf(3); // middle escalated; root restarted middle (root's 1 restart), leaf started fresh
    expect(tree.events).toContainEqual(expect.objectContaining({ type: 'supervisor.escalated', supervisor: 'middle' }));
    expect(tree.supervisor.inspect().children!.find((child) => child.id === 'middle')!.restarts).toBe(1);
    await crashLeaf(4);
    // the second escalation of middle exceeds root's budget: root stops everything and fails
    tree.supervisor.childSupervisor('middle')?.childActor('leaf')?.send({ type: 'crash' });
    const error = (await tree.failure) as MiyabiError;
    expect(error.code).toBe(ErrorCodes.SupervisorEscalated);
    expect(error.message).toContain('supervisor root: restart intensity exceeded');
    expect(error.message).toContain('middle');
    expect(tree.events.filter((event) => event.type === 'supervisor.escalated').map((event) => event.supervisor)).toEqual([
      'middle',
      'middle',
      'root',
    ]);
    expect(journal.entries.at(-1)).toBe('shutdown:sibling');
    expect(tree.actor.getSnapshot().status).toBe('error');
  });

  it('forgets restarts older than the period', async () => {
    let now = 0;
    const journal = new Journal();
    tree = await startTree({
      id: 'window',
      strategy: 'one_for_one',
      restartIntensity: 1,
      restartPeriodMs: 1_000,
      clock: { now: () => now, setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as never) },
      children: [worker('a', journal)],
    });
    for (let round = 2; round <= 4; round += 1) {
      now += 1_500;
      tree.supervisor.childActor('a')!.send({ type: 'crash' });
      await waitForEntry(journal, 'start:a', round);
    }
    expect(tree.actor.getSnapshot().status).toBe('active');
  });
});

describe('dynamic children', () => {
  it('refuses a duplicate id and an unknown child', async () => {
    const journal = new Journal();
    tree = await startTree({ id: 'dyn', strategy: 'one_for_one', children: [worker('a', journal)] });
    await expect(tree.supervisor.startChild(worker('a', journal))).rejects.toMatchObject({ code: ErrorCodes.DuplicateChild });
    await expect(tree.supervisor.terminateChild('nope')).rejects.toMatchObject({ code: ErrorCodes.UnknownChild });
    expect(tree.actor.getSnapshot().status).toBe('active');
  });
});
