/**
 * Every strategy × restart type × exit kind, with three children a, b, c where b exits.
 * Expected outcome from OTP: whether b comes back follows its restart type and the exit; which
 * siblings are restarted with it follows the strategy.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ExitReason, RestartType, Strategy } from '../../src/supervisor/index.ts';
import { Journal, startTree, waitForEntry, worker, type RunningTree } from './helpers.ts';
import { waitFor } from '../support/wait.ts';

const strategies: Strategy[] = ['one_for_one', 'one_for_all', 'rest_for_one'];
const restartTypes: RestartType[] = ['permanent', 'transient', 'temporary'];
const exitKinds: ExitReason['kind'][] = ['normal', 'crash', 'killed'];

const restartedWith: Record<Strategy, string[]> = {
  one_for_one: ['b'],
  one_for_all: ['a', 'b', 'c'],
  rest_for_one: ['b', 'c'],
  simple_one_for_one: ['b'],
};

let tree: RunningTree | undefined;
afterEach(async () => {
  await tree?.stop();
  tree = undefined;
});

function exitChild(running: RunningTree, id: string, kind: ExitReason['kind']): void {
  const actor = running.supervisor.childActor(id)!;
  if (kind === 'normal') actor.send({ type: 'finish' });
  if (kind === 'crash') actor.send({ type: 'crash' });
  // Stopped from outside its supervisor: a death the child did not choose.
  if (kind === 'killed') actor.stop();
}

describe.each(strategies)('%s', (strategy) => {
  describe.each(restartTypes)('%s children', (restart) => {
    it.each(exitKinds)('b exits (%s)', async (kind) => {
      const journal = new Journal();
      tree = await startTree({
        id: `sup-${strategy}`,
        strategy,
        restartIntensity: 10,
        children: ['a', 'b', 'c'].map((id) => worker(id, journal, { restart })),
      });
      expect(journal.entries).toEqual(['start:a', 'start:b', 'start:c']);
      const exitsBefore = tree.events.filter((event) => event.type === 'child.exited').length;

      exitChild(tree, 'b', kind);
      await waitFor(() => tree!.events.filter((event) => event.type === 'child.exited').length > exitsBefore, {
        what: 'exit of b observed',
      });

      const abnormal = kind !== 'normal';
      const restarts = restart === 'permanent' || (restart === 'transient' && abnormal);
      if (restarts) {
        for (const id of restartedWith[strategy]) await waitForEntry(journal, `start:${id}`, 2);
        // the group is settled once the last member runs again
        await waitFor(() => tree!.supervisor.inspect().children!.every((child) => child.status === 'running'), {
          what: 'all children running again',
        });
        for (const id of ['a', 'b', 'c']) {
          expect(journal.count(`start:${id}`), `starts of ${id}`).toBe(restartedWith[strategy].includes(id) ? 2 : 1);
        }
        const nodes = tree.supervisor.inspect().children!;
        expect(nodes.find((node) => node.id === 'b')!.restarts).toBe(1);
        expect(tree.events.find((event) => event.type === 'child.exited' && event.child === 'b')).toMatchObject({
          exit: { kind },
        });
      } else {
        // Not restarted: nothing else happens to the siblings.
        const ids = tree.supervisor.childIds();
        if (restart === 'temporary') expect(ids).toEqual(['a', 'c']);
        else expect(ids).toEqual(['a', 'b', 'c']);
        expect(tree.supervisor.childActor('b')).toBeUndefined();
        expect(journal.entries.filter((entry) => entry.startsWith('start:'))).toEqual(['start:a', 'start:b', 'start:c']);
        expect(tree.supervisor.childActor('a')!.getSnapshot().status).toBe('active');
        expect(tree.supervisor.childActor('c')!.getSnapshot().status).toBe('active');
      }
    });
  });
});

describe('siblings of one_for_all that are temporary', () => {
  it('are stopped and removed, not restarted', async () => {
    const journal = new Journal();
    tree = await startTree({
      id: 'sup-mixed',
      strategy: 'one_for_all',
      children: [worker('a', journal, { restart: 'temporary' }), worker('b', journal), worker('c', journal)],
    });
    tree.supervisor.childActor('b')!.send({ type: 'crash' });
    await waitForEntry(journal, 'start:c', 2);
    expect(tree.supervisor.childIds()).toEqual(['b', 'c']);
    expect(journal.count('start:a')).toBe(1);
    expect(journal.count('shutdown:a')).toBe(1);
  });
});
