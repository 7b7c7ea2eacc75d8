/**
 * Readiness (`/readyz`): it answers for the infrastructure and the workflow. A pool that scales
 * down stops an agent on purpose, and an agent that crashed restarts on its own: neither makes
 * the orchestra unready; an infrastructure actor that crashed and waits to restart does.
 */
import { describe, expect, it } from 'vitest';
import { readiness } from '../../src/actors/http-endpoint.ts';
import type { OrchestraResources } from '../../src/actors/resources.ts';
import type { TreeNode } from '../../src/supervisor/tree.ts';

const worker = (id: string, status: string): TreeNode => ({ id, type: 'worker', status, state: status, restarts: 0, uptimeMs: 0 });

function resources(agent: TreeNode): OrchestraResources {
  const tree: TreeNode = {
    ...worker('root', 'running'),
    type: 'supervisor',
    children: [worker('bus', 'running'), { ...worker('agents', 'running'), type: 'supervisor', children: [{ ...worker('pool.codegen', 'running'), type: 'supervisor', children: [worker('codegen-1', 'running'), agent] }] }],
  };
  return { inspect: () => tree, bus: {}, nc: { isClosed: () => false } } as unknown as OrchestraResources;
}

describe('readiness', () => {
  it('counts an agent its pool is stopping (a scale-down) as normal work', () => {
    expect(readiness(resources(worker('codegen-2', 'stopping')))).toMatchObject({ ok: true, detail: { notRunning: [] } });
  });

  it('stays ready while an agent restarts (stopped, or in its restart backoff): agents are the health monitor\'s business', () => {
    for (const status of ['stopped', 'backoff']) {
      expect(readiness(resources(worker('codegen-2', status)))).toMatchObject({ ok: true, detail: { notRunning: [] } });
    }
  });

  it('counts an infrastructure actor down after a crash as a problem', () => {
    const tree = resources(worker('codegen-2', 'running'));
    const root = tree.inspect();
    root.children![0] = worker('bus', 'backoff');
    expect(readiness(tree)).toMatchObject({ ok: false, detail: { notRunning: ['root/bus: backoff'] } });
  });
});
