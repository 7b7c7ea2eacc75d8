/**
 * deploy/prometheus/ as promtool reads it: the rules parse (`promtool check rules`), the scrape
 * config too, and the unit tests (`promtool test rules`) pass — with a test case for every alert.
 * promtool comes with the Debian package `prometheus` (`./bootstrap test` installs it); without it
 * this test fails, naming the package.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { repoRoot } from '../support/cli.ts';
import { runTool } from '../support/tools.ts';

const dir = join(repoRoot, 'deploy/prometheus');

const promtool = (...args: string[]) => runTool('promtool', args, 'prometheus', { cwd: dir });

// promtool evaluates every case minute by minute over up to 30 hours: seconds alone, more on a busy host.
describe('deploy/prometheus', { timeout: 120_000 }, () => {
  it('fails at once, naming the Debian package, when a tool it needs is not installed', async () => {
    await expect(runTool('miyabi-no-such-tool', ['--version'], 'some-package')).rejects.toThrow('miyabi-no-such-tool not found: install the Debian package "some-package"');
  });

  it('passes promtool check rules and check config', async () => {
    const rules = await promtool('check', 'rules', 'recording-rules.yml', 'alerts.yml');
    expect(rules.exitCode, `${rules.stdout}\n${rules.stderr}`).toBe(0);
    const config = await promtool('check', 'config', 'prometheus.yml');
    expect(config.exitCode, `${config.stdout}\n${config.stderr}`).toBe(0);
  });

  it('passes promtool test rules, with a case for every alert and every KPI', async () => {
    const run = await promtool('test', 'rules', 'rules-test.yml');
    expect(run.exitCode, `${run.stdout}\n${run.stderr}`).toBe(0);
    const alerts = parse(await readFile(join(dir, 'alerts.yml'), 'utf8')) as { groups: Array<{ rules: Array<{ alert: string }> }> };
    const tests = parse(await readFile(join(dir, 'rules-test.yml'), 'utf8')) as {
      tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }>; promql_expr_test?: Array<{ expr: string }> }>;
    };
    const firing = new Set(tests.tests.flatMap((test) => (test.alert_rule_test ?? []).filter((rule) => rule.exp_alerts.length > 0).map((rule) => rule.alertname)));
    const names = alerts.groups.flatMap((group) => group.rules.map((rule) => rule.alert));
    expect(names.length).toBeGreaterThanOrEqual(11);
    expect(names.filter((name) => !firing.has(name))).toEqual([]);
    const kpis = new Set(tests.tests.flatMap((test) => (test.promql_expr_test ?? []).map((expr) => expr.expr)));
    for (const kpi of ['miyabi:autonomy:ratio1d', 'miyabi:issues_finished:increase1d', 'miyabi:issues_done:increase1d', 'miyabi:recovery_seconds:mean1h', 'miyabi:agent_utilization:ratio', 'miyabi:success:ratio1d']) {
      expect(kpis.has(kpi), kpi).toBe(true);
    }
  });
});
