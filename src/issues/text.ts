/**
 * Issue text is untrusted and unbounded: a body of several megabytes, invalid UTF-8 (already
 * replaced by U+FFFD when decoded), control characters. What reaches a prompt, a bus message or
 * the KV bucket is bounded here; the content hash is taken over the whole text, so an edit past
 * the cut still counts as an edit.
 */
import { createHash } from 'node:crypto';

/** Bodies longer than this reach agents truncated (they can read the full issue on the tracker). */
export const PROMPT_BODY_MAX_BYTES = 64 * 1024;

export function truncateUtf8(text: string, maxBytes: number, marker = '\n\n[… truncated by miyabi-orchestra]'): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  const bytes = Buffer.from(text).subarray(0, Math.max(0, maxBytes - Buffer.byteLength(marker)));
  // Decoding a cut in the middle of a character ends in U+FFFD: drop it.
  return bytes.toString('utf8').replace(/\uFFFD+$/, '') + marker;
}

/** C0 controls other than tab and newline, and DEL, would garble terminals and logs. */
export function withoutControlCharacters(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000B-\u001F\u007F]/g, '');
}

export function promptBody(body: string): string {
  return truncateUtf8(withoutControlCharacters(body), PROMPT_BODY_MAX_BYTES);
}

export function sha256(...parts: readonly string[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part).update('\u0000');
  return hash.digest('hex');
}
