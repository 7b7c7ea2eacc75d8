/**
 * `report --period daily|weekly [--at DATE] [--format md|json] [--post]`: the daily or weekly
 * report of the running orchestra (src/workflow/report.ts), from its events stream and its KV
 * bucket; the period is the one containing `--at` (default now) in `reports.timeZone`. `--post`
 * also posts it where the orchestra posts its scheduled reports (the tracker issue
 * `reports.issue`, once per period by its marker; the webhooks, each time it is asked).
 */
import { Kvm } from '@nats-io/kv';
import { pino } from 'pino';
import { postReport } from '../../actors/reporter.ts';
import { inertJson } from '../../inert-text.ts';
import { DEFAULT_BUS_TOPOLOGY } from '../../infra/bus/topology.ts';
import type { Redact } from '../../infra/observe/redact.ts';
import { periodOf, parseReportDate, REPORT_PERIODS, type ReportPeriodKind } from '../../workflow/report-period.ts';
import type { Report } from '../../workflow/report.ts';
import { readReport } from '../../workflow/report-read.ts';
import { renderReport } from '../../workflow/report-render.ts';
import { cliRedactor, connectCli, loadConfigOrExit, serversFor } from '../connect.ts';
import { withIssueSource } from '../issue-source.ts';
import { CliExit, ExitCode } from '../output.ts';

export interface ReportFlags {
  config?: string;
  period?: string;
  at?: string;
  format?: string;
  post?: boolean;
}

/**
 * What `report` prints: Markdown or JSON. Its reasons come from agents and its titles from
 * issues, so it is redacted of every known secret and nothing in it reaches the terminal raw (the
 * JSON is the same JSON, what it leaves raw escaped).
 */
export function reportText(made: Report, format: 'md' | 'json', redact: Redact): string {
  return redact(format === 'json' ? `${inertJson(JSON.stringify(made, null, 2))}\n` : renderReport(made));
}

export async function report(flags: ReportFlags): Promise<number> {
  const kind = (flags.period ?? 'daily') as ReportPeriodKind;
  if (!REPORT_PERIODS.includes(kind)) throw new CliExit(ExitCode.invalid, `--period ${JSON.stringify(flags.period)}: expected daily or weekly`);
  const format = flags.format ?? 'md';
  if (format !== 'md' && format !== 'json') throw new CliExit(ExitCode.invalid, `--format ${JSON.stringify(flags.format)}: expected md or json`);
  const loaded = await loadConfigOrExit(flags.config);
  const { reports, notify } = loaded.config;
  const { timeZone } = reports;
  if (flags.post && reports.issue === undefined && (!reports.webhooks || notify.webhooks.length === 0)) {
    throw new CliExit(ExitCode.invalid, '--post: nowhere to post; set reports.issue (the tracker issue) or notify.webhooks');
  }
  const now = Date.now();
  const at = flags.at === undefined ? now : parseReportDate(flags.at, timeZone);
  if (at === undefined) throw new CliExit(ExitCode.invalid, `--at ${JSON.stringify(flags.at)} is neither a date (2026-12-01) nor an ISO time`);
  const period = periodOf(kind, at, timeZone);
  if (period.since > now) throw new CliExit(ExitCode.invalid, `--at ${JSON.stringify(flags.at)}: the ${kind} period ${period.start} has not begun yet`);

  const nc = await connectCli(loaded, await serversFor(loaded));
  let made;
  try {
    const kv = await new Kvm(nc).open(DEFAULT_BUS_TOPOLOGY.kvBucket);
    made = await readReport({ nc, kv, config: loaded.config }, period, now);
  } finally {
    await nc.close();
  }
  const redact = cliRedactor(loaded.config);
  process.stdout.write(reportText(made, format, redact));
  if (!flags.post) return ExitCode.ok;

  const logger = pino({ level: 'silent' });
  const posted = await withIssueSource(loaded, (source) =>
    postReport(made, {
      ...(reports.issue === undefined ? {} : { tracker: { issue: reports.issue, comment: (number, key, body) => source.comment(number, key, body) } }),
      webhooks: reports.webhooks ? notify.webhooks : [],
      notify,
      redact,
      logger,
      onWebhook: (kind, outcome) => process.stderr.write(`webhook ${kind}: ${outcome}\n`),
    }),
  );
  if (!posted) throw new CliExit(ExitCode.failure, 'the report was not posted everywhere (see above)');
  process.stderr.write(reports.issue === undefined ? 'report posted\n' : `report posted (issue #${reports.issue}, key ${made.period.key})\n`);
  return ExitCode.ok;
}
