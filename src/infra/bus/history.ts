/**
 * Reading a stream back from a point in time: what `miyabi-orchestra kpi` computes from. An
 * ordered consumer (ephemeral, no acks, nothing taken from anyone) from `since` to the stream's
 * last message when the read began; messages stored later are not waited for.
 *
 * Bodies that are not envelopes are skipped: the dead letters already hold them.
 */
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { MiyabiError, ErrorCodes } from '../../errors.ts';
import { decodeEnvelope, type Envelope } from './envelope.ts';

export interface HistoryRead {
  /** Envelopes read. */
  read: number;
  /** Bodies that were not envelopes. */
  skipped: number;
  /** The stream's last sequence when the read began: read again from the next one to see only what is new. */
  lastSeq: number;
}

/** No message for this long while more are due: the read gives up rather than hang. */
const STALL_MS = 15_000;

export async function readStreamSince(
  nc: NatsConnection,
  options: { stream: string; since: Date; filterSubject?: string; /** Instead of `since`: from this stream sequence on. */ fromSeq?: number },
  onEnvelope: (envelope: Envelope, subject: string) => void,
): Promise<HistoryRead> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(options.stream);
  const lastSeq = info.state.last_seq;
  const tally: HistoryRead = { read: 0, skipped: 0, lastSeq };
  if (info.state.messages === 0 || (options.fromSeq !== undefined && options.fromSeq > lastSeq)) return tally;
  // Nothing stored since `since`: an ordered consumer would wait for ever for a first message.
  const last = await jsm.streams.getMessage(options.stream, { seq: lastSeq }).catch(() => null);
  if (!last || last.time.getTime() < options.since.getTime()) return tally;

  const consumer = await jetstream(nc).consumers.get(options.stream, {
    ...(options.fromSeq === undefined
      ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: options.since.toISOString() }
      : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: options.fromSeq }),
    ...(options.filterSubject ? { filter_subjects: [options.filterSubject] } : {}),
  });
  const messages = await consumer.consume();
  let stalled: NodeJS.Timeout | undefined;
  const restartStallTimer = () => {
    clearTimeout(stalled);
    stalled = setTimeout(() => void messages.close(), STALL_MS);
  };
  restartStallTimer();
  let reached = false;
  try {
    for await (const message of messages) {
      restartStallTimer();
      const decoded = decodeEnvelope(message.data);
      if (decoded.ok) {
        tally.read += 1;
        onEnvelope(decoded.envelope, message.subject);
      } else tally.skipped += 1;
      if (message.seq >= lastSeq) {
        reached = true;
        break;
      }
    }
  } finally {
    clearTimeout(stalled);
    await messages.close();
  }
  if (!reached) throw new MiyabiError(ErrorCodes.NatsUnreachable, `reading ${options.stream} stalled before its message ${lastSeq}`);
  return tally;
}
