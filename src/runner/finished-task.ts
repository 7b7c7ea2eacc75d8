/**
 * A task whose agent has answered is never run again. The runner keeps the answer (the result it
 * is about to publish) in the task's directory, `<dataDir>/tasks/<taskId>/finished.json`, before
 * it publishes and acks. A delivery of a task that already has one — the ack lost with a dead
 * broker, a runner killed between the agent's end and the ack, a server that forgot an ack in a
 * `kill -9` — publishes that result again (same message id: the stream keeps one) and acks,
 * without starting the agent: an agent run costs money and may have side effects.
 *
 * The agent's own result file is the answer's first record: a runner killed between the agent's
 * end and keeping the answer leaves it in `result.json`, and the next delivery takes it from there
 * (`answerLeftByAgent`) rather than run the agent again. So that only an answer is taken, a run that
 * ends in a `retry` (the agent's word, a timeout, a kill) has its result file removed
 * (`discardResultFile`); a new attempt's start removes it too (src/agents/run-agent.ts).
 *
 * This file is the node's own record; the bucket of kept answers (./kept-answers.ts), written right
 * after it, is every node's: in a cluster the next delivery may come to another node. The file
 * still serves a runner killed between the two: the next delivery on this node finds it (or the
 * agent's result file) and puts it in the bucket before it publishes it.
 *
 * Only answers are kept: a `retry` is meant to run again, and a cancelled run has no result.
 * Task ids are unique per dispatch (the workflow's retry, a new round, an answered question are
 * new ids), so a kept answer never stands in for a run the workflow asked for. The file goes with
 * the task directory (`removeIssueTaskFiles`).
 */
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { taskFilesOf } from '../agents/run-agent.ts';
import { outcomeOf, parseRunningCost, type AgentOutcome } from '../agents/task.ts';
import { taskResultSchema, type TaskMessage, type TaskRedelivered, type TaskResult } from './task-message.ts';

function finishedFile(dataDir: string, taskId: string): string {
  return join(taskFilesOf(dataDir, taskId).dir, 'finished.json');
}

/** Keeps `result` as the task's answer (written whole, by rename); a `retry` is not kept. */
export async function keepFinishedResult(dataDir: string, result: TaskResult): Promise<void> {
  if (result.status === 'retry') return;
  const file = finishedFile(dataDir, result.taskId);
  await mkdir(taskFilesOf(dataDir, result.taskId).dir, { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(temporary, `${JSON.stringify(result)}\n`);
    await rename(temporary, file);
  } catch (error) {
    // A full disk leaves a partial file: not an answer, and not to be left behind.
    await rm(temporary, { force: true }).catch(() => undefined);
    throw error;
  }
}

/** The answer kept for the task, if its agent has answered; an unreadable file counts as none. */
export async function finishedResult(dataDir: string, taskId: string): Promise<TaskResult | undefined> {
  const text = await readFile(finishedFile(dataDir, taskId), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    const parsed = taskResultSchema.safeParse(JSON.parse(text));
    return parsed.success && parsed.data.taskId === taskId ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The answer an agent wrote to its result file for a run whose runner died before keeping it:
 * the outcome the file says (never a `retry`), with the attempt and worktree of that run (its
 * task file) and how long it ran (task file written → result file written). Undefined when there
 * is no whole, valid answer: a file cut short by a kill is no answer, and the task runs again.
 */
export async function answerLeftByAgent(dataDir: string, task: Pick<TaskMessage, 'taskId'>): Promise<{ outcome: AgentOutcome; attempt: number; worktree: string; durationMs: number } | undefined> {
  const files = taskFilesOf(dataDir, task.taskId);
  const [run, resultText, resultStat] = await Promise.all([
    runOf(dataDir, task.taskId),
    readFile(files.resultFile, 'utf8').catch(() => undefined),
    stat(files.resultFile).catch(() => undefined),
  ]);
  if (run === undefined || run.worktree === undefined || resultText === undefined) return undefined;
  const outcome = outcomeOf({ exitCode: undefined, signal: undefined, timedOut: false, resultFile: resultText });
  if (outcome.status === 'retry' || outcome.code !== undefined) return undefined;
  const durationMs = resultStat ? Math.max(0, Math.round(resultStat.mtimeMs - run.startedAt)) : 0;
  return { outcome, attempt: run.attempt, worktree: run.worktree, durationMs };
}

/**
 * The run of this task its task file tells of: the attempt it ran as, its worktree, and when it
 * began (the file's write); undefined when there is none, or it is of another task.
 */
async function runOf(dataDir: string, taskId: string): Promise<{ attempt: number; worktree: string | undefined; startedAt: number } | undefined> {
  const { taskFile } = taskFilesOf(dataDir, taskId);
  const [text, written] = await Promise.all([readFile(taskFile, 'utf8').catch(() => undefined), stat(taskFile).catch(() => undefined)]);
  if (text === undefined || written === undefined) return undefined;
  let ran: { taskId?: unknown; attempt?: unknown; worktree?: unknown };
  try {
    ran = JSON.parse(text) as typeof ran;
  } catch {
    return undefined;
  }
  if (ran.taskId !== taskId || typeof ran.attempt !== 'number') return undefined;
  return { attempt: ran.attempt, worktree: typeof ran.worktree === 'string' ? ran.worktree : undefined, startedAt: written.mtimeMs };
}

/** Removes a run's result file when the run is not an answer (a `retry`), so no later delivery takes it for one. */
export async function discardResultFile(dataDir: string, taskId: string): Promise<void> {
  await rm(taskFilesOf(dataDir, taskId).resultFile, { force: true });
}

/**
 * What a run of this task that left no answer spent (its runner died or stopped mid-task), read
 * before the next attempt's start rewrites its files: the attempt it ran as (its task file), the
 * time from its start to `now`, and the cost it said so far. Undefined when no run began (the
 * task file is of another task, or none).
 */
export async function spendLeftByRun(dataDir: string, taskId: string, now: number): Promise<TaskRedelivered['spent']> {
  const [run, costText] = await Promise.all([runOf(dataDir, taskId), readFile(taskFilesOf(dataDir, taskId).costFile, 'utf8').catch(() => undefined)]);
  if (run === undefined) return undefined;
  const cost = costText === undefined ? undefined : parseRunningCost(costText)?.cost;
  return { attempt: run.attempt, durationMs: Math.max(0, Math.round(now - run.startedAt)), ...(cost === undefined ? {} : { cost }) };
}
