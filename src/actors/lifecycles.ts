/**
 * The `lifecycles` actor: the coordinator of the workflow. It runs the workflow engine
 * (src/workflow/engine.ts) on the bus — every issue's lifecycle, the KV commit, the effects —
 * and drives its two siblings, the `dag` and `scheduler` actors, synchronously. It consumes the
 * watcher's issue events and the runners' task results, each through its own durable consumer,
 * and acks a message only after the engine has stepped and written its state (an issue event only
 * once checked, src/workflow/vouchers.ts); a timer ticks
 * retries and tracker write-backs that failed. Restarted (with its siblings: the `workflow`
 * supervisor is `one_for_all`), it loads its state from the KV bucket, rebuilds the graph and
 * the queue, and goes on where it was.
 */
import { z } from 'zod';
import { checkAgentProgram } from '../agents/command-check.ts';
import { isTimedOutReason, issueSchema } from '../agents/task.ts';
import { describeError } from '../errors.ts';
import type { BusSubscription } from '../infra/bus/consumer.ts';
import { actorLogger } from '../infra/observe/logger.ts';
import { redactDeep } from '../infra/observe/redact.ts';
import { diskSpace } from '../infra/os/disk.ts';
import { diskFullReason } from '../machines/health-judge.ts';
import type { OrchestraResources } from './resources.ts';
import type { Bus } from '../infra/bus/bus.ts';
import { deadLetterSchema, MalformedPayload, originalBody, type DeadLetter } from '../infra/bus/dead-letter.ts';
import { decodeEnvelope, formatIssues } from '../infra/bus/envelope.ts';
import { CANCEL_SUBJECT, cancelKey, isRedelivery, isResult, TASK_CANCELLED, TASK_REDELIVERED, TASK_RESULT, taskEventSchema, taskMessageSchema, type TaskResult } from '../runner/task-message.ts';
import { fromRuntime, type ChildSpec } from '../supervisor/index.ts';
import type { DagActor } from './dag.ts';
import { graphPort } from './dag.ts';
import { queuePort, type SchedulerActor } from './scheduler.ts';
import { Workflow } from '../workflow/engine.ts';
import { logRedelivery } from '../workflow/redeliveries.ts';
import { WorkflowStore } from '../workflow/store.ts';
import { behindFence, FencedWorkflowStore, fencedIssueSource } from './leader-fence.ts';
import { BudgetLedger } from '../workflow/budget-ledger.ts';
import { IssueGate, resultRefusal } from '../workflow/vouchers.ts';
import { ISSUE_COMMAND, ISSUE_OBSERVED, ISSUE_RELEASED, ISSUE_SCOPE } from '../workflow/issue-events.ts';

const issueEventSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal(ISSUE_OBSERVED),
    issue: issueSchema,
    contentHash: z.string(),
    dependsOn: z.array(z.number().int().positive()),
  }),
  z.object({ kind: z.literal(ISSUE_RELEASED), number: z.number().int().positive(), reason: z.string() }),
  z.object({
    kind: z.literal(ISSUE_COMMAND),
    number: z.number().int().positive(),
    command: z.enum(['retry', 'answer']),
    by: z.string(),
    /** With `answer`: the answer, untrusted text from a trusted person. */
    text: z.string().max(65_536).optional(),
    /** The message id (`command:<n>:<comment id>`, `answer:<n>:<comment id>`): obeyed once for good. */
    id: z.string().max(200).optional(),
  }),
  z.object({ kind: z.literal(ISSUE_SCOPE), open: z.array(z.number().int().positive()) }),
]);

/** How often retries and failed write-backs are looked at. */
const TICK_MS = 500;

/** The workflow's three durable consumers, the same for consuming and for `workflowBacklog`. */
function consumers(bus: Bus, config: OrchestraResources['config']) {
  // Events are short to handle: pull several ahead.
  const common = { ackWaitMs: config.bus.ackWaitMs, maxDeliver: config.bus.maxDeliver, batch: 16 };
  return {
    issues: { ...common, stream: bus.topology.streams.events, durable: 'workflow-issues', filterSubject: 'miyabi.events.issue.>' },
    results: { ...common, stream: bus.topology.streams.events, durable: 'workflow-results', filterSubject: 'miyabi.events.task.>' },
    deadTasks: { ...common, stream: bus.topology.streams.dlq, durable: 'workflow-dead-tasks', filterSubject: bus.deadLetterSubject('miyabi.tasks.>') },
  };
}

/** Where this incarnation of the workflow subtree's `dag` and `scheduler` actors are. */
export interface WorkflowSiblings {
  dag?: DagActor;
  scheduler?: SchedulerActor;
}

export const lifecyclesLogic = fromRuntime<{ resources: OrchestraResources; siblings: WorkflowSiblings }>(({ resources, siblings }, controls) => {
  const logger = actorLogger(resources.logger, 'lifecycles');
  // Cluster mode: every write behind the fence of the epoch this leader was elected with (./leader-fence.ts).
  const { bus, nc, fence } = resources;
  const source = resources.issueSource && fence ? fencedIssueSource(resources.issueSource, fence) : resources.issueSource;
  if (!bus || !nc) throw new Error('workflow started without the bus');
  if (!source) throw new Error('workflow started without an issue source');
  const { dag, scheduler } = siblings;
  if (!dag || !scheduler) throw new Error('lifecycles started before its dag and scheduler siblings');
  const subscriptions: BusSubscription[] = [];
  let ticker: NodeJS.Timeout | undefined;
  let engine: Workflow | undefined;
  let stopping = false;

  const stop = async () => {
    stopping = true;
    clearInterval(ticker);
    // A handler in flight may wait on a step that waits on a CI command: stopped before waiting.
    engine?.interrupt();
    await Promise.all(subscriptions.map((subscription) => subscription.stop()));
    await engine?.close();
    if (resources.workflow === engine) resources.workflow = undefined;
    resources.budget = undefined;
  };

  void (async () => {
    const kv = await bus.kv();
    const budget = await BudgetLedger.open(kv, resources.config.budget, logger, resources.budgetClock);
    engine = new Workflow({
      config: resources.config,
      source,
      store: fence ? new FencedWorkflowStore(kv, fence) : new WorkflowStore(kv),
      logger,
      workspace: resources.workspace,
      baseBranch: resources.workspace.baseBranch,
      metrics: resources.workflowMetrics,
      dag: graphPort(dag),
      scheduler: queuePort(scheduler),
      ...(resources.extraDependencies ? { extraDependencies: resources.extraDependencies } : {}),
      publish: behindFence(fence, async (subject: string, type: string, payload: unknown, msgId?: string) => {
        await bus.publish(subject, type, payload, { msgId });
      }),
      cancel: behindFence(fence, async (taskId: string) => {
        await kv.put(cancelKey(taskId), JSON.stringify({ at: new Date().toISOString() }));
        nc.publish(CANCEL_SUBJECT, JSON.stringify({ taskId }));
      }),
      ...(resources.pushBranch ? { pushBranch: resources.pushBranch } : {}),
      redact: resources.redact,
      onTransition: (record, previous, next, event) => resources.inspection.issueTransition(record, previous, next, event),
      checkProgram: (command) => checkAgentProgram(command),
      // Read at each dispatch, not from the last health check: a disk that fills between two
      // checks stops new work at once.
      dispatchPaused: async () =>
        diskFullReason((await diskSpace(resources.config.dataDir))?.freeBytes, resources.config.health.minFreeDiskBytes) ?? budget.admission(),
    });
    await engine.start();
    if (stopping) return;
    const gate = new IssueGate({ vouchers: resources.issueVouchers, source, config: resources.config, logger });
    const options = consumers(bus, resources.config);
    subscriptions.push(
      await bus.consume({
        ...options.issues,
        handler: async (envelope) => {
          if (envelope.type === 'issue.finished') return;
          // A malformed event is a bug or an intruder: it goes to dead letters, not into a crash.
          const parsed = issueEventSchema.safeParse({ kind: envelope.type, ...(envelope.payload as object) });
          if (!parsed.success) throw new MalformedPayload(formatIssues(parsed.error));
          const event = parsed.data;
          // Not believed because it is on the bus: checked against this process's watcher, or the tracker.
          switch (event.kind) {
            case ISSUE_OBSERVED: {
              const checked = await gate.observed({ issue: event.issue, contentHash: event.contentHash, dependsOn: event.dependsOn });
              if (checked) await engine!.observe(checked);
              return;
            }
            case ISSUE_RELEASED:
              return (await gate.released(event.number)) ? engine!.release(event.number, event.reason) : undefined;
            case ISSUE_COMMAND:
              if (!(await gate.command(event))) return;
              if (event.command === 'answer') return void (await engine!.answer(event.number, event.text ?? '', event.by, event.id));
              return void (await engine!.retry(event.number, event.by, event.id));
            case ISSUE_SCOPE: {
              if (!gate.scope(event.open)) return;
              const open = new Set(event.open);
              for (const issue of engine!.states().keys()) {
                if (!open.has(issue)) await engine!.release(issue, 'closed on the tracker, or no longer labelled or trusted');
              }
              return;
            }
          }
        },
      }),
      await bus.consume({
        ...options.results,
        payloadSchema: taskEventSchema,
        handler: async ({ type, payload }, delivery) => {
          const snapshot = engine!.records.has(payload.issue) ? engine!.snapshot(payload.issue) : undefined;
          const current = snapshot && { taskId: snapshot.context.taskId, role: snapshot.context.route[snapshot.context.stageIndex]?.role };
          const refusal = resultRefusal(delivery.subject, payload, current);
          if (refusal !== undefined) {
            return void logger.warn({ issue: payload.issue, taskId: payload.taskId, role: payload.role, why: refusal }, 'task result not from the role of its task; ignored');
          }
          if (isRedelivery(payload)) {
            if (type !== TASK_REDELIVERED) return;
            logRedelivery(engine!, payload);
            // The run before it left no answer but spent: counted once, like a result's.
            if (payload.spent === undefined || budget.counted({ taskId: payload.taskId, attempt: payload.spent.attempt })) return;
            const { attempt, durationMs, cost } = payload.spent;
            resources.workflowMetrics.agentSpend(payload.role, durationMs, cost);
            return void (await budget.count({ taskId: payload.taskId, issue: payload.issue, role: payload.role, attempt, durationMs, ...(cost === undefined ? {} : { cost }) }));
          }
          if (!isResult(payload)) {
            if (type !== TASK_CANCELLED) throw new MalformedPayload(`a ${type} event without a result's status`);
            // A run the workflow cancelled answers nothing, but what it spent is counted (once, like a result's).
            resources.workflowMetrics.agentSpend(payload.role, payload.durationMs, payload.cost);
            return void (await budget.count(payload));
          }
          if (type !== TASK_RESULT) return;
          // Its runner stopped the agent at the timeout and hands the task on: recovered when it runs again.
          if (payload.status === 'retry' && isTimedOutReason(payload.reason)) resources.faults.noticed(`task ${payload.taskId}`, 'timeout', Date.now());
          resources.workflowMetrics.stageRun(payload.stage, payload.status);
          resources.workflowMetrics.taskResult(payload);
          if (payload.status !== 'needs_input') {
            resources.taskSamples.record(payload.role, payload.durationMs / 1000, payload.status === 'failure' || payload.status === 'retry');
          }
          // Spent once, whatever the workflow makes of it; past the issue's cap it is a budget_exceeded failure.
          const counted = await budget.record(payload);
          // The runner redacted it; redacted again here, before it reaches the KV bucket and the tracker.
          await engine!.result(redactDeep(counted, resources.redact));
        },
      }),
      // A task the bus gave up on (its runners died, or it hit the delivery limit) never sends a
      // result: its dead letter stands in for one, a failure the lifecycle retries or fails on.
      await bus.consume({
        ...options.deadTasks,
        payloadSchema: deadLetterSchema,
        handler: async (envelope) => {
          const task = deadTask(envelope.payload);
          if (!task) return logger.warn({ subject: envelope.payload.originalSubject }, 'dead letter of a task that cannot be read; left in MIYABI_DLQ');
          resources.workflowMetrics.stageRun(task.stage, 'dead_letter');
          await engine!.result({
            ...task,
            agentId: 'bus',
            status: 'failure',
            reason: `the bus gave up on the task after ${envelope.payload.deliveryCount} deliveries (${envelope.payload.reason}: ${envelope.payload.error})`,
            durationMs: 0,
            worktree: '',
          });
        },
      }),
    );
    if (stopping) return void (await stop());
    ticker = setInterval(() => {
      resources.workflowMetrics.issuesByState(countStates(engine!));
      resources.workflowMetrics.budget(budget.status());
      engine!.tick().catch((error: unknown) => logger.warn({ err: describeError(error) }, 'workflow tick failed'));
    }, TICK_MS);
    resources.workflow = engine;
    resources.budget = budget;
    controls.setState('running', { ready: true });
  })().catch((error: unknown) => {
    void stop().finally(() => controls.fail(error));
  });

  return {
    shutdown: () => void stop().then(() => controls.done()),
    kill: () => void stop(),
  };
});

/** The task inside a dead letter, with the attempt it had reached. */
function deadTask(letter: DeadLetter): Pick<TaskResult, 'taskId' | 'issue' | 'role' | 'stage' | 'attempt' | 'branch'> | undefined {
  const decoded = decodeEnvelope(originalBody(letter), taskMessageSchema);
  if (!decoded.ok) return undefined;
  const task = decoded.envelope.payload;
  return {
    taskId: task.taskId,
    issue: task.issue.number,
    role: task.role,
    stage: task.stage,
    attempt: task.attempt + letter.deliveryCount - 1,
    branch: task.branch,
  };
}

/** Messages the workflow has not consumed yet (all its consumers), for batch mode. */
export async function workflowBacklog(resources: OrchestraResources): Promise<number> {
  const bus = resources.bus;
  if (!bus) return Number.POSITIVE_INFINITY;
  const counts = await Promise.all(Object.values(consumers(bus, resources.config)).map((options) => bus.backlog(options)));
  return counts.reduce((sum, { pending, ackPending }) => sum + pending + ackPending, 0);
}

function countStates(engine: Workflow): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const state of engine.states().values()) counts[state] = (counts[state] ?? 0) + 1;
  return counts;
}

export function lifecyclesChild(resources: OrchestraResources, siblings: WorkflowSiblings): ChildSpec<typeof lifecyclesLogic> {
  return { id: 'lifecycles', logic: lifecyclesLogic, input: { resources, siblings }, restart: 'permanent', shutdown: 10_000 };
}
