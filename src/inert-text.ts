/**
 * Untrusted text (an issue's title, an agent's reason, a bus message) made inert for a terminal
 * or a page: the one list of characters that must not pass raw, shared by every layer that shows
 * such text — the CLI's tables and lines, the local tracker's views, the log's JSON lines, the
 * dependency graph's labels (src/machines, pure) and the reports. Pure.
 *
 * Those characters: the C0 controls (newline and tab too: a line must stay one line), DEL, the C1
 * controls (0x9b is a CSI, as ESC [ is) and the bidirectional marks, embeddings, overrides and
 * isolates (which make a line read otherwise than it is).
 */

/** What JSON leaves raw in a string (it escapes only C0) but a terminal still obeys. */
const RAW_IN_JSON = '\\u007F-\\u009F\\u061C\\u200E\\u200F\\u202A-\\u202E\\u2066-\\u2069';
const unsafe = new RegExp(`[\\u0000-\\u001F${RAW_IN_JSON}]`, 'g');
const unsafeInJson = new RegExp(`[${RAW_IN_JSON}]`, 'g');

/**
 * Every such character shown as a visible escape (`\n`, `\r`, `\t`, `\x1b`, `\u202e`); what is
 * left prints as written, on one line.
 */
export function inert(text: string): string {
  return text.replace(unsafe, escape);
}

/**
 * Untrusted text of several lines (a comment's body, an agent's output quoted in a comment) for a
 * page or a terminal: as `inert`, but its line breaks and tabs kept (a CRLF as a newline).
 */
export function inertLines(text: string): string {
  return text.replace(/\r\n/g, '\n').replace(unsafe, (char) => (char === '\n' || char === '\t' ? char : escape(char)));
}

function escape(char: string): string {
  if (char === '\n') return '\\n';
  if (char === '\r') return '\\r';
  if (char === '\t') return '\\t';
  const code = char.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * JSON text (JSON.stringify's, which already escapes C0) with what it leaves raw written as its
 * `\uXXXX` escape: the same JSON, parsed to the same value, and inert on a terminal. The line
 * breaks between JSON lines are kept.
 */
export function inertJson(json: string): string {
  return json.replace(unsafeInJson, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
