/**
 * The pane runner: the process inside each agent's pane (or headless process). It pulls one task
 * at a time from its role's consumer, makes sure the issue's worktree exists, runs the agent
 * command through the agent protocol, streams the agent's output to the pane and to the agent's
 * log, keeps the message's ack deadline extended and heartbeats going while the agent works,
 * publishes the result event, and only then acks. If the runner dies mid-task, the message is not
 * acked and JetStream redelivers it to another runner, with the attempt counted; that runner says
 * so (`task.redelivered`) before the agent starts, since the dead one sent no result.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { runAgent, taskFilesOf } from '../agents/run-agent.ts';
import type { AgentCost } from '../agents/task.ts';
import { AgentErrorCodes } from '../agents/errors.ts';
import { runTimeoutMs, taskOverBudget } from '../agents/task-budget.ts';
import { busTopologyOf } from '../config/bus-topology.ts';
import { repoDirOf, worktreesDirOf } from '../config/paths.ts';
import type { OrchestraConfig } from '../config/schema.ts';
import { backoffDelayMs } from '../backoff.ts';
import { abortableDelay } from '../infra/backoff.ts';
import { describeError } from '../errors.ts';
import { Bus } from '../infra/bus/bus.ts';
import { RECONNECT_WINDOW_MS } from '../infra/nats/connection.ts';
import type { BusSubscription } from '../infra/bus/consumer.ts';
import { PaneLog } from '../infra/panes/log.ts';
import { noRedaction, type Redact } from '../infra/observe/redact.ts';
import { WorktreeManager } from '../infra/git/worktrees.ts';
import { checkAgentProgram } from '../agents/command-check.ts';
import { heartbeatSubject, jsonField, type HeartbeatMessage } from './heartbeat.ts';
import { discardResultFile, spendLeftByRun } from './finished-task.ts';
import { keptAnswers } from './kept-answers.ts';
import { taskAnswers } from './task-answers.ts';
import { watchRunningCost } from './running-cost.ts';
import { clearAgentGroup, recordAgentGroup } from './pid-file.ts';
import {
  CANCEL_SUBJECT,
  cancelKey,
  TASK_CANCELLED,
  LOG_TAIL_LINES,
  resultSubject,
  TASK_REDELIVERED,
  TASK_RESULT,
  taskConsumer,
  taskDurable,
  taskMessageSchema,
  type TaskCancelled,
  type TaskRedelivered,
  type TaskResult,
} from './task-message.ts';

/** An agent that asked for a retry gets its task again after 1 s, 2 s, 4 s … at most a minute (the nak's delay). */
const AGENT_RETRY_BACKOFF = { baseMs: 1_000, maxMs: 60_000 };
/** A result the bus did not take is offered again after 100 ms, 200 ms … at most 2 s. */
const RESULT_PUBLISH_BACKOFF = { baseMs: 100, maxMs: 2_000 };
/**
 * A PubAck takes milliseconds; one not back in a second went to a server that died with it (the
 * request is not failed by the reconnect), and the retry, deduplicated, costs nothing.
 */
const RESULT_PUBLISH_TIMEOUT_MS = 1_000;

export interface PaneRunnerOptions {
  agentId: string;
  role: string;
  config: OrchestraConfig;
  nc: NatsConnection;
  logger: Logger;
  /** The pane: what a person attached to tmux reads. */
  print: (line: string) => void;
  /**
   * Applied to the agent's output on its way in (the pane, the agent's log, the log tail) and to
   * its result before it is published: every value known to be secret is replaced.
   */
  redact?: Redact;
}

export interface PaneRunner {
  /** Stop pulling, let the running agent finish (its run is cancelled if the consumer stops), close. */
  stop(): Promise<void>;
  readonly done: Promise<void>;
}

export function durableFor(role: string): string {
  return taskDurable(role);
}

export async function startPaneRunner(options: PaneRunnerOptions): Promise<PaneRunner> {
  const { agentId, role, config, nc, logger, print } = options;
  const redact = options.redact ?? noRedaction;
  const agent = config.agents[role];
  if (!agent) throw new Error(`no agent role ${role} in the config`);
  try {
    checkAgentProgram(agent.command);
  } catch (error) {
    // The caller says why on `miyabi.agent.<role>.<id>.error` (and in its log) before exiting (src/cli/commands/pane.ts).
    throw new Error(`agents.${role}.command: ${describeError(error)}`, { cause: error });
  }
  const bus = new Bus(nc, {
    sender: agentId,
    logger,
    topology: busTopologyOf(config),
  });
  const worktrees = new WorktreeManager({ repoDir: repoDirOf(config), rootDir: worktreesDirOf(config) });
  const paneLog = new PaneLog({
    dir: join(config.dataDir, 'logs', 'agents'),
    agentId,
    maxBytes: config.panes.log.maxBytes,
    maxFiles: config.panes.log.maxFiles,
  });

  // Open the repository now, beside connecting and subscribing, rather than when the first task
  // (often a redelivered one, after a crash) is already waiting. A failure shows at that task.
  void worktrees.list().catch(() => undefined);

  let current: { taskId: string; issue: number; agentPid?: number; ackSubject?: string; cost?: AgentCost } | undefined;
  /** Stops the current task's agent when the workflow cancels the task. */
  let cancelCurrent: AbortController | undefined;
  const beat = () => {
    const heartbeat: HeartbeatMessage = {
      agentId,
      state: current ? 'busy' : 'idle',
      ...(current ?? {}),
      pid: process.pid,
      at: new Date().toISOString(),
    };
    if (!nc.isClosed()) nc.publish(heartbeatSubject(role, agentId), JSON.stringify(heartbeat));
  };
  const heartbeats = setInterval(beat, config.panes.heartbeatIntervalMs);
  // Fault injection for the watchdog: `kill -USR2 <runner>` silences this runner's heartbeats, as
  // if it had wedged, so an operator (or a test) can watch the orchestra replace it. SIGSTOP does
  // not do for this under tmux, which continues a stopped pane process at once.
  let silenced = false;
  const silence = () => {
    silenced = true;
    clearInterval(heartbeats);
  };
  process.once('SIGUSR2', silence);
  // Back on the bus after a lost broker: say so at once rather than at the next interval, so the
  // orchestra sees this agent working again as soon as it can; and once more when the orchestra's
  // own connection, reconnecting at its own pace, is surely back to hear it.
  let afterReconnect: NodeJS.Timeout | undefined;
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type !== 'reconnect' || silenced) continue;
      beat();
      clearTimeout(afterReconnect);
      afterReconnect = setTimeout(() => silenced || beat(), RECONNECT_WINDOW_MS);
    }
  })().catch(() => undefined);

  // A task the workflow gave up on (its issue closed, say) is stopped wherever it is. The runner
  // may read the cancel marks of the KV bucket, nothing else of it (src/orchestra/nats-auth.ts).
  const jsm = await jetstreamManager(nc);
  const { kvBucket } = bus.topology;
  const cancelled = async (taskId: string) => {
    const mark = await jsm.direct.getMessage(`KV_${kvBucket}`, { last_by_subj: `$KV.${kvBucket}.${cancelKey(taskId)}` }).catch(() => null);
    return mark !== null && (mark.header?.get('KV-Operation') ?? 'PUT') === 'PUT';
  };
  const cancels = nc.subscribe(CANCEL_SUBJECT, {
    callback: (error, message) => {
      if (error) return;
      const taskId = jsonField(message, 'taskId');
      if (current && taskId === current.taskId) {
        print(`── #${current.issue}: cancelled by the orchestra`);
        cancelCurrent?.abort();
      }
    },
  });

  /**
   * Until the stream has it: a broker lost while the agent worked comes back within seconds, and
   * a result given up on would be a finished run done again. One result per attempt: a republish
   * (after a lost PubAck, a crash before the ack) is deduplicated by its message id.
   */
  const publishUntilTaken = async (type: string, payload: TaskResult | TaskCancelled | TaskRedelivered, msgId: string, stopping: AbortSignal): Promise<void> => {
    for (let failures = 0; ; failures++) {
      try {
        await bus.publish(resultSubject(role, agentId), type, payload, { msgId, timeoutMs: RESULT_PUBLISH_TIMEOUT_MS });
        if (failures > 0) logger.info({ taskId: payload.taskId, type, failures }, 'task event published after the bus came back');
        return;
      } catch (error) {
        if (stopping.aborted || nc.isClosed()) throw error;
        if (failures === 0) logger.warn({ taskId: payload.taskId, type, err: describeError(error) }, 'task event not published; retrying until the bus is back');
        await abortableDelay(backoffDelayMs(failures, RESULT_PUBLISH_BACKOFF), stopping);
      }
    }
  };
  const publishResult = (result: TaskResult, stopping: AbortSignal) => publishUntilTaken(TASK_RESULT, result, `result:${result.taskId}:${result.attempt}`, stopping);
  const answers = keptAnswers(nc, bus.topology, role);
  const { resultOf, answeredBefore, keepOnDisk, keepInBucket } = taskAnswers({ dataDir: config.dataDir, taskBudget: config.budget.task, role, agentId, redact, answers, logger, print });

  const subscription: BusSubscription = await bus.consume({
    ...taskConsumer(role, config.bus),
    payloadSchema: taskMessageSchema,
    handler: async (envelope, delivery) => {
      const task = envelope.payload;
      const attempt = task.attempt + delivery.deliveryCount - 1;
      // Pulled as the runner was told to stop (a scale-down races a dispatch): given back untouched.
      if (delivery.signal.aborted) return { retryInMs: 0 };
      if (await cancelled(task.taskId)) {
        print(`── #${task.issue.number} ${task.stage}: cancelled before it started`);
        logger.info({ taskId: task.taskId }, 'task cancelled before it started; dropped');
        return undefined;
      }
      // Asked before anything runs; a bucket that does not answer throws, and the task comes again.
      const answered = await answeredBefore(task);
      if (answered) {
        // Its agent answered already, on this node or another; the ack was lost (./finished-task.ts,
        // ./kept-answers.ts). Not run again. Published
        // in this runner's name: only its own agent's results subject is open to it (docs/SECURITY.md);
        // the message id is the answer's, so one that did get through before is dropped as a duplicate.
        print(`── #${task.issue.number} ${task.stage}: answered before (${answered.status}); not run again`);
        logger.warn({ taskId: task.taskId, attempt: answered.attempt, status: answered.status }, 'task delivered again after its agent answered; its result published again, not run again');
        await publishResult({ ...answered, agentId }, delivery.signal);
        return undefined;
      }
      if (delivery.deliveryCount > 1) {
        // Whoever had it before sent no result (a retry's result is one): the orchestra would not know.
        // What the run before spent, if one began, goes with it to the budget ledger: read now,
        // before this attempt's start rewrites the task's files.
        const spent = await spendLeftByRun(config.dataDir, task.taskId, Date.now());
        const report: TaskRedelivered = { taskId: task.taskId, issue: task.issue.number, role, stage: task.stage, attempt, deliveryCount: delivery.deliveryCount, agentId, ...(spent ? { spent } : {}) };
        await publishUntilTaken(TASK_REDELIVERED, report, `redelivered:${task.taskId}:${attempt}`, delivery.signal).catch((error: unknown) =>
          logger.warn({ taskId: task.taskId, err: describeError(error) }, 'could not report the redelivery; running it anyway'),
        );
      }
      const cancel = new AbortController();
      cancelCurrent = cancel;
      current = { taskId: task.taskId, issue: task.issue.number, ackSubject: delivery.ackSubject };
      const tail: string[] = [];
      beat();
      // Keep the message ours while the agent works: JetStream would redeliver it after ackWait.
      const keepAlive = setInterval(() => delivery.working(), Math.max(1_000, Math.floor(config.bus.ackWaitMs / 3)));
      const started = Date.now();
      // The cost the agent says it has spent so far: in the heartbeats, and past the task's cap it is stopped.
      const overCost = new AbortController();
      const costs = watchRunningCost({
        file: taskFilesOf(config.dataDir, task.taskId).costFile,
        capUsd: config.budget.task.usd,
        intervalMs: config.panes.heartbeatIntervalMs,
        onCost: (cost) => {
          if (current) current.cost = cost;
        },
        onOverCap: (cost) => {
          print(`── #${task.issue.number} ${task.stage}: cost usd ${cost.usd} above the task's cap of ${config.budget.task.usd}; stopping the agent`);
          logger.warn({ taskId: task.taskId, cost, capUsd: config.budget.task.usd }, 'agent above its task cost cap; stopped');
          overCost.abort();
        },
        onWarnings: (warnings) => logger.warn({ taskId: task.taskId, warnings }, 'cost file ignored in part'),
      });
      try {
        const worktree = await worktrees.ensure(`issue-${task.issue.number}`, task.branch);
        // The issue's stages run one at a time, and the run before this one was stopped (its
        // process group killed) before its task came back: a lock in the worktree is a dead git's.
        if (await worktrees.releaseIndexLock(worktree.name)) print(`── #${task.issue.number}: removed the index lock a stopped run left in ${worktree.path}`);
        print(`── #${task.issue.number} ${task.stage} (attempt ${attempt}) in ${worktree.path}`);
        // The task's wall-clock cap, when lower than the role's timeout, is where the agent is stopped.
        const limit = runTimeoutMs(agent.taskTimeoutMs, config.budget.task);
        const run = await runAgent({
          agent: { ...agent, taskTimeoutMs: limit.timeoutMs },
          task: { ...task, attempt, worktree: worktree.path },
          dataDir: config.dataDir,
          signal: AbortSignal.any([delivery.signal, cancel.signal, overCost.signal]),
          onSpawn: (pid) => {
            // The start marker says the agent program ran: a task given back before it spawned
            // (the runner stopping, a refused command) was not a run of the agent.
            paneLog.taskStart({ taskId: task.taskId, issue: task.issue.number, role, attempt });
            if (current) current.agentPid = pid;
            try {
              recordAgentGroup(config.dataDir, agentId, pid);
            } catch (error) {
              logger.warn({ err: describeError(error) }, 'could not record the agent process group');
            }
            beat();
          },
          onOutput: (output) => {
            const line = redact(output);
            print(line);
            paneLog.line(line);
            tail.push(line.length > 500 ? `${line.slice(0, 500)}…` : line);
            if (tail.length > LOG_TAIL_LINES) tail.shift();
          },
        });
        // A run stopped mid-way has no result file: what it said it spent so far is what it cost.
        const cost = run.cost ?? (await costs.stop());
        const stoppedOverCost = overCost.signal.aborted && !cancel.signal.aborted && !delivery.signal.aborted;
        const overBudget = taskOverBudget(config.budget.task, { usd: cost?.usd, timedOutAtCap: limit.atCap && run.timedOut === true, stoppedOverCost });
        if (overBudget !== undefined) Object.assign(run, { status: 'failure', code: AgentErrorCodes.BudgetExceeded, reason: overBudget });
        for (const warning of run.warnings ?? []) print(`── #${task.issue.number} ${task.stage}: result file: ${warning}`);
        if (run.warnings) logger.warn({ taskId: task.taskId, warnings: run.warnings }, 'result file cost ignored in part; wall-clock counted');
        const result = resultOf(task, { attempt, status: run.status, reason: run.reason, summary: run.summary, question: run.question, outputs: run.outputs, cost, code: overBudget === undefined ? undefined : AgentErrorCodes.BudgetExceeded }, {
          durationMs: Date.now() - started,
          worktree: worktree.path,
          logTail: tail,
        });
        // The answer is kept on disk before anything else is done with it (./task-answers.ts): a
        // runner killed from here on leaves it to this node's next delivery, which publishes it,
        // not runs it again; once in the bucket (below), to any node's.
        if (!cancel.signal.aborted) await (result.status === 'retry' ? discardResultFile(config.dataDir, task.taskId) : keepOnDisk(result, delivery.signal));
        paneLog.taskEnd({ taskId: task.taskId, issue: task.issue.number, status: run.status, durationMs: run.durationMs });
        print(`── #${task.issue.number} ${task.stage}: ${run.status} (${redact(run.reason)})`);
        if (cancel.signal.aborted) {
          logger.info({ taskId: task.taskId, attempt }, 'task cancelled by the workflow');
          // No result, but the run spent all the same: its wall-clock and cost so far go to the budget ledger.
          const spent: TaskCancelled = { taskId: task.taskId, issue: task.issue.number, role, stage: task.stage, attempt, agentId, durationMs: Date.now() - started, ...(cost === undefined ? {} : { cost }) };
          await publishUntilTaken(TASK_CANCELLED, spent, `cancelled:${task.taskId}:${attempt}`, delivery.signal).catch((error: unknown) =>
            logger.warn({ taskId: task.taskId, err: describeError(error) }, "a cancelled run's spend could not be reported; not counted"),
          );
          return undefined;
        }
        // What is published is what stays kept: the first answer of the task.
        const answer = result.status === 'retry' ? result : await keepInBucket(result, delivery.signal);
        if (delivery.signal.aborted) {
          // The runner is stopping. A run it stopped is no result: the task goes back for another
          // runner. An agent that answered as the stop came has its answer kept: the next runner
          // publishes it without running the agent again.
          logger.info({ taskId: task.taskId, attempt, status: run.status }, result.status === 'retry' ? 'task cancelled by stop; returned to the queue' : 'task answered as the runner stopped; its answer kept for the next delivery');
          return { retryInMs: 0 };
        }
        // One result per attempt: a republish after a crash between publish and ack is deduplicated.
        await publishResult(answer === result ? result : { ...answer, agentId }, delivery.signal);
        logger.info({ taskId: task.taskId, issue: task.issue.number, attempt, status: run.status }, 'task finished');
        if (run.status === 'retry') return { retryInMs: backoffDelayMs(attempt - 1, AGENT_RETRY_BACKOFF) };
        return undefined;
      } catch (error) {
        print(`── #${task.issue.number} ${task.stage}: error (${redact(describeError(error))})`);
        logger.error({ taskId: task.taskId, err: describeError(error) }, 'task could not run');
        throw error;
      } finally {
        void costs.stop();
        clearInterval(keepAlive);
        if (current?.agentPid !== undefined) clearAgentGroup(config.dataDir, agentId);
        current = undefined;
        cancelCurrent = undefined;
        beat();
      }
    },
  });
  beat();
  print(`${agent.displayName} (${agentId}) ready for ${role} tasks`);

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      clearInterval(heartbeats);
      clearTimeout(afterReconnect);
      process.off('SIGUSR2', silence);
      cancels.unsubscribe();
      await subscription.stop();
      await bus.close();
      paneLog.close();
    })());
  return { stop, done: subscription.done };
}
