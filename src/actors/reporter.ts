/**
 * The `reporter` actor: posts the daily and weekly reports (src/workflow/report.ts) when their
 * cron expressions fire (`reports.daily`, `reports.weekly`, in `reports.timeZone`, through
 * croner), on the tracker issue `reports.issue` and to the webhooks of `notify.webhooks`.
 *
 * Once per period, even across restarts, like the workflow's other effects:
 * - a firing reports the last complete period (the day or week that ended before it); its key
 *   (`report.daily.2026-12-01`) is looked up in the once ledger (KV `miyabi-once`) first, and
 *   recorded there when every destination has it;
 * - the tracker comment is posted with that key as its marker (`IssueSource.comment`): a restart
 *   after the comment but before the record finds the marker and posts nothing;
 * - each webhook target has a key of its own (`<period key>.webhook.<kind>.<urlEnv>`), recorded
 *   as soon as it took the report: a failed target is tried again without the others posting
 *   twice. A chat webhook keeps no marker: a crash between its answer and its record (a moment)
 *   would post it again, the one case the ledger cannot close.
 * A report not posted everywhere (a destination down) is tried again at each later firing and at
 * start, while its period ended within `reports.catchUpMs`.
 *
 * Catch-up: at start, each period whose firing came while the orchestra was down (croner's next
 * run after the period's end is already past) is posted, oldest first, if the period ended within
 * `reports.catchUpMs`.
 */
import { Cron } from 'croner';
import type { Logger } from 'pino';
import type { OrchestraConfig } from '../config/schema.ts';
import { describeError } from '../errors.ts';
import { actorLogger } from '../infra/observe/logger.ts';
import { WebhookNotifier, type WebhookKind } from '../infra/observe/notifier.ts';
import type { Redact } from '../infra/observe/redact.ts';
import type { OnceLedger } from '../issues/webhook.ts';
import { fencedIssueSource } from './leader-fence.ts';
import { fromRuntime, type ChildSpec } from '../supervisor/index.ts';
import type { Report } from '../workflow/report.ts';
import { lastCompletePeriod, REPORT_PERIODS, type ReportPeriod, type ReportPeriodKind } from '../workflow/report-period.ts';
import { readReport } from '../workflow/report-read.ts';
import { renderReport, reportTitle } from '../workflow/report-render.ts';
import { onceLedger } from './once-ledger.ts';
import type { OrchestraResources } from './resources.ts';

export interface ReportDestinations {
  /** The tracker issue and how to comment on it (idempotent by key). */
  tracker?: { issue: number; comment(number: number, key: string, body: string): Promise<{ posted: boolean }> };
  webhooks: ReadonlyArray<{ kind: WebhookKind; urlEnv: string }>;
  notify: { timeoutMs: number; retries: number };
  env?: Readonly<Record<string, string | undefined>>;
  /** Every known secret out of the report before it goes anywhere (an agent's reason may quote one). */
  redact: Redact;
  logger: Logger;
  onWebhook?: (kind: WebhookKind, outcome: 'sent' | 'failed') => void;
}

/**
 * Posts `report` to every destination not recorded yet in `ledger` (none is, without one: the
 * CLI's `--post`, where only the tracker's marker keeps it once); answers whether all took it.
 */
export async function postReport(report: Report, destinations: ReportDestinations, ledger?: OnceLedger): Promise<boolean> {
  const { key } = report.period;
  const body = destinations.redact(renderReport(report));
  let complete = true;
  if (destinations.tracker) {
    try {
      const { posted } = await destinations.tracker.comment(destinations.tracker.issue, key, body);
      destinations.logger.info({ period: key, issue: destinations.tracker.issue, posted }, posted ? 'report posted on the tracker' : 'report already on the tracker');
    } catch (error) {
      complete = false;
      destinations.logger.warn({ period: key, issue: destinations.tracker.issue, err: describeError(error) }, 'report not posted on the tracker');
    }
  }
  for (const target of destinations.webhooks) {
    const targetKey = `${key}.webhook.${target.kind}.${target.urlEnv}`;
    if (ledger && (await ledger.has(targetKey))) continue;
    let outcome = 'failed' as 'sent' | 'failed';
    const notifier = new WebhookNotifier({
      targets: [target],
      timeoutMs: destinations.notify.timeoutMs,
      retries: destinations.notify.retries,
      logger: destinations.logger,
      ...(destinations.env ? { env: destinations.env } : {}),
      onOutcome: (kind, result) => {
        outcome = result;
        destinations.onWebhook?.(kind, result);
      },
    });
    await notifier.send({ key, severity: 'info', resolved: false, title: destinations.redact(reportTitle(report)), text: body });
    if (outcome === 'sent') await ledger?.add(targetKey);
    else complete = false;
  }
  return complete;
}

export interface ReportSchedulerOptions {
  reports: OrchestraConfig['reports'];
  ledger: OnceLedger;
  /** The report of a period, made at `now`. */
  build: (period: ReportPeriod, now: number) => Promise<Report>;
  post: (report: Report) => Promise<boolean>;
  logger: Logger;
  now?: () => number;
}

export class ReportScheduler {
  readonly #jobs: Cron[] = [];
  /** Periods being posted: a firing while the last one still posts waits for none. */
  readonly #busy = new Set<string>();
  #stopped = false;
  /** Firings so far, per kind: tests wait for a firing after a restart. */
  readonly fired: Record<ReportPeriodKind, number> = { daily: 0, weekly: 0 };

  constructor(private readonly options: ReportSchedulerOptions) {}

  #expression(kind: ReportPeriodKind): string | undefined {
    return this.options.reports[kind];
  }

  /** Starts the cron jobs and posts what was missed while the orchestra was down. */
  async start(): Promise<void> {
    const { timeZone } = this.options.reports;
    for (const kind of REPORT_PERIODS) {
      const expression = this.#expression(kind);
      if (expression === undefined) continue;
      // protect: a firing that comes while the previous one still runs is skipped.
      this.#jobs.push(new Cron(expression, { timezone: timeZone, protect: true }, () => this.fire(kind)));
    }
    await Promise.all(REPORT_PERIODS.map((kind) => this.#catchUp(kind)));
  }

  stop(): void {
    this.#stopped = true;
    for (const job of this.#jobs) job.stop();
  }

  /**
   * A firing of `kind`'s schedule: the last complete period, once; and any earlier one still
   * within the catch-up window that was not posted everywhere (a destination that was down).
   */
  async fire(kind: ReportPeriodKind): Promise<void> {
    const now = (this.options.now ?? Date.now)();
    const last = lastCompletePeriod(kind, now, this.options.reports.timeZone);
    for (const period of this.#missed(kind, now)) if (period.key !== last.key) await this.#once(period, now);
    await this.#once(last, now);
    this.fired[kind] += 1;
  }

  /** At start: every period whose firing came while the orchestra was down, within the window. */
  async #catchUp(kind: ReportPeriodKind): Promise<void> {
    const now = (this.options.now ?? Date.now)();
    for (const period of this.#missed(kind, now)) await this.#once(period, now);
  }

  /** Every period of `kind` that ended within the catch-up window and whose firing came by `now`, oldest first. */
  #missed(kind: ReportPeriodKind, now: number): ReportPeriod[] {
    const expression = this.#expression(kind);
    if (expression === undefined) return [];
    const { timeZone, catchUpMs } = this.options.reports;
    const cron = new Cron(expression, { timezone: timeZone, paused: true });
    const missed: ReportPeriod[] = [];
    for (let period = lastCompletePeriod(kind, now, timeZone); now - period.until <= catchUpMs; period = lastCompletePeriod(kind, period.since, timeZone)) {
      const due = cron.nextRun(new Date(period.until - 1));
      if (due && due.getTime() <= now) missed.unshift(period);
    }
    return missed;
  }

  async #once(period: ReportPeriod, now: number): Promise<void> {
    const { ledger, logger } = this.options;
    if (this.#stopped || this.#busy.has(period.key)) return;
    this.#busy.add(period.key);
    try {
      if (await ledger.has(period.key)) return void logger.info({ period: period.key }, 'report already posted for this period');
      const report = await this.options.build(period, now);
      if (this.#stopped) return;
      if (await this.options.post(report)) {
        await ledger.add(period.key);
        logger.info({ period: period.key, empty: report.empty }, 'report posted');
      } else logger.warn({ period: period.key }, 'report not posted everywhere; tried again at the next firing or start');
    } catch (error) {
      logger.warn({ period: period.key, err: describeError(error) }, 'report not made; tried again at the next firing or start');
    } finally {
      this.#busy.delete(period.key);
    }
  }
}

export const reporterLogic = fromRuntime<{ resources: OrchestraResources }>(({ resources }, controls) => {
  const logger = actorLogger(resources.logger, 'reporter');
  const { config } = resources;
  const { reports, notify } = config;
  // Cluster mode: the tracker's comment behind the fence of this leader's epoch (./leader-fence.ts).
  const source = resources.issueSource && resources.fence ? fencedIssueSource(resources.issueSource, resources.fence) : resources.issueSource;
  const destinations: ReportDestinations = {
    ...(reports.issue !== undefined && source ? { tracker: { issue: reports.issue, comment: (number, key, body) => source.comment(number, key, body) } } : {}),
    webhooks: reports.webhooks ? notify.webhooks : [],
    notify,
    redact: resources.redact,
    logger,
    onWebhook: (kind, outcome) => resources.metrics.notification(kind, outcome),
  };
  const ledger = onceLedger(resources);
  const scheduler = new ReportScheduler({
    reports,
    ledger: { has: (key) => ledger.has(key), add: (key) => ledger.add(key) },
    build: async (period, now) => {
      const { nc, bus } = resources;
      if (!nc || !bus) throw new Error('bus not connected');
      return readReport({ nc, kv: await bus.kv(), config, stream: bus.topology.streams.events }, period, now);
    },
    post: (report) => postReport(report, destinations, ledger),
    logger,
  });
  controls.setState('scheduled', { ready: true });
  void scheduler.start().catch((error: unknown) => logger.warn({ err: describeError(error) }, 'missed reports not caught up'));
  return {
    shutdown: () => {
      scheduler.stop();
      controls.done();
    },
    kill: () => scheduler.stop(),
  };
});

/** Under `core`, only when a report is scheduled. */
export function reporterChild(resources: OrchestraResources): ChildSpec<typeof reporterLogic> | undefined {
  const { daily, weekly } = resources.config.reports;
  if (daily === undefined && weekly === undefined) return undefined;
  return { id: 'reporter', logic: reporterLogic, input: { resources }, restart: 'permanent' };
}
