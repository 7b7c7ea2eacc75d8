/** XState's `inspect` reaches every child actor of the tree, nested supervisors' children too, told each child's path; a restarted child is inspected again. */
import { afterEach, describe, expect, it } from 'vitest';
import type { InspectionEvent } from 'xstate';
import { supervisorChild, supervisorOf, type ChildInspector } from '../../src/supervisor/index.ts';
import { waitFor } from '../support/wait.ts';
import { Journal, startTree, waitForEntry, worker, type RunningTree } from './helpers.ts';

let tree: RunningTree | undefined;
afterEach(async () => {
  await tree?.stop();
  tree = undefined;
});

describe('inspection', () => {
  it('passes the inspector to every child, with its path, through nested supervisors and restarts', async () => {
    const journal = new Journal();
    const seen: Array<{ path: string; event: InspectionEvent }> = [];
    const inspect: ChildInspector = (path, event) => seen.push({ path, event });
    tree = await startTree({
      id: 'top',
      strategy: 'one_for_one',
      inspect,
      children: [worker('a', journal), supervisorChild({ id: 'inner', strategy: 'one_for_one', children: [worker('b', journal)] })],
    });
    const snapshotsOf = (path: string) => seen.filter((entry) => entry.path === path && entry.event.type === '@xstate.snapshot');
    expect(new Set(seen.map((entry) => entry.path))).toEqual(new Set(['top/a', 'top/inner', 'top/inner/b']));
    expect(seen.some((entry) => entry.path === 'top/inner/b' && entry.event.type === '@xstate.actor')).toBe(true);
    // An event to b is seen with b's path and the state it led to.
    const before = snapshotsOf('top/inner/b').length;
    const inner = supervisorOf(tree.supervisor.childActor('inner'))!;
    inner.childActor('b')!.send({ type: 'crash' });
    await waitForEntry(journal, 'start:b', 2);
    await waitFor(() => snapshotsOf('top/inner/b').length > before || undefined, { what: 'snapshots of the restarted b' });
    const actorEvents = seen.filter((entry) => entry.path === 'top/inner/b' && entry.event.type === '@xstate.actor');
    expect(actorEvents.length).toBeGreaterThanOrEqual(2);
  });
});
