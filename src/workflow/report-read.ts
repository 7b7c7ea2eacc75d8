/**
 * A report (./report.ts) from a running orchestra's durable records: the events stream read back
 * from the period's start (src/infra/bus/history.ts, as `kpi` reads it) and the issues' records and the budget ledger's days in
 * the KV bucket. What `report` prints and what the `reporter` actor posts.
 */
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { OrchestraConfig } from '../config/schema.ts';
import type { Envelope } from '../infra/bus/envelope.ts';
import { readStreamSince } from '../infra/bus/history.ts';
import { DEFAULT_BUS_TOPOLOGY } from '../infra/bus/topology.ts';
import { slaMsOf } from '../issues/routing.ts';
import type { IssueRecord } from './record.ts';
import { readDaySpends } from './budget-ledger.ts';
import { budgetDaysOf, buildReport, type Report, type ReportIssue } from './report.ts';
import type { ReportPeriod } from './report-period.ts';
import { WorkflowStore } from './store.ts';

interface PersistedContext {
  priority?: number;
  discoveredAt?: number;
  finishedAt?: number;
  reason?: string;
  question?: string;
}

/** What the report needs of an issue's record: its state and SLA facts, from its persisted lifecycle snapshot. */
export function reportIssueOf(record: IssueRecord): ReportIssue {
  const snapshot = (record.snapshot ?? {}) as { value?: unknown; context?: PersistedContext };
  const context = snapshot.context ?? {};
  const state = String(snapshot.value ?? 'unknown');
  const reason = state === 'waiting_for_human' ? (context.question ?? context.reason) : context.reason;
  return {
    number: record.number,
    title: record.issue.title,
    state,
    priority: context.priority ?? 0,
    discoveredAt: context.discoveredAt ?? record.discoveredAt,
    ...(context.finishedAt === undefined ? {} : { finishedAt: context.finishedAt }),
    ...(reason === undefined ? {} : { reason }),
  };
}

export async function readReport(
  options: { nc: NatsConnection; kv: KV; config: Pick<OrchestraConfig, 'workflow' | 'budget'>; stream?: string },
  period: ReportPeriod,
  now: number,
): Promise<Report> {
  const envelopes: Array<Pick<Envelope, 'type' | 'ts' | 'payload'>> = [];
  if (period.since <= now) {
    await readStreamSince(options.nc, { stream: options.stream ?? DEFAULT_BUS_TOPOLOGY.streams.events, since: new Date(period.since) }, ({ type, ts, payload }) => {
      if (Date.parse(ts) < period.until) envelopes.push({ type, ts, payload });
    });
  }
  const records = (await new WorkflowStore(options.kv).records()).map(reportIssueOf);
  // The budget days the period touches, in the budget's own time zone (it may differ from the reports').
  const { timeZone } = options.config.budget;
  const { from, to } = budgetDaysOf(period.since, Math.min(period.until, now), timeZone);
  const budget = { timeZone, days: await readDaySpends(options.kv, from, to) };
  return buildReport({ period, now, envelopes, records, slaMs: (priority) => slaMsOf(priority, options.config.workflow), budget });
}
