/**
 * The core actors: the machines of src/machines given their effects. Each reads the bus from the
 * shared resources when it acts, and never throws from an effect: a failed publish is logged.
 */
import { fromPromise } from 'xstate';
import { describeError } from '../errors.ts';
import { actorLogger } from '../infra/observe/logger.ts';
import { healthMonitorMachine, reportToPublish, type HealthReport } from '../machines/health-monitor.ts';
import { issueWatcherMachine } from '../machines/issue-watcher.ts';
import { IssueWatcher } from '../workflow/watcher.ts';
import type { ChildSpec } from '../supervisor/index.ts';
import { DEFAULT_HEALTH_LIMITS, EMPTY_HEALTH_MEMORY, judgeHealth } from '../machines/health-judge.ts';
import { HealthObserver } from './health-checks.ts';
import { EMPTY_NOTICE_MEMORY, healthNotices } from '../machines/health-notices.ts';
import { WebhookNotifier } from '../infra/observe/notifier.ts';
import { onceLedger } from './once-ledger.ts';
import { HealthIssueReporter } from './health-issues.ts';
import type { OrchestraResources } from './resources.ts';
import { behindFence } from './leader-fence.ts';

/** Where the health monitor's reports go (docs/BUS.md). */
export const HEALTH_SUBJECT = 'miyabi.events.health';

function publisher(resources: OrchestraResources, actorId: string) {
  const logger = actorLogger(resources.logger, actorId);
  return (subject: string, type: string, payload: unknown) => {
    const bus = resources.bus;
    if (!bus) return logger.warn({ subject, type }, 'bus not connected; event dropped');
    bus.publish(subject, type, payload).catch((error: unknown) =>
      logger.warn({ subject, type, err: describeError(error) }, 'publish failed'),
    );
  };
}

export function healthMonitorChild(resources: OrchestraResources): ChildSpec {
  const logger = actorLogger(resources.logger, 'health-monitor');
  const publish = publisher(resources, 'health-monitor');
  let lastOk: boolean | undefined;
  let memory = EMPTY_HEALTH_MEMORY;
  let lastProblems = new Set<string>();
  const observer = new HealthObserver(resources);
  const limits = { ...DEFAULT_HEALTH_LIMITS, heartbeatLateMs: 2 * resources.config.panes.heartbeatIntervalMs, maxStoreShare: resources.config.health.maxStoreShare, stuckIssues: resources.config.health.stuckIssues };
  const { notify } = resources.config;
  const notifier = notify.webhooks.length === 0 ? undefined : new WebhookNotifier({
    targets: notify.webhooks,
    timeoutMs: notify.timeoutMs,
    retries: notify.retries,
    logger,
    onOutcome: (kind, outcome) => resources.metrics.notification(kind, outcome),
  });
  let notified = EMPTY_NOTICE_MEMORY;
  const issueTracker = notify.githubIssues.enabled ? resources.issueSource?.healthIssues?.(notify.githubIssues.label) : undefined;
  const healthIssues = issueTracker && new HealthIssueReporter({ tracker: issueTracker, commentIntervalMs: notify.githubIssues.commentIntervalMs, maxPerCheck: notify.maxPerCheck, logger });
  // For the KPIs (docs/KPI.md): each report is a sign of life, with the agents there to work.
  let agentsPresent: Record<string, number> = {};
  let published: { gist: string; at: number } | undefined;
  const logic = healthMonitorMachine.provide({
    actors: {
      check: fromPromise<HealthReport>(async () => {
        const observation = await observer.observe();
        agentsPresent = {};
        for (const agent of observation.agents) if (agent.status === 'running') agentsPresent[agent.role] = (agentsPresent[agent.role] ?? 0) + 1;
        // Read at each check: the disk guard's threshold may be changed while it runs.
        const judged = judgeHealth(observation, memory, { ...limits, minFreeDiskBytes: resources.config.health.minFreeDiskBytes });
        memory = judged.memory;
        const findings = judged.problems;
        resources.lastHealth = { ok: findings.length === 0, problems: findings.map((finding) => finding.message), findings, checkedAt: new Date().toISOString() };
        return resources.lastHealth;
      }),
    },
    actions: {
      report: (_, report) => {
        resources.metrics.healthy(report.ok);
        if (report.ok !== lastOk) {
          if (report.ok) logger.info('orchestra healthy');
          else logger.warn({ problems: report.problems }, 'orchestra degraded');
        } else if (!report.ok) {
          // Still degraded: a finding this check has and the last one had not is said too.
          const fresh = report.problems.filter((problem) => !lastProblems.has(problem));
          if (fresh.length > 0) logger.warn({ problems: fresh }, 'orchestra still degraded');
          lastOk = report.ok;
        }
        lastProblems = new Set(report.problems);
        if (notifier) {
          const next = healthNotices(notified, report.findings ?? [], notify, Date.now());
          notified = next.memory;
          // In the background: a slow or failing webhook never holds up the checks.
          for (const notice of next.notices) void notifier.send(notice);
        }
        healthIssues?.report(report.findings ?? []);
        // On change (the agents there to work included: the KPIs' available time) or after the slow
        // heartbeat; `intervalMs` tells the KPIs how long a silence is still a sign of life.
        const { health } = resources.config;
        const next = reportToPublish(published, report, Date.now(), health.reportHeartbeatMs, agentsPresent);
        if (next === undefined) return;
        published = next;
        publish(HEALTH_SUBJECT, 'health.report', { ...report, intervalMs: health.reportHeartbeatMs, agents: agentsPresent, startedAt: resources.startedAt.toISOString() });
      },
    },
  });
  return { id: 'health-monitor', logic, input: { checkIntervalMs: resources.config.health.checkIntervalMs } };
}

export function issueWatcherChild(resources: OrchestraResources): ChildSpec {
  const logger = actorLogger(resources.logger, 'issue-watcher');
  const source = resources.issueSource;
  if (!source) throw new Error('issue watcher started without an issue source');
  const watcher = new IssueWatcher({
    config: resources.config,
    source,
    logger,
    // Cluster mode: behind the fence of this leader's epoch (./leader-fence.ts).
    publish: behindFence(resources.fence, async (subject: string, type: string, payload: unknown, msgId: string) => {
      // The bus of the moment: it is replaced when it reconnects.
      const bus = resources.bus;
      if (!bus) throw new Error('bus not connected');
      // What the workflow may act on without asking the tracker again (src/workflow/vouchers.ts).
      resources.issueVouchers.record(type, payload);
      await bus.publish(subject, type, payload, { msgId });
    }),
    onIgnored: (reason) => resources.workflowMetrics.issueIgnored(reason),
    ledger: onceLedger(resources),
  });
  const { issues } = resources.config;
  const pollIntervalMs = issues.source === 'github' ? (issues.github?.pollIntervalMs ?? 60_000) : issues.local.pollIntervalMs;
  const next = `will poll again in ${pollIntervalMs / 1000} s`;
  let failing: string | undefined;
  const logic = issueWatcherMachine.provide({
    actors: {
      poll: fromPromise<unknown>(async () => {
        resources.watcher = watcher;
        const outcome = await watcher.poll();
        if (outcome.undecided > 0) {
          // Once per problem: the issues not judged are neither acted on nor released meanwhile.
          if (failing !== outcome.problem) logger.warn({ undecided: outcome.undecided, problem: outcome.problem }, `issue poll not complete; ${next}`);
          failing = outcome.problem;
        } else {
          if (failing !== undefined) logger.info('issue source read in full again');
          failing = undefined;
        }
        return outcome;
      }),
    },
    actions: {
      pollFailed: (_, error) => {
        // Once per outage: the next interval retries, and the orchestra keeps working meanwhile.
        if (failing === undefined) logger.warn({ err: describeError(error) }, `issue poll failed; ${next}`);
        failing = describeError(error);
      },
    },
  });
  return { id: 'issue-watcher', logic, input: { pollIntervalMs } };
}
