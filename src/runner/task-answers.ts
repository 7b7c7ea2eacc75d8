/**
 * A runner's answers: the result it publishes for a run (redacted, in its own name), the answer
 * an agent left in its result file when its runner died before keeping it, and keeping an answer
 * until it is kept. Kept on this node's disk first (./finished-task.ts), then in the bucket every
 * node reads (./kept-answers.ts), published after, acked last: the kept answer is what stops a
 * later delivery, on this node or another, from running the agent again.
 *
 * A runner killed between the two keeps leaves the answer on this node's disk only; the next
 * delivery that comes to this node puts it in the bucket before it publishes it (`answeredBefore`).
 */
import type { Logger } from 'pino';
import { AgentErrorCodes } from '../agents/errors.ts';
import { taskOverBudget, type Caps } from '../agents/task-budget.ts';
import { backoffDelayMs } from '../backoff.ts';
import { describeError } from '../errors.ts';
import { abortableDelay } from '../infra/backoff.ts';
import { redactDeep, type Redact } from '../infra/observe/redact.ts';
import { answerLeftByAgent, finishedResult, keepFinishedResult } from './finished-task.ts';
import type { KeptAnswers } from './kept-answers.ts';
import type { TaskMessage, TaskResult } from './task-message.ts';

/** What a run answered, as the result carries it. */
export type Answer = Pick<TaskResult, 'attempt' | 'status' | 'reason'> & Partial<Pick<TaskResult, 'code' | 'summary' | 'question' | 'outputs' | 'cost'>>;

/** A disk (or a bus) that refused the answer is tried again after 100 ms, 200 ms … at most 2 s. */
const KEEP_BACKOFF = { baseMs: 100, maxMs: 2_000 };

export interface TaskAnswersOptions {
  dataDir: string;
  taskBudget: Caps;
  role: string;
  agentId: string;
  redact: Redact;
  /** The answers every node sees. */
  answers: KeptAnswers;
  logger: Logger;
  /** A line in the pane. */
  print: (line: string) => void;
}

function definedOnly<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as T;
}

export function taskAnswers({ dataDir, taskBudget, role, agentId, redact, answers, logger, print }: TaskAnswersOptions) {
  /** The task's result as published: redacted, in this runner's name. */
  const resultOf = (task: TaskMessage, answer: Answer, run: { durationMs: number; worktree: string; logTail?: string[] }): TaskResult =>
    redactDeep<TaskResult>(
      {
        taskId: task.taskId,
        issue: task.issue.number,
        role,
        stage: task.stage,
        agentId,
        ...definedOnly(answer),
        durationMs: run.durationMs,
        worktree: run.worktree,
        branch: task.branch,
        ...(run.logTail && run.logTail.length > 0 ? { logTail: run.logTail } : {}),
      },
      redact,
    );

  /** The answer an agent left when its runner died before keeping it, kept now; undefined when none. */
  const adoptedAnswer = async (task: TaskMessage): Promise<TaskResult | undefined> => {
    const left = await answerLeftByAgent(dataDir, task);
    if (left === undefined) return undefined;
    const { status, reason, summary, question, outputs, cost } = left.outcome;
    const overBudget = taskOverBudget(taskBudget, { usd: cost?.usd, timedOutAtCap: false });
    const answer: Answer = { attempt: left.attempt, status, reason, summary, question, outputs, cost, ...(overBudget === undefined ? {} : { status: 'failure', reason: overBudget, code: AgentErrorCodes.BudgetExceeded }) };
    const result = resultOf(task, answer, { durationMs: left.durationMs, worktree: left.worktree });
    await keepFinishedResult(dataDir, result);
    logger.warn({ taskId: task.taskId, attempt: left.attempt, status: result.status }, "the agent's answer was left in its result file by a runner that died; taken, not run again");
    return result;
  };

  /**
   * The answer this task already has, if any: the bucket's (whichever node's runner answered), else
   * one kept on this node's disk or left by its agent, which goes to the bucket first. Throws when
   * the bucket does not answer: a task whose answer cannot be known is not run.
   */
  const answeredBefore = async (task: TaskMessage): Promise<TaskResult | undefined> => {
    const kept = await answers.kept(task.taskId);
    if (kept !== undefined) return kept;
    const local = (await finishedResult(dataDir, task.taskId)) ?? (await adoptedAnswer(task));
    return local === undefined ? undefined : answers.keep(local);
  };

  /** Tries `write` until it succeeds, saying once that it failed; gives up only when the runner stops. */
  const untilTaken = async <T>(write: () => Promise<T>, result: TaskResult, where: string, stopping: AbortSignal): Promise<T> => {
    for (let failures = 0; ; failures++) {
      try {
        const written = await write();
        if (failures > 0) logger.info({ taskId: result.taskId, failures }, `task result kept ${where} after it failed`);
        return written;
      } catch (error) {
        if (stopping.aborted) throw error;
        if (failures === 0) {
          print(`── #${result.issue} ${result.stage}: result not kept ${where} (${describeError(error)}); retrying until it can be`);
          logger.warn({ taskId: result.taskId, err: describeError(error) }, `task result not kept ${where}; retrying until it can be`);
        }
        await abortableDelay(backoffDelayMs(failures, KEEP_BACKOFF), stopping);
      }
    }
  };

  /**
   * Keeps the answer on this node's disk, then (`keepInBucket`) in the bucket, each until it takes
   * it: a full disk or a lost broker must not throw away work the agent has done (issue #15).
   */
  const keepOnDisk = (result: TaskResult, stopping: AbortSignal): Promise<void> => untilTaken(() => keepFinishedResult(dataDir, result), result, 'on disk', stopping);
  /** Resolves with the answer that stays: the first kept for the task (another run's, should two ever answer it). */
  const keepInBucket = (result: TaskResult, stopping: AbortSignal): Promise<TaskResult> => untilTaken(() => answers.keep(result), result, 'in the bucket', stopping);

  return { resultOf, answeredBefore, keepOnDisk, keepInBucket };
}
