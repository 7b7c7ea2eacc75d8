/**
 * `inspect [--issue N] [--actor ID] [--count N] [--json]`: the running orchestra's inspection
 * events as they happen (core NATS on `miyabi.inspect.>`, which the MIYABI_INSPECT stream also
 * keeps). With `--issue`, the issue's recorded transitions come first, from the stream, then the
 * live ones. `--actor` matches an actor's id or path (`codegen-1`, `root/core/scheduler`).
 * `--count N` exits after N events.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { INSPECT_SUBJECTS, type InspectionRecord } from '../../actors/inspection.ts';
import { readSubjectHistory, INSPECT_STREAM, inspectWildcard } from '../../infra/bus/inspection-stream.ts';
import { describeError } from '../../errors.ts';
import { connectCli, liveRunFile, loadConfigOrExit } from '../connect.ts';
import { CliExit, ExitCode } from '../output.ts';

export function formatRecord(record: InspectionRecord): string {
  const time = new Date(record.time).toISOString();
  if (record.issue) {
    const { stage, attempt, agent } = record.issue;
    return `${time} ${record.actor} ${record.event}: ${record.from ?? '?'} → ${record.state}${stage ? ` stage=${stage}` : ''} attempt=${attempt}${agent ? ` agent=${agent}` : ''}`;
  }
  return `${time} ${record.actor}${record.machine ? ` (${record.machine})` : ''} ${record.event} → ${record.state}`;
}

export function matches(record: InspectionRecord, filter: { issue?: number; actor?: string }): boolean {
  if (filter.issue !== undefined && record.issue?.number !== filter.issue) return false;
  if (filter.actor === undefined) return true;
  const { actor } = record;
  return actor === filter.actor || actor.endsWith(`/${filter.actor}`) || actor.includes(`/${filter.actor}/`);
}

function positive(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value <= 0) throw new CliExit(ExitCode.invalid, `${name} must be a positive integer (got ${text})`);
  return value;
}

export async function inspect(flags: { config?: string; issue?: string; actor?: string; count?: string; json?: boolean }): Promise<number> {
  const issue = positive('--issue', flags.issue);
  const limit = positive('--count', flags.count) ?? Number.POSITIVE_INFINITY;
  const filter = { ...(issue === undefined ? {} : { issue }), ...(flags.actor === undefined ? {} : { actor: flags.actor }) };
  const loaded = await loadConfigOrExit(flags.config);
  const runFile = await liveRunFile(loaded);
  const nc: NatsConnection = await connectCli(loaded, [runFile.natsUrl]);
  let seen = 0;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const print = (record: InspectionRecord) => {
    if (seen >= limit || !matches(record, filter)) return;
    process.stdout.write(`${flags.json ? JSON.stringify(record) : formatRecord(record)}\n`);
    seen += 1;
    if (seen >= limit) finish();
  };
  // Live first (buffered by the subscription), so nothing falls between the history and the tail.
  const live: InspectionRecord[] = [];
  let replaying = issue !== undefined;
  const subscription = nc.subscribe(issue === undefined ? inspectWildcard() : INSPECT_SUBJECTS.issue(issue), {
    callback: (error, message) => {
      if (error) return;
      try {
        const record = message.json<InspectionRecord>();
        if (replaying) live.push(record);
        else print(record);
      } catch {
        // Not a record: not ours.
      }
    },
  });
  await nc.flush();
  try {
    if (issue !== undefined) {
      const history = await readSubjectHistory<InspectionRecord>(nc, INSPECT_STREAM, INSPECT_SUBJECTS.issue(issue)).catch((error: unknown) => {
        process.stderr.write(`no recorded history of #${issue}: ${describeError(error)}\n`);
        return { records: [] as InspectionRecord[], total: 0 };
      });
      const key = (record: InspectionRecord) => `${record.time}.${record.seq}`;
      const recorded = new Set(history.records.map(key));
      for (const record of history.records) print(record);
      replaying = false;
      // What arrived while the history was read, without what the history already had.
      for (const record of live.splice(0)) if (!recorded.has(key(record))) print(record);
    }
    if (seen < limit) {
      process.stderr.write(`following inspection events${issue === undefined ? '' : ` of #${issue}`}${flags.actor ? ` of ${flags.actor}` : ''} (Ctrl-C to stop)\n`);
      process.once('SIGINT', finish);
      process.once('SIGTERM', finish);
      await Promise.race([finished, nc.closed()]);
    }
  } finally {
    subscription.unsubscribe();
    await nc.close();
  }
  return ExitCode.ok;
}
