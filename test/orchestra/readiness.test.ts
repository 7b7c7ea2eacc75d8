/**
 * Readiness (`/readyz`) and the health monitor's "degraded": a pool that scales down stops an
 * agent on purpose — `stopping`, then gone — which is normal work, not a problem; an actor that
 * crashed and waits to restart is one.
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

  it('counts an actor down after a crash (stopped, or in its restart backoff) as a problem', () => {
    for (const status of ['stopped', 'backoff']) {
      expect(readiness(resources(worker('codegen-2', status)))).toMatchObject({
        ok: false,
        detail: { notRunning: [`root/agents/pool.codegen/codegen-2: ${status}`] },
      });
    }
  });
});
