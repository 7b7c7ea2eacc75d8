/**
 * Each comment command once for good, on the workflow's side. The watcher publishes a command
 * (`/miyabi retry`, an answer) and only then writes its comment id to the once ledger
 * (./comment-commands.ts): an orchestrator killed between the two finds no ledger entry, and the
 * delivery GitHub sends again (its "Redeliver", past the bus's duplicate window) publishes the
 * command again. So the issue's record keeps the ids of the commands it took (`id`: the message
 * id, `command:<n>:<comment id>` or `answer:<n>:<comment id>`), written with the step the command
 * made — one KV write, so there is no window between doing it and remembering it — and a command
 * seen before is not obeyed again. A command that found nothing to do (a retry while the issue
 * runs) is remembered as well: a comment is taken once, whatever it found then.
 */
import type { Book } from './book.ts';
import type { IssueRecord } from './record.ts';

/** Ids kept per issue, newest last: far more commands than an issue gets in GitHub's redelivery window. */
const KEPT = 64;

/** True the first time the record sees `id` (and remembers it, in memory: the caller writes the record); always true without an id. */
export function firstObeyed(record: IssueRecord, id: string | undefined): boolean {
  if (id === undefined) return true;
  if (record.commands?.includes(id)) return false;
  record.commands = [...(record.commands ?? []), id].slice(-KEPT);
  return true;
}

/**
 * Runs a command on the issue once per `id`, alone among the workflow's steps: `run` says whether
 * it did something (it steps and commits the record, the id with it); one that found nothing to
 * do has the record written with its id alone. An id seen before: nothing, and a log line.
 */
export function obeyOnce(book: Book, number: number, id: string | undefined, run: (record: IssueRecord, state: string) => Promise<boolean>): Promise<boolean> {
  return book.serially(async () => {
    const record = book.records.get(number) ?? (await book.load(number));
    if (record === undefined) return false;
    if (!firstObeyed(record, id)) {
      book.log.info({ issue: number, command: id }, 'command already obeyed; not again');
      return false;
    }
    const obeyed = await run(record, String(book.snapshot(number).value));
    if (!obeyed && id !== undefined) await book.commit([record]);
    await book.settle();
    return obeyed;
  });
}
