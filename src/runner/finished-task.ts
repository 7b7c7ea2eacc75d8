/**
 * A task whose agent has answered is never run again. The runner keeps the answer (the result it
 * is about to publish) in the task's directory, `<dataDir>/tasks/<taskId>/finished.json`, before
 * it publishes and acks. A delivery of a task that already has one — the ack lost with a dead
 * broker, a runner killed between the agent's end and the ack, a server that forgot an ack in a
 * `kill -9` — publishes that result again (same message id: the stream keeps one) and acks,
 * without starting the agent: an agent run costs money and may have side effects.
 *
 * Only answers are kept: a `retry` is meant to run again, and a cancelled run has no result.
 * Task ids are unique per dispatch (the workflow's retry, a new round, an answered question are
 * new ids), so a kept answer never stands in for a run the workflow asked for. The file goes with
 * the task directory (`removeIssueTaskFiles`).
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { taskFilesOf } from '../agents/run-agent.ts';
import { taskResultSchema, type TaskResult } from './task-message.ts';

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
