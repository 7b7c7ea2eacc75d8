import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { readFile, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startTestOrchestra } from '../support/orchestra.ts';
import { waitFor } from '../support/wait.ts';

const repoRoot = join(import.meta.dirname, '..', '..');

// A disk that fills: the threshold is set above the free space this machine has (no tmpfs or loop
// file needs root), so the guard sees a "full" disk; lowering it stands in for space freed.
describe('the disk guard', () => {
  it('dispatches nothing while the data directory\'s disk is under health.minFreeDiskBytes, reports disk_full, and resumes when it is not', { timeout: 120_000 }, async () => {
    const stats = await statfs(repoRoot);
    const free = stats.bavail * stats.bsize;
    const test = await startTestOrchestra({
      backend: 'process',
      agents: { codegen: { command: ['node', join(repoRoot, 'examples/agents/codegen.mjs')], min: 1, max: 1 } },
      config: { workflow: { defaultRoute: ['codegen'] }, health: { checkIntervalMs: 100, minFreeDiskBytes: free * 4 } },
      issues: { '1.md': '---\nnumber: 1\ntitle: One\nlabels: [miyabi]\n---\nDo it.\n' },
    });
    try {
      const { resources } = test.orchestra;
      await waitFor(() => resources.lastHealth?.findings?.some((finding) => finding.kind === 'disk_full' && finding.severity === 'critical'), {
        timeoutMs: 30_000,
        what: 'a disk_full health problem',
      });
      await waitFor(() => String(resources.workflow?.snapshot(1)?.value) === 'queued', { timeoutMs: 30_000, what: 'issue 1 queued' });
      // Settled with the issue queued: had the guard let it through, the task would be on the stream.
      await resources.workflow!.tick();
      const jsm = await jetstreamManager(resources.nc as NatsConnection);
      expect((await jsm.streams.info(resources.bus!.topology.streams.tasks)).state.messages).toBe(0);
      expect(String(resources.workflow!.snapshot(1)!.value)).toBe('queued');
      const log = await readFile(join(test.dataDir, 'logs', 'orchestra.log'), 'utf8');
      expect(log).toContain('dispatch paused');

      // Space again: the next tick dispatches, the issue is done, the problem is gone.
      resources.config.health.minFreeDiskBytes = 0;
      await waitFor(() => String(resources.workflow!.snapshot(1)!.value) === 'done', { timeoutMs: 60_000, what: 'issue 1 done' });
      await waitFor(() => !resources.lastHealth?.findings?.some((finding) => finding.kind === 'disk_full'), { timeoutMs: 30_000, what: 'disk_full resolved' });
    } finally {
      await test.stop();
    }
  });
});
