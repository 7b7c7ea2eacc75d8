/**
 * The plan's KPIs over the last day as gauges, computed when Prometheus scrapes by the same code
 * as `miyabi-orchestra kpi` (src/workflow/kpi-report.ts) from the same facts: the events stream,
 * read once back a day and then only what is new at each scrape (docs/KPI.md, docs/METRICS.md).
 * A KPI with no value (nothing observed yet, no fault to recover from) is NaN, or has no series
 * when it has labels.
 */
import { Gauge } from 'prom-client';
import { describeError } from '../errors.ts';
import { readStreamSince } from '../infra/bus/history.ts';
import { KpiFacts } from '../workflow/kpi-facts.ts';
import { computeKpis, type KpiReport } from '../workflow/kpi-report.ts';
import type { OrchestraResources } from './resources.ts';

const DAY_MS = 86_400_000;
/** Scrapes closer together than this share one computation. */
const FRESH_MS = 1_000;

export function registerKpiGauges(resources: OrchestraResources): void {
  const registers = [resources.metrics.registry];
  const logger = resources.logger.child({ actorId: 'metrics' });
  const facts = new KpiFacts();
  let nextSeq: number | undefined;
  let latest: { at: number; value: Promise<KpiReport | undefined>; settled: boolean } | undefined;

  const refresh = async (now: number): Promise<KpiReport | undefined> => {
    const { nc, bus } = resources;
    if (!nc || !bus) return undefined;
    try {
      const since = now - DAY_MS;
      const read = await readStreamSince(nc, { stream: bus.topology.streams.events, since: new Date(since), ...(nextSeq === undefined ? {} : { fromSeq: nextSeq }) }, (envelope) =>
        facts.add(envelope),
      );
      nextSeq = read.lastSeq + 1;
      facts.prune(since);
      return computeKpis(facts.facts, { since, until: now });
    } catch (error) {
      logger.warn({ err: describeError(error) }, 'KPIs not computable for the metrics');
      return undefined;
    }
  };
  /** One read at a time: two at once would read the same new messages twice. */
  const report = () => {
    const now = Date.now();
    if (!latest || (latest.settled && now - latest.at > FRESH_MS)) {
      const next = { at: now, value: refresh(now), settled: false };
      void next.value.finally(() => (next.settled = true));
      latest = next;
    }
    return latest.value;
  };
  const gauge = <L extends string>(name: string, help: string, labelNames: L[], set: (gauge: Gauge<L>, report: KpiReport) => void) =>
    new Gauge<L>({
      name,
      help,
      labelNames,
      registers,
      async collect() {
        this.reset();
        const current = await report();
        if (current) set(this, current);
        else if (labelNames.length === 0) (this as Gauge).set(Number.NaN);
      },
    });
  const setIf = <L extends string>(target: Gauge<L>, labels: Partial<Record<L, string>>, value: number | null) => {
    if (value !== null) target.set(labels, value);
  };

  gauge('miyabi_kpi_autonomy_ratio', 'Autonomy over the last day: 1 − (down ∪ waiting for a person) / observed time (docs/KPI.md)', [], (target, kpis) =>
    target.set(kpis.autonomy.ratio ?? Number.NaN),
  );
  gauge('miyabi_kpi_issues_per_day', 'Issues finished in the last day, by outcome (finished: all of them)', ['outcome'], (target, kpis) => {
    const { finished, done, failed, released } = kpis.throughput;
    for (const [outcome, count] of Object.entries({ finished, done, failed, released })) target.set({ outcome }, count);
  });
  gauge('miyabi_kpi_mttr_seconds', 'Mean time from a fault to the work running again, over the recoveries of the last day', [], (target, kpis) =>
    target.set(kpis.mttr.meanMs === null ? Number.NaN : kpis.mttr.meanMs / 1000),
  );
  gauge('miyabi_kpi_utilization_ratio', 'Busy agent time / available agent time over the last day, per role (role="all": every role), the Conductor excluded', ['role'], (target, kpis) => {
    setIf(target, { role: 'all' }, kpis.utilization.ratio);
    for (const [role, entry] of Object.entries(kpis.utilization.byRole)) setIf(target, { role }, entry.ratio);
  });
  gauge('miyabi_kpi_success_ratio', 'Success rate over the last day: of="issues" done / (done + failed); of="tasks" results completed normally / all', ['of'], (target, kpis) => {
    setIf(target, { of: 'issues' }, kpis.successRate.issues);
    setIf(target, { of: 'tasks' }, kpis.successRate.tasks);
  });
}
