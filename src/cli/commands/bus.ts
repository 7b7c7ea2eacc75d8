/** `bus streams` and `bus tail [SUBJECT]`: the bus seen from the CLI, for hosts without `nats`. */
import { pino } from 'pino';
import { Bus } from '../../infra/bus/bus.ts';
import { connectCli, loadConfigOrExit, serversFor } from '../connect.ts';
import { ExitCode } from '../output.ts';

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

export async function busTail(subject: string | undefined, flags: { config?: string; count?: string }): Promise<number> {
  const { nc, bus } = await openBus(flags);
  const limit = flags.count === undefined ? Number.POSITIVE_INFINITY : Number(flags.count);
  let seen = 0;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const handle = bus.tail(subject, (message) => {
    const time = new Date().toISOString();
    if (message.envelope) {
      const { type, sender, seq, payload } = message.envelope;
      process.stdout.write(`${time} ${message.subject} ${type} ${sender}#${seq} ${JSON.stringify(payload)}\n`);
    } else {
      process.stdout.write(`${time} ${message.subject} (not an envelope: ${message.error}) ${new TextDecoder().decode(message.data)}\n`);
    }
    seen += 1;
    if (seen >= limit) finish();
  });
  await nc.flush();
  process.stderr.write(`tailing ${subject ?? 'miyabi.>'} on ${nc.getServer()} (Ctrl-C to stop)\n`);
  process.once('SIGINT', finish);
  process.once('SIGTERM', finish);
  await Promise.race([finished, nc.closed()]);
  await handle.stop();
  await bus.close();
  await nc.close();
  return ExitCode.ok;
}
