/**
 * A runner's answers: the result it publishes for a run (redacted, in its own name), the answer
 * an agent left in its result file when its runner died before keeping it, and keeping an answer
 * on disk until the disk takes it. Kept on disk first, published after (./finished-task.ts): the
 * kept answer is what stops a later delivery from running the agent again.
 */
import type { Logger } from 'pino';
import { AgentErrorCodes } from '../agents/errors.ts';
import { taskOverBudget, type Caps } from '../agents/task-budget.ts';
import { backoffDelayMs } from '../backoff.ts';
import { describeError } from '../errors.ts';
import { abortableDelay } from '../infra/backoff.ts';
import { redactDeep, type Redact } from '../infra/observe/redact.ts';
import { answerLeftByAgent, keepFinishedResult } from './finished-task.ts';
import type { TaskMessage, TaskResult } from './task-message.ts';

/** What a run answered, as the result carries it. */
export type Answer = Pick<TaskResult, 'attempt' | 'status' | 'reason'> & Partial<Pick<TaskResult, 'code' | 'summary' | 'question' | 'outputs' | 'cost'>>;

/** A disk that refused the answer is tried again after 100 ms, 200 ms … at most 2 s. */
const KEEP_BACKOFF = { baseMs: 100, maxMs: 2_000 };

export interface TaskAnswersOptions {
  dataDir: string;
  taskBudget: Caps;
  role: string;
  agentId: string;
  redact: Redact;
  logger: Logger;
  /** A line in the pane. */
  print: (line: string) => void;
}

function definedOnly<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as T;
}

export function taskAnswers({ dataDir, taskBudget, role, agentId, redact, logger, print }: TaskAnswersOptions) {
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

  /** Keeps the answer on disk, until the disk takes it: a full disk must not throw away work the agent has done (issue #15). */
  const keep = async (result: TaskResult, stopping: AbortSignal): Promise<void> => {
    for (let failures = 0; ; failures++) {
      try {
        await keepFinishedResult(dataDir, result);
        if (failures > 0) logger.info({ taskId: result.taskId, failures }, 'task result kept after the disk had room again');
        return;
      } catch (error) {
        if (stopping.aborted) throw error;
        if (failures === 0) {
          print(`── #${result.issue} ${result.stage}: result not kept on disk (${describeError(error)}); retrying until it can be`);
          logger.warn({ taskId: result.taskId, err: describeError(error) }, 'task result not kept on disk; retrying until it can be');
        }
        await abortableDelay(backoffDelayMs(failures, KEEP_BACKOFF), stopping);
      }
    }
  };

  return { resultOf, adoptedAnswer, keep };
}
