/**
 * Dead letters: what the bus could not deliver, kept with why and with the original bytes.
 *
 * A dead letter is an ordinary envelope of type `bus.dead_letter` published on
 * `<prefix>.dlq.<original subject>`, whose payload is a DeadLetter: the reason code, the error
 * text, where the message was (subject, stream, stream sequence, consumer, delivery count) and
 * the original body exactly as stored, as UTF-8 text when it is valid UTF-8, else base64. A body
 * whose encoding would not fit the server's payload limit beside the rest (900 KB of binary is
 * 1.2 MB in base64) keeps its first bytes and says what was cut, with the whole body's size and
 * SHA-256: a letter that can never be published would be retried for ever, and the consumer
 * behind it would never move on.
 * Its Nats-Msg-Id is `dlq:<stream>:<stream seq>`, so dead-lettering the same stored message
 * twice (an ack lost in a reconnect) stores it once.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';

export const DEAD_LETTER_TYPE = 'bus.dead_letter';

export const DeadLetterReasons = {
  /** Not JSON, not an envelope, or a payload that failed the consumer's schema. */
  Malformed: 'malformed',
  /** The handler failed (or never answered) on the last allowed delivery. */
  DeliveryLimit: 'delivery_limit',
} as const;

/**
 * Thrown by a handler for a payload it cannot use whatever the delivery: one whose schema depends
 * on the envelope's type, checked in the handler. It is dead-lettered at once, never redelivered.
 */
export class MalformedPayload extends Error {
  override readonly name = 'MalformedPayload';
}

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
  /** Present when `body` is only the first bytes of the original. */
  truncated: z.object({ bytes: z.number().int(), sha256: z.string() }).optional(),
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

/**
 * The body as a dead letter keeps it: whole when its encoding (JSON-escaped) fits `maxBytes`,
 * else its first bytes as base64, cut to fit, with what was cut.
 */
export function boundedBody(bytes: Uint8Array, maxBytes: number): Pick<DeadLetter, 'body' | 'truncated'> {
  const body = encodeBody(bytes);
  if (Buffer.byteLength(JSON.stringify(body.data)) <= maxBytes) return { body };
  const keep = Math.max(0, Math.floor((maxBytes - 2) / 4) * 3);
  return {
    body: { encoding: 'base64', data: Buffer.from(bytes.subarray(0, keep)).toString('base64') },
    truncated: { bytes: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex') },
  };
}

/** The original message's bytes, exactly. */
export function originalBody(deadLetter: Pick<DeadLetter, 'body'>): Uint8Array {
  const { encoding, data } = deadLetter.body;
  return encoding === 'utf8' ? new TextEncoder().encode(data) : new Uint8Array(Buffer.from(data, 'base64'));
}

export function deadLetterMsgId(stream: string, streamSeq: number): string {
  return `dlq:${stream}:${streamSeq}`;
}
