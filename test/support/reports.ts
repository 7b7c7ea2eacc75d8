/** A report (src/workflow/report.ts) of one day in which one issue failed, its text the test's. */
import { buildReport, type Report } from '../../src/workflow/report.ts';
import { periodOf } from '../../src/workflow/report-period.ts';

/**
 * The daily report of 2032-01-01 (UTC): issue #7 titled `title` failed with `reason`, after a
 * task of codegen that failed with `taskReason`.
 */
export function oneFailureReport(text: { title: string; taskReason: string; reason: string }): Report {
  const period = periodOf('daily', Date.parse('2032-01-01T12:00:00Z'), 'UTC');
  const ts = '2032-01-01T10:00:00Z';
  return buildReport({
    period,
    now: period.until + 1000,
    envelopes: [
      { type: 'task.result', ts, payload: { taskId: 't1', attempt: 1, issue: 7, role: 'codegen', stage: 'implement', status: 'failure', reason: text.taskReason, durationMs: 1000 } },
      { type: 'issue.finished', ts, payload: { number: 7, outcome: 'failed', reason: text.reason } },
    ],
    records: [{ number: 7, title: text.title, state: 'failed', priority: 1, discoveredAt: period.since, reason: text.reason }],
    slaMs: () => Infinity,
  });
}
