/** A role's pool grows towards max while tasks wait and shrinks back to min when idle. */
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issue, startTestOrchestra, type TestOrchestra } from '../support/orchestra.ts';
import { waitFor } from '../support/wait.ts';

const sleepy = ['node', resolve(import.meta.dirname, 'fixtures/sleepy.mjs')];
const prompt = resolve(import.meta.dirname, '../../config/prompts/codegen.md');

describe('pool scaling', { timeout: 120_000 }, () => {
  let test: TestOrchestra;
  beforeAll(async () => {
    test = await startTestOrchestra({
      backend: 'process',
      agents: { worker: { command: sleepy, prompt, min: 0, max: 2, taskTimeoutMs: 30_000 } },
      config: { panes: { backend: 'process', heartbeatIntervalMs: 500, scaleIntervalMs: 200 } },
    });
  }, 60_000);
  afterAll(async () => {
    await test?.stop();
  });

  const instances = () => test.node('root/agents/pool.worker')?.children?.map((child) => child.id) ?? [];

  it('starts agents up to max for a backlog, runs every task once, then stops them', async () => {
    expect(instances()).toEqual([]);
    const taskIds = [];
    for (let number = 1; number <= 5; number += 1) taskIds.push(await test.dispatch('worker', { issue: issue(100 + number) }));
    let most = 0;
    const results = await Promise.all(
      taskIds.map(async (taskId) => {
        const result = await test.result(taskId);
        most = Math.max(most, instances().length);
        return result;
      }),
    );
    expect(results.every((result) => result.status === 'success')).toBe(true);
    expect(new Set(results.map((result) => result.agentId))).toEqual(new Set(['worker-1', 'worker-2']));
    expect(most).toBeLessThanOrEqual(2);
    await waitFor(() => instances().length === 0, { timeoutMs: 30_000, what: 'pool back to min (0)' });
  });
});
