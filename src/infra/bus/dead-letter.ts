/**
 * Dead letters: what the bus could not deliver, kept with why and with the original bytes.
 *
 * A dead letter is an ordinary envelope of type `bus.dead_letter` published on
 * `<prefix>.dlq.<original subject>`, whose payload is a DeadLetter: the reason code, the error
 * text, where the message was (subject, stream, stream sequence, consumer, delivery count) and
 * the original body exactly as stored, as UTF-8 text when it is valid UTF-8, else base64.
 * Its Nats-Msg-Id is `dlq:<stream>:<stream seq>`, so dead-lettering the same stored message
 * twice (an ack lost in a reconnect) stores it once.
 */
import { z } from 'zod';

export const DEAD_LETTER_TYPE = 'bus.dead_letter';

export const DeadLetterReasons = {
  /** Not JSON, not an envelope, or a payload that failed the consumer's schema. */
  Malformed: 'malformed',
  /** The handler failed (or never answered) on the last allowed delivery. */
  DeliveryLimit: 'delivery_limit',
} as const;

export type DeadLetterReason = (typeof DeadLetterReasons)[keyof typeof DeadLetterReasons];

export const deadLetterSchema = z.object({
  reason: z.enum([DeadLetterReasons.Malformed, DeadLetterReasons.DeliveryLimit]),
  error: z.string(),
  originalSubject: z.string(),
  stream: z.string(),
  consumer: z.string(),
  streamSeq: z.number().int(),
  deliveryCount: z.number().int(),
  /** When the original was stored (ISO). */
  storedAt: z.string(),
  /** The original's Nats-Msg-Id header, when it had one. */
  msgId: z.string().optional(),
  body: z.object({ encoding: z.enum(['utf8', 'base64']), data: z.string() }),
});

export type DeadLetter = z.infer<typeof deadLetterSchema>;

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export function encodeBody(bytes: Uint8Array): DeadLetter['body'] {
  try {
    return { encoding: 'utf8', data: strictUtf8.decode(bytes) };
  } catch {
    return { encoding: 'base64', data: Buffer.from(bytes).toString('base64') };
  }
}

/** The original message's bytes, exactly. */
export function originalBody(deadLetter: Pick<DeadLetter, 'body'>): Uint8Array {
  const { encoding, data } = deadLetter.body;
  return encoding === 'utf8' ? new TextEncoder().encode(data) : new Uint8Array(Buffer.from(data, 'base64'));
}

export function deadLetterMsgId(stream: string, streamSeq: number): string {
  return `dlq:${stream}:${streamSeq}`;
}
