/**
 * Workspace: removes an issue's worktree when the issue is finished (`issue.finished` on
 * `miyabi.events.issue.<n>`), unless the workflow says the issue is still being worked on. The branch stays, and with it every commit the agents made. The
 * worktrees of an earlier run are reconciled before the tree starts (orchestra.ts). Finished issues'
 * task files (`<dataDir>/tasks/issue-<n>.*`) go once `workspace.taskFilesRetentionHours` have
 * passed, and their effect ledger and stage cache in the KV bucket once `retention.days` have
 * (src/workflow/retention.ts), as are the agents' log days older than that: swept at start, whenever an issue finishes, and every
 * `retention.sweepIntervalMs`.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { join } from 'node:path';
import { z } from 'zod';
import { removeIssueTaskFiles } from '../agents/run-agent.ts';
import { actorLogger } from '../infra/observe/logger.ts';
import { removeOldPaneLogDays } from '../infra/panes/log.ts';
import type { BusSubscription } from '../infra/bus/consumer.ts';
import { fromRuntime, type ChildSpec } from '../supervisor/index.ts';
import { FINISHED_STATES, pruneFinishedIssues } from '../workflow/retention.ts';
import type { OrchestraResources } from './resources.ts';

export const ISSUE_FINISHED = 'issue.finished';
export const issueEventsSubject = 'miyabi.events.issue.>';
const finishedSchema = z.object({ number: z.number().int().positive() }).loose();

export const workspaceLogic = fromRuntime<{ resources: OrchestraResources }>(({ resources }, controls) => {
  const logger = actorLogger(resources.logger, 'workspace');
  const bus = resources.bus;
  if (!bus) throw new Error('workspace started without the bus');
  let subscription: BusSubscription | undefined;
  const pruned = new Set<number>();
  /** Finished issues' task files and KV records past their retention go; the rest stay for inspection. */
  const sweepFinished = async (only?: number) => {
    const { config } = resources;
    const all = resources.workflow?.states() ?? new Map<number, string>();
    // An issue that just finished is swept alone: a sweep of every issue at each finish would cost
    // the square of the backlog. Everything is swept at start and every sweepIntervalMs.
    const states = only === undefined ? all : new Map([...all].filter(([number]) => number === only));
    const olderThan = Date.now() - config.workspace.taskFilesRetentionHours * 3_600_000;
    for (const [number, state] of states) {
      if (!FINISHED_STATES.has(state)) continue;
      const taskDirs = await removeIssueTaskFiles(config.dataDir, number, { olderThan });
      if (taskDirs > 0) logger.info({ issue: number, taskDirs }, 'finished issue: task files removed');
    }
    const logDays = only === undefined ? await removeOldPaneLogDays(join(config.dataDir, 'logs', 'agents'), config.retention.days) : 0;
    if (logDays > 0) logger.info({ files: logDays }, 'agents\' log days past retention removed');
    if (!resources.nc || resources.nc.isClosed()) return;
    const kv = await bus.kv();
    const outcome = await pruneFinishedIssues({
      kv,
      jsm: await jetstreamManager(resources.nc),
      bucket: bus.topology.kvBucket,
      states,
      olderThan: Date.now() - config.retention.days * 86_400_000,
      pruned,
    });
    if (outcome.issues.length > 0) logger.info({ issues: outcome.issues, purged: outcome.purged }, 'finished issues: KV ledger and cache pruned');
  };
  const sweep = () => void sweepFinished().catch((error: unknown) => logger.warn({ err: String(error) }, 'could not sweep finished issues'));
  let timer: NodeJS.Timeout | undefined;
  let stopping = false;
  bus
    .consume({
      stream: bus.topology.streams.events,
      durable: 'workspace',
      filterSubject: issueEventsSubject,
      ackWaitMs: resources.config.bus.ackWaitMs,
      maxDeliver: resources.config.bus.maxDeliver,
      handler: async (envelope) => {
        if (envelope.type !== ISSUE_FINISHED) return;
        const issue = finishedSchema.parse(envelope.payload);
        // Not on the bus's word alone: an issue the workflow is working on keeps its worktree.
        const state = resources.workflow?.states().get(issue.number);
        if (state !== undefined && !FINISHED_STATES.has(state)) {
          return void logger.warn({ issue: issue.number, state }, 'issue.finished for an issue the workflow is working on; worktree kept');
        }
        const removed = await resources.worktrees.remove(`issue-${issue.number}`);
        if (removed) logger.info({ issue: issue.number }, 'issue finished; worktree removed');
        await sweepFinished(issue.number).catch((error: unknown) => logger.warn({ err: String(error) }, 'could not sweep finished issues'));
      },
    })
    .then(
      (created) => {
        subscription = created;
        if (stopping) return void created.stop();
        controls.setState('watching', { ready: true });
        sweep();
        timer = setInterval(sweep, resources.config.retention.sweepIntervalMs);
      },
      (error: unknown) => controls.fail(error),
    );
  return {
    shutdown: () => {
      stopping = true;
      clearInterval(timer);
      void (subscription?.stop() ?? Promise.resolve()).then(() => controls.done());
    },
    kill: () => {
      stopping = true;
      clearInterval(timer);
      void subscription?.stop();
    },
  };
});

export function workspaceChild(resources: OrchestraResources): ChildSpec<typeof workspaceLogic> {
  return { id: 'workspace', logic: workspaceLogic, input: { resources }, restart: 'permanent', shutdown: 10_000 };
}
