/**
 * `kpi` against a running orchestra: a small backlog worked by the example agents, then the
 * plan's KPIs read back from the bus must be what the run did.
 */
import { execa } from 'execa';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSince } from '../../src/cli/commands/kpi.ts';
import { CliExit } from '../../src/cli/output.ts';
import type { KpiReport } from '../../src/workflow/kpi-report.ts';
import { exampleAgentsConfig, runCli, startUp, tempDir, waitLogged } from '../support/cli.ts';
import { localBacklog } from '../support/orchestra.ts';
import { waitFor } from '../support/wait.ts';

const dir = await tempDir('miyabi-kpi-cli-');
const socket = `miyabi-kpi-${process.pid}`;
afterAll(async () => {
  await execa('tmux', ['-L', socket, 'kill-server'], { reject: false });
  await dir[Symbol.asyncDispose]();
});

describe('kpi --since', () => {
  const now = Date.parse('2030-01-02T00:00:00Z');

  it('takes a duration back from now or an ISO time', () => {
    expect(parseSince('90s', now)).toBe(now - 90_000);
    expect(parseSince('30m', now)).toBe(now - 1_800_000);
    expect(parseSince('1h', now)).toBe(now - 3_600_000);
    expect(parseSince('7d', now)).toBe(now - 7 * 86_400_000);
    expect(parseSince('2030-01-01T12:00:00Z', now)).toBe(Date.parse('2030-01-01T12:00:00Z'));
  });

  it.each(['yesterday', '5', '1w', '-1h', '2031-01-01T00:00:00Z'])('refuses %s with exit 2', (text) => {
    expect(() => parseSince(text, now)).toThrow(CliExit);
  });

  it('exits 2 naming the value, before looking for an orchestra', async () => {
    const result = await runCli(['kpi', '--since', 'last tuesday', '--config', join(dir.path, 'absent.yaml')]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('--since "last tuesday" is neither a duration');
  });
});

describe('kpi on a running orchestra', { timeout: 120_000 }, () => {
  it('reports what a small backlog did: every issue done, no intervention, no fault', async () => {
    await localBacklog(dir, [1, 2, 3], '[miyabi, "type:docs"]');
    const config = await exampleAgentsConfig(dir, socket, { health: { checkIntervalMs: 1000, reportHeartbeatMs: 1000 } });
    const up = startUp(['--config', config]);
    try {
      const done = async () => {
        const shown = await runCli(['issues', '--json', '--config', config]);
        const rows = shown.exitCode === 0 ? (JSON.parse(shown.stdout) as Array<{ state: string }>) : [];
        return rows.length === 3 && rows.every((row) => row.state === 'done');
      };
      await waitLogged(join(dir.path, 'data'), 'issue done', 3, 90_000);
      await waitFor(done, { timeoutMs: 90_000, what: 'three issues done' });
      const report = async () => {
        const shown = await runCli(['kpi', '--json', '--config', config]);
        expect(shown.exitCode, shown.stderr).toBe(0);
        return JSON.parse(shown.stdout) as KpiReport;
      };
      // The issues' `issue.finished` are published as their effects run: wait for the third.
      await waitFor(async () => (await report()).throughput.done === 3, { timeoutMs: 30_000, what: 'three issue.finished on the bus' });
      const kpis = await report();
      expect(kpis.throughput).toEqual({ finishedPerDay: 3, donePerDay: 3, finished: 3, done: 3, failed: 0, released: 0 });
      expect(kpis.successRate.issues).toBe(1);
      // codegen and pr for each issue, all completed normally.
      expect(kpis.successRate).toMatchObject({ tasks: 1, tasksNormal: 6, tasksTotal: 6 });
      expect(kpis.autonomy.interventions).toEqual({ answer: 0, retry_command: 0, label_edit: 0, manual_restart: 0 });
      expect(kpis.autonomy).toMatchObject({ ratio: 1, downMs: 0, waitingForPersonMs: 0 });
      expect(kpis.window.observedMs).toBeGreaterThan(0);
      expect(kpis.mttr).toEqual({ meanMs: null, recoveries: 0, unrecovered: 0, byFault: {} });
      const codegen = kpis.utilization.byRole.codegen!;
      expect(codegen.busyMs).toBeGreaterThan(0);
      expect(codegen.ratio).toBeGreaterThan(0);
      expect(codegen.ratio).toBeLessThanOrEqual(1);
      expect(kpis.utilization.byRole.pr!.busyMs).toBeGreaterThan(0);
      expect(kpis.utilization.byRole.review).toMatchObject({ busyMs: 0 });

      const table = await runCli(['kpi', '--since', '1h', '--config', config]);
      expect(table.stdout).toMatch(/^throughput\s+72 issues finished\/day \(72 done\/day\): 3 done, 0 failed, 0 released$/m);
      expect(table.stdout).toMatch(/^success rate\s+100\.0% of issues/m);
      expect(table.stdout).toMatch(/^autonomy\s+100\.0%/m);
    } finally {
      up.kill('SIGTERM');
      await up;
    }

    // Stopped on purpose and started again by a person: a manual restart, down meanwhile, no fault.
    const again = startUp(['--config', config]);
    try {
      const report = async () => {
        const shown = await runCli(['kpi', '--json', '--config', config]);
        return shown.exitCode === 0 ? (JSON.parse(shown.stdout) as KpiReport) : undefined;
      };
      await waitLogged(join(dir.path, 'data'), 'orchestra running', 2, 60_000);
      await waitFor(async () => (await report())?.autonomy.interventions.manual_restart === 1, { timeoutMs: 60_000, what: 'the restart in the KPIs' });
      const kpis = (await report())!;
      expect(kpis.autonomy.downMs).toBeGreaterThan(0);
      expect(kpis.autonomy.ratio).toBeLessThan(1);
      expect(kpis.mttr).toEqual({ meanMs: null, recoveries: 0, unrecovered: 0, byFault: {} });
      expect(kpis.throughput.done).toBe(3);
    } finally {
      again.kill('SIGTERM');
      await again;
    }
    const stopped = await runCli(['kpi', '--config', config]);
    expect(stopped.exitCode).toBe(1);
    expect(stopped.stderr).toContain('no orchestra is running');
  });
});
