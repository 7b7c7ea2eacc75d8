/**
 * Redaction by value of plain text (the logger does its JSON lines itself, ./logger.ts): every
 * known secret replaced by `[REDACTED]` wherever it appears, longest first so a secret holding
 * another goes whole. For what leaves the orchestra as text: an agent's output on its way in,
 * its result, comments and pull requests, the console.
 *
 *   const redact = textRedactor(['s3cr3t-value']);
 *   redact('token=s3cr3t-value') // 'token=[REDACTED]'
 *
 * Only verbatim copies are caught: a secret printed base64- or URL-encoded is not.
 */
import { REDACTED } from './logger.ts';

export type Redact = (text: string) => string;

export const noRedaction: Redact = (text) => text;

export function textRedactor(secrets: readonly string[]): Redact {
  const needles = [...new Set(secrets.filter((secret) => secret.length > 0))].sort((a, b) => b.length - a.length);
  if (needles.length === 0) return noRedaction;
  return (text) => {
    let out = text;
    for (const needle of needles) if (out.includes(needle)) out = out.split(needle).join(REDACTED);
    return out;
  };
}

/** A JSON-like value with every string in it (keys included) redacted. */
export function redactDeep<T>(value: T, redact: Redact): T {
  if (typeof value === 'string') return redact(value) as T;
  if (Array.isArray(value)) return value.map((item) => redactDeep(item, redact)) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [redact(key), redactDeep(item, redact)])) as T;
  }
  return value;
}
