/** The KPIs of a test orchestra, read back from its bus as `miyabi-orchestra kpi` reads them. */
import { readStreamSince } from '../../src/infra/bus/history.ts';
import { KpiFacts } from '../../src/workflow/kpi-facts.ts';
import { computeKpis, type KpiFact, type KpiReport } from '../../src/workflow/kpi-report.ts';
import type { TestOrchestra } from './orchestra.ts';

export async function kpisOf(test: TestOrchestra, since = 0): Promise<{ facts: KpiFact[]; report: KpiReport }> {
  const { nc, bus } = test.orchestra.resources;
  if (!nc || !bus) throw new Error('the test orchestra has no bus');
  const facts = new KpiFacts();
  await readStreamSince(nc, { stream: bus.topology.streams.events, since: new Date(since) }, (envelope) => facts.add(envelope));
  return { facts: facts.facts, report: computeKpis(facts.facts, { since, until: Date.now() }) };
}
