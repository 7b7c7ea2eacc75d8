/**
 * The envelope around every message on the bus (schema version 1), JSON-encoded:
 *
 *   { id, sender, incarnation, seq, ts, type, schema: 1, payload }
 *
 * - `id`: a UUID, unique per message; also the default Nats-Msg-Id (JetStream dedupe).
 * - `sender`: who published (an actor id).
 * - `incarnation`: a random id per publishing Bus instance. A sender that restarts starts a new
 *   incarnation and counts again from 1; receivers keep one sequence per incarnation, so a restart
 *   is neither a gap nor a run of duplicates.
 * - `seq`: 1, 2, 3… per (sender, incarnation, subject). Per subject, because consumers filter by
 *   subject: a consumer of `miyabi.tasks.codegen` never sees what the same sender published on
 *   `miyabi.events.>`, and a per-sender counter would look like gaps to it.
 * - `ts`: ISO-8601 time of publishing; `type`: what the payload is (`task.assigned`, …).
 * - `payload`: any JSON value; required (`null` when there is nothing). Its own schema belongs to
 *   whoever reads it.
 *
 * Decoding never throws: bad input becomes a result with the reason, which the consumer sends to
 * the dead-letter stream.
 */
import { z } from 'zod';

export const ENVELOPE_SCHEMA_VERSION = 1 as const;

export const envelopeSchema = z.object({
  id: z.uuid(),
  sender: z.string().min(1),
  incarnation: z.string().min(1),
  seq: z.number().int().positive(),
  ts: z.iso.datetime({ offset: true }),
  type: z.string().min(1),
  schema: z.literal(ENVELOPE_SCHEMA_VERSION),
  payload: z.unknown(),
});

export type Envelope<P = unknown> = Omit<z.infer<typeof envelopeSchema>, 'payload'> & { payload: P };

export type DecodeResult<P = unknown> =
  | { ok: true; envelope: Envelope<P> }
  | { ok: false; reason: 'not_json' | 'invalid_envelope' | 'invalid_payload'; error: string };

export interface NewEnvelope<P> {
  sender: string;
  incarnation: string;
  seq: number;
  type: string;
  payload: P;
  id?: string;
  now?: Date;
}

export function createEnvelope<P>(fields: NewEnvelope<P>): Envelope<P> {
  return {
    id: fields.id ?? crypto.randomUUID(),
    sender: fields.sender,
    incarnation: fields.incarnation,
    seq: fields.seq,
    ts: (fields.now ?? new Date()).toISOString(),
    type: fields.type,
    schema: ENVELOPE_SCHEMA_VERSION,
    payload: (fields.payload ?? null) as P,
  };
}

const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeEnvelope(envelope: Envelope<unknown>): Uint8Array {
  return Buffer.from(JSON.stringify(envelope), 'utf8');
}

/** One line per zod issue, with its path: `seq: Too small: expected number to be >0`. */
export function formatIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`).join('; ');
}

/**
 * Bytes (or text) → envelope. With `payloadSchema`, the payload is checked (and transformed) too,
 * so a handler only ever sees payloads of the shape it declared.
 */
export function decodeEnvelope<P = unknown>(data: Uint8Array | string, payloadSchema?: z.ZodType<P>): DecodeResult<P> {
  let value: unknown;
  try {
    value = JSON.parse(typeof data === 'string' ? data : decoder.decode(data));
  } catch (error) {
    return { ok: false, reason: 'not_json', error: `not JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
  const parsed = envelopeSchema.safeParse(value);
  if (!parsed.success) return { ok: false, reason: 'invalid_envelope', error: formatIssues(parsed.error) };
  const envelope = parsed.data;
  if (!payloadSchema) return { ok: true, envelope: envelope as Envelope<P> };
  const payload = payloadSchema.safeParse(envelope.payload);
  if (!payload.success) {
    return { ok: false, reason: 'invalid_payload', error: `payload of ${envelope.type}: ${formatIssues(payload.error)}` };
  }
  return { ok: true, envelope: { ...envelope, payload: payload.data } };
}
