/**
 * Structured logs (pino): JSON lines to stdout and, when a file is given, to that file too
 * (`<dataDir>/logs/orchestra.log`), rotated by size and age when asked (./rotating-file.ts).
 * Both destinations are synchronous, so a line logged before exit is never lost.
 *
 * Every actor logs through `actorLogger(logger, actorId)`, so every line names its actor.
 *
 * Secrets are redacted two ways:
 * - by field: usual secret fields (`token`, `password`, `authorization`, `secret`,
 *   `credentials` … at the top level and two levels down, in arrays too) and the configured
 *   extra paths are censored `[REDACTED]` (pino `redact`);
 * - by value: each given secret string (the values resolved from the env vars the config names)
 *   is replaced by `[REDACTED]` wherever it appears inside any string of the line — message,
 *   fields, error messages and stacks, child bindings, JSON logged as text — before the line
 *   reaches a destination. Only verbatim copies are caught (not URL-encoded or base64 ones).
 *
 * Untrusted text in a field cannot break a line (JSON escapes newlines and ESC) nor reach the
 * terminal of whoever reads the log: what JSON leaves raw is escaped too (`inertJson`, src/inert-text.ts).
 */
import { hostname } from 'node:os';
import pino, { type DestinationStream, type LevelWithSilent, type Logger } from 'pino';
import { inertJson } from '../../inert-text.ts';
import { RotatingFile } from './rotating-file.ts';

export const REDACTED = '[REDACTED]';

const secretKeys = [
  'token',
  'accessToken',
  'access_token',
  'password',
  'passwd',
  'secret',
  'authorization',
  'credentials',
  'cookie',
  'apiKey',
  'api_key',
  'seed',
];

/** Paths censored in every logger: each secret key at depth 1, 2 and 3. */
export const defaultRedactPaths: readonly string[] = secretKeys.flatMap((key) => [key, `*.${key}`, `*.*.${key}`]);

export interface LoggerOptions {
  level: LevelWithSilent;
  /** Also write to this file (its directory is created). */
  filePath?: string;
  /** Rotate that file by size and age (./rotating-file.ts); unset: it only grows. */
  rotation?: LogRotation;
  /** Extra pino redact paths (config `log.redact`). */
  redactPaths?: readonly string[];
  /** Secret values to replace wherever they appear. */
  secrets?: readonly string[];
  /** The stdout copy: true (default) for fd 1, false for none, or a stream of one's own. */
  stdout?: boolean | DestinationStream;
}

export interface LogRotation {
  maxBytes: number;
  maxAgeMs: number;
  maxFiles: number;
}

export function createLogger(options: LoggerOptions): Logger {
  const scrub = secretScrubber(options.secrets ?? []);
  const destinations: DestinationStream[] = [];
  if (options.stdout !== false) {
    destinations.push(
      options.stdout === true || options.stdout === undefined ? pino.destination({ dest: 1, sync: true }) : options.stdout,
    );
  }
  if (options.filePath !== undefined) {
    destinations.push(
      options.rotation === undefined
        ? pino.destination({ dest: options.filePath, sync: true, mkdir: true, append: true, mode: 0o600 })
        : new RotatingFile({ file: options.filePath, ...options.rotation }),
    );
  }
  // Every line is scrubbed of secrets and of what a terminal would obey, before any destination.
  const streams = destinations.map((stream) => ({ level: 'trace' as const, stream: scrubbing(stream, scrub) }));
  return pino(
    {
      level: options.level,
      base: { pid: process.pid, hostname: hostname() },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: [...defaultRedactPaths, ...(options.redactPaths ?? [])], censor: REDACTED },
    },
    pino.multistream(streams),
  );
}

/** A child logger whose every line carries `actorId` (and any other bindings, e.g. `issue`). */
export function actorLogger(logger: Logger, actorId: string, bindings: Record<string, unknown> = {}): Logger {
  return logger.child({ ...bindings, actorId });
}

/** Flushes every destination of `logger` (or of the logger it is a child of); for shutdown. */
export async function flushLogger(logger: Logger): Promise<void> {
  const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as
    | { flushSync?: () => void }
    | undefined;
  try {
    stream?.flushSync?.();
  } catch {
    // A destination already closed has nothing left to flush.
  }
}

/**
 * Replaces each secret inside the JSON string literals of a serialized line, so the line stays
 * valid JSON whatever the secret looks like. Longest secrets first, so a secret that contains
 * another is replaced whole.
 */
export function secretScrubber(secrets: readonly string[]): ((line: string) => string) | undefined {
  const escape = (text: string) => JSON.stringify(text).slice(1, -1);
  // As it stands in a JSON string, and in JSON embedded in a string (a body logged as text).
  const forms = (secret: string) => [escape(secret), escape(escape(secret)), escape(escape(escape(secret)))];
  const needles = [...new Set(secrets.filter((secret) => secret.length > 0).flatMap(forms))].sort(
    (a, b) => b.length - a.length,
  );
  if (needles.length === 0) return undefined;
  return (line) => {
    if (!needles.some((needle) => line.includes(needle))) return line;
    return line.replace(/"(?:[^"\\]|\\.)*"/g, (literal) =>
      needles.reduce((text, needle) => text.split(needle).join(REDACTED), literal),
    );
  };
}

function scrubbing(stream: DestinationStream, scrub: ((line: string) => string) | undefined): DestinationStream {
  const inner = stream as DestinationStream & { flushSync?: () => void; end?: () => void };
  return Object.assign(
    { write: (line: string) => inner.write(inertJson(scrub === undefined ? line : scrub(line))) },
    inner.flushSync === undefined ? {} : { flushSync: () => inner.flushSync!() },
    inner.end === undefined ? {} : { end: () => inner.end!() },
  );
}
