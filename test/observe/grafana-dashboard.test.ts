/**
 * The Grafana dashboard against a real Prometheus: Prometheus (the Debian package's binary, on
 * loopback, a temporary store, the rules of deploy/prometheus/) scrapes an orchestra working a
 * backlog with the example agents while one runner is killed with SIGKILL; then every panel's
 * expressions, read from the dashboard JSON, must return data through /api/v1/query.
 *
 * The orchestra here reads a local tracker, so no GitHub answer ever sets the rate-limit gauges:
 * the test reports one answer's headers itself (`githubRateLimit`, what the GitHub client calls).
 * Grafana is not installed here; the dashboard's layout is checked below (panels, ids, grid,
 * datasource, a query per target), and its structure against @grafana/schema in
 * ./grafana-schema.test.ts.
 */
import { execa, type ResultPromise } from 'execa';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnyActorRef } from 'xstate';
import { findFreePort } from '../../src/infra/nats/embedded-server.ts';
import { repoRoot, tempDir, type TempDir } from '../support/cli.ts';
import { startTestOrchestra, waitAgentReady, type TestOrchestra } from '../support/orchestra.ts';
import { runTool } from '../support/tools.ts';
import { waitFor } from '../support/wait.ts';
import { exampleAgent, issueFiles, waitForState } from '../support/workflow-run.ts';

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { uid: string };
  targets?: Array<{ refId: string; expr: string; datasource?: { uid: string } }>;
}

const dashboardFile = join(repoRoot, 'deploy/grafana/miyabi-orchestra.json');

describe('the Grafana dashboard on a real Prometheus', { timeout: 120_000 }, () => {
  let dir: TempDir;
  let prometheus: ResultPromise | undefined;
  let promUrl: string;
  let test: TestOrchestra;

  beforeAll(async () => {
    dir = await tempDir('miyabi-prometheus-');
    const port = await findFreePort('127.0.0.1');
    const promPort = await findFreePort('127.0.0.1');
    promUrl = `http://127.0.0.1:${promPort}`;
    const config = await dir.file(
      'prometheus.yml',
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        `rule_files: ['${join(repoRoot, 'deploy/prometheus/recording-rules.yml')}', '${join(repoRoot, 'deploy/prometheus/alerts.yml')}']`,
        'scrape_configs:',
        `  - { job_name: miyabi-orchestra, static_configs: [{ targets: ['127.0.0.1:${port}'] }] }`,
      ].join('\n'),
    );
    // Not installed: fail now, naming the package (execa with reject: false would only resolve, and the wait below time out).
    await runTool('prometheus', ['--version'], 'prometheus');
    prometheus = execa('prometheus', [`--config.file=${config}`, `--storage.tsdb.path=${join(dir.path, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'], { reject: false });
    prometheus.catch(() => undefined);
    await waitFor(async () => (await fetch(`${promUrl}/-/ready`).catch(() => undefined))?.ok === true, { what: 'prometheus ready', timeoutMs: 20_000 });
    test = await startTestOrchestra({
      backend: 'process',
      agents: { codegen: exampleAgent('codegen', { min: 1, max: 1 }) },
      config: { http: { enabled: true, port }, workflow: { defaultRoute: ['codegen'] } },
      issues: issueFiles([{ number: 1 }, { number: 2 }, { number: 3 }]),
    });
    test.orchestra.resources.metrics.githubRateLimit('core', 4_990, 5_000);
    await waitForState(test, [1, 2, 3], 'done');
    // The fault: a runner killed, and its agent back.
    const actor = () => test.orchestra.root()!.childSupervisor('agents')!.childSupervisor('pool.codegen')!.childActor('codegen-1') as AnyActorRef;
    const pid = () => (actor().getSnapshot() as { context: { pid: number } }).context.pid;
    const first = pid();
    process.kill(first, 'SIGKILL');
    await waitFor(() => pid() !== first, { what: 'a new runner' });
    await waitAgentReady(test, 'codegen', 'codegen-1');
  }, 120_000);
  afterAll(async () => {
    prometheus?.kill('SIGTERM');
    await prometheus;
    await test?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  it('has a well-formed dashboard: unique ids, grid inside 24 columns, one datasource, a query per target', async () => {
    const dashboard = JSON.parse(await readFile(dashboardFile, 'utf8')) as { uid: string; title: string; schemaVersion: number; panels: Panel[] };
    expect(dashboard).toMatchObject({ uid: 'miyabi-orchestra', title: 'Miyabi Orchestra' });
    expect(dashboard.schemaVersion).toBeGreaterThan(30);
    const ids = dashboard.panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    const rows = dashboard.panels.filter((panel) => panel.type === 'row').map((panel) => panel.title);
    expect(rows).toEqual(['KPIs', 'Issues and queues', 'Agents', 'Recovery', 'Bus', 'Tracker and rate limits', 'Cost']);
    for (const panel of dashboard.panels.filter((candidate) => candidate.type !== 'row')) {
      expect(panel.gridPos.x + panel.gridPos.w, panel.title).toBeLessThanOrEqual(24);
      expect(panel.datasource?.uid, panel.title).toBe('miyabi-prometheus');
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      for (const target of panel.targets ?? []) expect(target.expr, panel.title).toMatch(/miyabi/);
    }
  });

  it('returns data for every panel expression', async () => {
    const dashboard = JSON.parse(await readFile(dashboardFile, 'utf8')) as { panels: Panel[] };
    const queries = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ panel: panel.title, expr: target.expr })));
    expect(queries.length).toBeGreaterThan(25);
    const empty = async () => {
      const missing: string[] = [];
      for (const query of queries) {
        const response = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(query.expr)}`);
        const body = (await response.json()) as { status: string; error?: string; data?: { result: unknown[] } };
        if (body.status !== 'success') throw new Error(`${query.panel}: ${query.expr}: ${body.error}`);
        if ((body.data?.result.length ?? 0) === 0) missing.push(`${query.panel}: ${query.expr}`);
      }
      return missing;
    };
    // Until Prometheus has scraped the recovery and evaluated the rules on it.
    let missing: string[] = [];
    await waitFor(async () => (missing = await empty()).length === 0, { what: 'every panel with data', timeoutMs: 30_000 }).catch(() => undefined);
    expect(missing).toEqual([]);
  });
});
