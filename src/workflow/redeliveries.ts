/**
 * Retries the log would otherwise hide. A runner that dies or stops mid-task sends no result, and
 * JetStream redelivers its task to another runner, which says so (`task.redelivered`, with the
 * message's delivery count). The engine already logs a retry whose `retry` result it read; here
 * only an attempt beyond the one it expects is logged, once per attempt: the runner of the
 * attempt before it never answered. What the bus says is re-checked against the issue's record:
 * the task must be the one its lifecycle runs.
 */
import type { TaskRedelivered } from '../runner/task-message.ts';
import type { Book } from './book.ts';

export function logRedelivery(book: Book, report: TaskRedelivered): Promise<void> {
  return book.serially(async () => {
    if (!book.records.has(report.issue)) return;
    const { value, context } = book.snapshot(report.issue);
    if (value !== 'running' || context.taskId !== report.taskId || report.attempt <= context.attempt) return;
    const { issue, stage, role, attempt, taskId, deliveryCount, agentId } = report;
    book.log.info(
      { issue, stage, role, attempt, taskId, deliveryCount, agentId, reason: `the runner of attempt ${attempt - 1} stopped or died before it sent a result` },
      'stage redelivered',
    );
  });
}
