import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { issue, startTestOrchestra, waitAgentReady } from '../support/orchestra.ts';
import { waitFor } from '../support/wait.ts';

const repoRoot = join(import.meta.dirname, '..', '..');

describe('log rotation in a running orchestra', () => {
  it('rotates orchestra.log and the runners\' logs at log.rotation.maxBytes, keeping maxFiles', { timeout: 60_000 }, async () => {
    const test = await startTestOrchestra({
      backend: 'process',
      agents: { codegen: { command: ['node', join(repoRoot, 'examples/agents/codegen.mjs')], min: 1, max: 1 } },
      config: { log: { level: 'debug', file: true, rotation: { maxBytes: 1_024, maxFiles: 2 } } },
    });
    try {
      await waitAgentReady(test, 'codegen', 'codegen-1');
      const logs = join(test.dataDir, 'logs');
      await waitFor(async () => (await readdir(logs)).includes('orchestra.log.2'), { timeoutMs: 30_000, what: 'orchestra.log rotated twice' });
      // Each task makes the runner log a few lines: tasks until its log has rotated.
      let runners: string[] = [];
      for (let n = 1; n <= 20 && !runners.some((name) => name.endsWith('.log.1')); n++) {
        await test.result(await test.dispatch('codegen', { issue: issue(n) }));
        runners = await readdir(join(logs, 'runners')).catch(() => []);
      }
      expect(runners, 'a runner log rotated').toContain('codegen-1.log.1');
      const names = await readdir(logs);
      expect(names.filter((name) => name.startsWith('orchestra.log')).sort()).toEqual(['orchestra.log', 'orchestra.log.1', 'orchestra.log.2']);
      // A rotated file holds at most maxBytes, unless one line alone is longer.
      expect((await stat(join(logs, 'orchestra.log.1'))).size).toBeLessThan(8 * 1_024);
    } finally {
      await test.stop();
    }
  });
});
