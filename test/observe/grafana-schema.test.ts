/**
 * deploy/grafana's dashboard against the dashboard schema of `@grafana/schema` (offline: the
 * package's types, through the TypeScript compiler; what is checked is in
 * test/support/grafana-schema.ts). The dashboard passes; copies broken as a hand edit would break
 * them are refused, each naming the line.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { repoRoot } from '../support/cli.ts';
import { grafanaSchemaProblems } from '../support/grafana-schema.ts';

type Json = Record<string, any>;

describe('the Grafana dashboard against @grafana/schema', { timeout: 60_000 }, () => {
  let dashboard: Json;
  const firstOf = (type: string) => dashboard.panels.findIndex((panel: Json) => panel.type === type);
  const broken = (change: (copy: Json) => void) => {
    const copy = structuredClone(dashboard);
    change(copy);
    return grafanaSchemaProblems(JSON.stringify(copy, null, 2));
  };

  beforeAll(async () => {
    dashboard = JSON.parse(await readFile(join(repoRoot, 'deploy/grafana/miyabi-orchestra.json'), 'utf8')) as Json;
  });

  it('passes as it is', async () => {
    expect(grafanaSchemaProblems(await readFile(join(repoRoot, 'deploy/grafana/miyabi-orchestra.json'), 'utf8'))).toEqual([]);
  });

  it('refuses a field the schema does not have, a wrong type, a panel type not checked, and an option value Grafana does not know', () => {
    expect(broken((copy) => void (copy.panels[firstOf('stat')].gridpos = { h: 1, w: 1, x: 0, y: 0 }))).toEqual([expect.stringMatching(/^line \d+: Object literal may only specify known properties, and '"gridpos"' does not exist/)]);
    expect(broken((copy) => void (copy.panels[firstOf('stat')].gridPos.w = '4'))).toEqual([expect.stringMatching(/^line \d+: Type 'string' is not assignable to type 'number'/)]);
    expect(broken((copy) => void (copy.panels[firstOf('stat')].type = 'graph'))).toEqual([expect.stringMatching(/^line \d+: Type '"graph"' is not assignable to type '"stat" \| "timeseries" \| "row"'/)]);
    expect(broken((copy) => void (copy.panels[firstOf('stat')].options = { colorMode: 'rainbow' }))).toEqual([expect.stringMatching(/^line \d+: Type '"rainbow"' is not assignable/)]);
    expect(broken((copy) => void (copy.panels[firstOf('timeseries')].fieldConfig.defaults.custom = { fillOpacity: 'lots' }))).toEqual([expect.stringMatching(/^line \d+: Type 'string' is not assignable to type 'number'/)]);
    expect(broken((copy) => void (copy.panels[firstOf('stat')].fieldConfig.defaults.thresholds = { mode: 'absolut', steps: [] }))).toEqual([expect.stringMatching(/^line \d+: Type '"absolut"' is not assignable to type '"absolute" \| "percentage"'/)]);
    expect(broken((copy) => void delete copy.panels[firstOf('stat')].targets[0].refId)).toEqual([expect.stringMatching(/^line \d+: Property 'refId' is missing/)]);
  });
});

describe('the Grafana provisioning files, copied as their header says', () => {
  it('`cp -r deploy/grafana/. /etc/grafana/provisioning/` gives a provider whose folder holds the dashboard and only it, and a Prometheus datasource', async () => {
    const provisioning = '/etc/grafana/provisioning';
    const provider = parseYaml(await readFile(join(repoRoot, 'deploy/grafana/dashboards/miyabi.yml'), 'utf8')) as Json;
    const path = provider.providers[0].options.path as string;
    expect(path === provisioning || path.startsWith(`${provisioning}/`)).toBe(true);
    // The files the provider would see once copied: Grafana loads every .json under its path.
    const copied = (await readdir(join(repoRoot, 'deploy/grafana'), { recursive: true })).map((file) => `${provisioning}/${file}`);
    const dashboards = copied.filter((file) => file.startsWith(`${path}/`) && file.endsWith('.json'));
    expect(dashboards).toEqual([`${provisioning}/miyabi-orchestra.json`]);
    const datasources = parseYaml(await readFile(join(repoRoot, 'deploy/grafana/datasources/miyabi-prometheus.yml'), 'utf8')) as Json;
    expect(datasources.datasources.map((source: Json) => source.type)).toEqual(['prometheus']);
  });
});
