/**
 * Workspace: removes an issue's worktree when the issue is finished (`issue.finished` on
 * `miyabi.events.issue.<n>`), unless the workflow says the issue is still being worked on. The branch stays, and with it every commit the agents made. The
 * worktrees of an earlier run are reconciled before the tree starts (orchestra.ts). Finished issues'
 * task files (`<dataDir>/tasks/issue-<n>.*`) go once `workspace.taskFilesRetentionHours` have
 * passed: swept at start and whenever an issue finishes.
 */
import { z } from 'zod';
import { removeIssueTaskFiles } from '../agents/run-agent.ts';
import { actorLogger } from '../infra/observe/logger.ts';
import type { BusSubscription } from '../infra/bus/consumer.ts';
import { fromRuntime, type ChildSpec } from '../supervisor/index.ts';
import type { OrchestraResources } from './resources.ts';

export const ISSUE_FINISHED = 'issue.finished';
export const issueEventsSubject = 'miyabi.events.issue.>';
/** Lifecycle states whose worktree is no longer needed. */
const FINISHED_STATES = new Set(['done', 'failed', 'released']);
const finishedSchema = z.object({ number: z.number().int().positive() }).loose();

export const workspaceLogic = fromRuntime<{ resources: OrchestraResources }>(({ resources }, controls) => {
  const logger = actorLogger(resources.logger, 'workspace');
  const bus = resources.bus;
  if (!bus) throw new Error('workspace started without the bus');
  let subscription: BusSubscription | undefined;
  /** Finished issues' task files past their retention go; the rest stay for inspection. */
  const sweepTaskFiles = async () => {
    const olderThan = Date.now() - resources.config.workspace.taskFilesRetentionHours * 3_600_000;
    for (const [number, state] of resources.workflow?.states() ?? []) {
      if (!FINISHED_STATES.has(state)) continue;
      const taskDirs = await removeIssueTaskFiles(resources.config.dataDir, number, { olderThan });
      if (taskDirs > 0) logger.info({ issue: number, taskDirs }, 'finished issue: task files removed');
    }
  };
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
        await sweepTaskFiles();
      },
    })
    .then(
      (created) => {
        subscription = created;
        if (stopping) return void created.stop();
        controls.setState('watching', { ready: true });
        void sweepTaskFiles().catch((error: unknown) => logger.warn({ err: String(error) }, 'could not sweep task files'));
      },
      (error: unknown) => controls.fail(error),
    );
  return {
    shutdown: () => {
      stopping = true;
      void (subscription?.stop() ?? Promise.resolve()).then(() => controls.done());
    },
    kill: () => {
      stopping = true;
      void subscription?.stop();
    },
  };
});

export function workspaceChild(resources: OrchestraResources): ChildSpec<typeof workspaceLogic> {
  return { id: 'workspace', logic: workspaceLogic, input: { resources }, restart: 'permanent', shutdown: 10_000 };
}
