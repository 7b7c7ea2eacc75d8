/**
 * A task the bus gives up on (here: its agent is killed on every delivery, and the delivery limit
 * is lower than the retry budget) sends no result of its own; its dead letter must stand in for
 * one, or the issue would wait in `running` for ever.
 */
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../support/cli.ts';
import { startTestOrchestra } from '../support/orchestra.ts';
import { waitFor } from '../support/wait.ts';

describe('a task dead-lettered by the bus', { timeout: 90_000 }, () => {
  it('counts as a failed attempt: the issue is retried, then failed, never left running', async () => {
    const test = await startTestOrchestra({
      backend: 'process',
      agents: { codegen: { command: ['node', join(repoRoot, 'examples/agents/codegen.mjs')], min: 1, max: 1 } },
      config: {
        bus: { ackWaitMs: 30_000, maxDeliver: 2 },
        workflow: { defaultRoute: ['codegen'], retry: { maxAttempts: 4, initialDelayMs: 100 } },
      },
    });
    try {
      const issuesDir = test.orchestra.resources.config.issues.local.dir;
      await writeFile(join(issuesDir, '1.md'), '---\nnumber: 1\ntitle: Crashes\nlabels: [miyabi, "demo:crash:codegen"]\n---\n');
      const workflow = () => test.orchestra.resources.workflow!;
      await waitFor(() => String(workflow().snapshot(1)?.value) === 'failed', { timeoutMs: 80_000, what: 'the issue failed' });
      const history = workflow().snapshot(1)!.context.history;
      expect(history.some((run) => /the bus gave up on the task after 2 deliveries/.test(run.reason))).toBe(true);
      expect(workflow().snapshot(1)!.context.reason).toMatch(/^codegen failed after 4 attempt\(s\)/);
    } finally {
      await test.stop();
    }
  });
});
