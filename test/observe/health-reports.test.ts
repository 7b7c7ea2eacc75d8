import type { NatsConnection } from '@nats-io/transport-node';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { reportToPublish, type HealthReport } from '../../src/machines/health-monitor.ts';
import { startTestOrchestra } from '../support/orchestra.ts';
import { waitFor } from '../support/wait.ts';

const report = (ok: boolean, problems: string[] = []): HealthReport => ({ ok, problems, checkedAt: 'whenever' });

describe('health reports on the bus: on change, plus a slow heartbeat', () => {
  it('publishes the first report, then only a changed one, or the same one after the heartbeat', () => {
    const first = reportToPublish(undefined, report(true), 1_000, 60_000);
    expect(first).toBeDefined();
    expect(reportToPublish(first, report(true), 2_000, 60_000)).toBeUndefined();
    const degraded = reportToPublish(first, report(false, ['disk low']), 3_000, 60_000);
    expect(degraded).toEqual(expect.objectContaining({ at: 3_000 }));
    // The same findings in another order are the same report.
    const two = reportToPublish(degraded, report(false, ['b', 'a']), 4_000, 60_000);
    expect(reportToPublish(two, report(false, ['a', 'b']), 5_000, 60_000)).toBeUndefined();
    expect(reportToPublish(two, report(false, ['a', 'b']), 64_000, 60_000)).toEqual(expect.objectContaining({ at: 64_000 }));
  });

  it('a running orchestra checking often publishes far fewer reports than it makes', { timeout: 60_000 }, async () => {
    const test = await startTestOrchestra({
      backend: 'process',
      agents: { codegen: { command: ['node', join(import.meta.dirname, '..', '..', 'examples/agents/codegen.mjs')], min: 1, max: 1 } },
      config: { health: { checkIntervalMs: 20 } },
    });
    try {
      const reports: HealthReport[] = [];
      const nc = test.orchestra.resources.nc as NatsConnection;
      const subscription = nc.subscribe('miyabi.events.health', { callback: (_error, message) => void reports.push((message.json() as { payload: HealthReport }).payload) });
      const checks = new Set<string>();
      await waitFor(() => {
        const at = test.orchestra.resources.lastHealth?.checkedAt;
        if (at) checks.add(at);
        return checks.size >= 40;
      }, { timeoutMs: 30_000, intervalMs: 5, what: '40 health checks' });
      await nc.flush();
      subscription.unsubscribe();
      expect(reports.length).toBeLessThan(checks.size);
      // Each report published says something the one before it did not (its findings, or the agents there to work).
      const gists = reports.map((one) => JSON.stringify([one.ok, [...one.problems].sort(), (one as HealthReport & { agents?: unknown }).agents]));
      for (let n = 1; n < gists.length; n++) expect(gists[n]).not.toBe(gists[n - 1]);
    } finally {
      await test.stop();
    }
  });
});
