/** `bus streams` and `bus tail [SUBJECT]`: the bus seen from the CLI, for hosts without `nats`. */
import { pino } from 'pino';
import { inert, inertJson } from '../../inert-text.ts';
import { Bus } from '../../infra/bus/bus.ts';
import type { TailMessage } from '../../infra/bus/inspect.ts';
import { HEARTBEAT_SUBJECT_PREFIX } from '../../runner/heartbeat.ts';
import { connectCli, loadConfigOrExit, serversFor } from '../connect.ts';
import { CliExit, ExitCode } from '../output.ts';

async function openBus(flags: { config?: string }) {
  const loaded = await loadConfigOrExit(flags.config);
  const nc = await connectCli(loaded, await serversFor(loaded));
  return { nc, bus: new Bus(nc, { sender: `cli-${process.pid}`, logger: pino({ level: 'silent' }) }) };
}

export async function busStreams(flags: { config?: string; json?: boolean }): Promise<number> {
  const { nc, bus } = await openBus(flags);
  try {
    const streams = await bus.streams();
    if (flags.json) {
      process.stdout.write(`${JSON.stringify(streams, null, 2)}\n`);
      return ExitCode.ok;
    }
    for (const stream of streams) {
      process.stdout.write(
        `${stream.name}  subjects=${stream.subjects.join(',')}  messages=${stream.messages}  bytes=${stream.bytes}  first=${stream.firstSeq}  last=${stream.lastSeq}\n`,
      );
      for (const consumer of stream.consumers) {
        process.stdout.write(
          `  consumer ${consumer.name}  pending=${consumer.pending}  ack_pending=${consumer.ackPending}  redelivered=${consumer.redelivered}  delivered_seq=${consumer.deliveredSeq}  ack_floor=${consumer.ackFloorSeq}\n`,
        );
      }
    }
    if (streams.length === 0) process.stdout.write('no streams\n');
    return ExitCode.ok;
  } finally {
    await bus.close();
    await nc.close();
  }
}

/**
 * Whether `bus tail` prints a message on `subject`. Heartbeats (a few a second from every runner,
 * not envelopes) would bury everything else: they are left out unless asked for, by
 * `--heartbeats` or by a subject filter under `miyabi.heartbeat.` itself.
 */
export function tailShows(subject: string, filter: string, heartbeats: boolean): boolean {
  if (heartbeats || !subject.startsWith(`${HEARTBEAT_SUBJECT_PREFIX}.`)) return true;
  return filter.startsWith(`${HEARTBEAT_SUBJECT_PREFIX}.`);
}

/**
 * One line of `bus tail`. What a message holds is anyone's text (an issue's title in an event, a
 * runner's bytes): shown inert, so it stays one line and nothing in it reaches the terminal; an
 * envelope's payload stays JSON (the same JSON, with what JSON leaves raw escaped).
 */
export function tailLine(message: TailMessage, time = new Date().toISOString()): string {
  const subject = inert(message.subject);
  if (message.envelope) {
    const { type, sender, seq, payload } = message.envelope;
    return `${time} ${subject} ${inert(type)} ${inert(sender)}#${seq} ${inertJson(String(JSON.stringify(payload)))}\n`;
  }
  const text = inert(new TextDecoder().decode(message.data));
  if (message.subject.startsWith(`${HEARTBEAT_SUBJECT_PREFIX}.`)) return `${time} ${subject} heartbeat ${text}\n`;
  return `${time} ${subject} (not an envelope: ${inert(message.error ?? '')}) ${text}\n`;
}

export async function busTail(
  subject: string | undefined,
  flags: { config?: string; count?: string; heartbeats?: boolean },
): Promise<number> {
  const limit = flags.count === undefined ? Number.POSITIVE_INFINITY : Number(flags.count);
  if (flags.count !== undefined && !(Number.isInteger(limit) && limit > 0)) {
    throw new CliExit(ExitCode.invalid, `--count: expected a positive whole number, got ${flags.count}`);
  }
  const filter = subject ?? 'miyabi.>';
  const { nc, bus } = await openBus(flags);
  let seen = 0;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const handle = bus.tail(filter, (message) => {
    if (seen >= limit || !tailShows(message.subject, filter, flags.heartbeats === true)) return;
    process.stdout.write(tailLine(message));
    seen += 1;
    if (seen >= limit) finish();
  });
  await nc.flush();
  const left = tailShows(`${HEARTBEAT_SUBJECT_PREFIX}.x`, filter, flags.heartbeats === true) ? '' : ', heartbeats left out (--heartbeats)';
  process.stderr.write(`tailing ${filter} on ${nc.getServer()}${left} (Ctrl-C to stop)\n`);
  process.once('SIGINT', finish);
  process.once('SIGTERM', finish);
  await Promise.race([finished, nc.closed()]);
  await handle.stop();
  await bus.close();
  await nc.close();
  return ExitCode.ok;
}
