/**
 * The core actors: the machines of src/machines given their effects. Each reads the bus from the
 * shared resources when it acts, and never throws from an effect: a failed publish is logged.
 */
import { fromPromise } from 'xstate';
import { describeError } from '../errors.ts';
import { actorLogger } from '../infra/logger.ts';
import { healthMonitorMachine, type HealthReport } from '../machines/health-monitor.ts';
import { issueWatcherMachine } from '../machines/issue-watcher.ts';
import type { OrchestraResources } from '../orchestra/resources.ts';
import type { ChildSpec } from '../supervisor/index.ts';
import { readiness } from './http-endpoint.ts';

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
  const logic = healthMonitorMachine.provide({
    actors: {
      check: fromPromise<HealthReport>(async () => {
        const { detail } = readiness(resources);
        // The monitor checks itself while it is still starting: it is running if it checks.
        const notRunning = (detail.notRunning as string[]).filter((entry) => !entry.includes('/health-monitor:'));
        const problems = [...(detail.busConnected ? [] : ['bus not connected']), ...notRunning];
        return { ok: problems.length === 0, problems, checkedAt: new Date().toISOString() };
      }),
    },
    actions: {
      report: (_, report) => {
        resources.metrics.healthy(report.ok);
        if (report.ok !== lastOk) {
          if (report.ok) logger.info('orchestra healthy');
          else logger.warn({ problems: report.problems }, 'orchestra degraded');
          lastOk = report.ok;
        }
        publish('miyabi.events.health', 'health.report', report);
      },
    },
  });
  return { id: 'health-monitor', logic, input: { checkIntervalMs: resources.config.health.checkIntervalMs } };
}

export function issueWatcherChild(resources: OrchestraResources): ChildSpec {
  const logger = actorLogger(resources.logger, 'issue-watcher');
  const publish = publisher(resources, 'issue-watcher');
  const logic = issueWatcherMachine.provide({
    actions: {
      discovered: (_, issues) => {
        for (const issue of issues) publish(`miyabi.events.issue.${issue.number}`, 'issue.discovered', issue);
      },
      pollFailed: (_, error) => logger.warn({ err: describeError(error) }, 'issue poll failed; next interval retries'),
    },
  });
  const github = resources.config.issues.github;
  return { id: 'issue-watcher', logic, input: { pollIntervalMs: github?.pollIntervalMs ?? 60_000 } };
}
