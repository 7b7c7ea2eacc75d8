/** The KPIs of a test orchestra, read back from its bus as `miyabi-orchestra kpi` reads them. */
import { readKpis } from '../../src/workflow/kpi-facts.ts';
import type { KpiFact, KpiReport } from '../../src/workflow/kpi-report.ts';
import type { TestOrchestra } from './orchestra.ts';

export async function kpisOf(test: TestOrchestra, since = 0): Promise<{ facts: KpiFact[]; report: KpiReport }> {
  const { nc, bus } = test.orchestra.resources;
  if (!nc || !bus) throw new Error('the test orchestra has no bus');
  return readKpis(nc, { since, until: Date.now() }, bus.topology.streams.events);
}
