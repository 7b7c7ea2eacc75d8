/**
 * A runner's own log, `<dataDir>/logs/runners/<agentId>.log`: where it says why it cannot serve
 * even when the bus will not carry it. A runner that presents another role's identity may not
 * publish on its role's subjects (src/orchestra/nats-auth.ts), nor can one whose key the server
 * does not know connect at all; so when a runner exits without having said why on the bus, the
 * orchestra reads its last words here.
 */
import { open } from 'node:fs/promises';
import { join } from 'node:path';

export const CANNOT_SERVE = 'runner cannot serve';

/** How much of the log's end is read: the last words are the last lines. */
const TAIL_BYTES = 64 * 1024;

export function runnerLogFile(dataDir: string, agentId: string): string {
  return join(dataDir, 'logs', 'runners', `${agentId}.log`);
}

/** The reason of the last "cannot serve" line logged at or after `since` (ISO time), if any. */
export async function lastCannotServe(file: string, since: string): Promise<string | undefined> {
  const handle = await open(file, 'r').catch(() => undefined);
  if (handle === undefined) return undefined;
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, TAIL_BYTES);
    const { buffer } = await handle.read(Buffer.alloc(length), 0, length, size - length);
    let reason: string | undefined;
    for (const line of buffer.toString('utf8').split('\n')) {
      const entry = parseLine(line);
      if (entry?.msg === CANNOT_SERVE && typeof entry.time === 'string' && entry.time >= since) reason = String(entry.err ?? '');
    }
    return reason;
  } finally {
    await handle.close();
  }
}

function parseLine(line: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined; // the first, cut line of the tail
  }
}
