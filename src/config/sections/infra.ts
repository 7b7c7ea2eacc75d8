/**
 * Config sections of the infrastructure: the NATS connection (or the embedded server), the
 * JetStream bus, the HTTP endpoint and logging.
 */
import { z } from 'zod';
import { envName, millis, pathField, port, together } from '../fields.ts';

const natsUrl = z
  .string()
  .regex(
    /^((nats|tls|ws|wss):\/\/\S+|[^\s:/]+:\d+)$/,
    'expected a NATS URL like nats://host:4222 (schemes nats, tls, ws, wss) or host:port',
  );

const embedded = z
  .object({
    binary: z
      .string()
      .min(1)
      .optional()
      .describe(
        'nats-server executable: a command looked up on PATH, or a path (with a slash: resolved against the config file\'s directory). Unset: "nats-server" on PATH',
      ),
    host: z.string().min(1).default('127.0.0.1').describe('Address the embedded server listens on'),
    port: port('Client port of the embedded server; 0 picks a free port at start', 0),
  })
  .strict()
  .prefault({})
  .describe('The nats-server the orchestra starts itself when `urls` is empty (JetStream store under <dataDir>/nats)');

const auth = z
  .object({
    userEnv: envName('User name').optional(),
    passwordEnv: envName('Password').optional(),
    tokenEnv: envName('Token').optional(),
    credsFileEnv: envName('Path of a credentials (.creds) file').optional(),
    identities: z
      .boolean()
      .default(false)
      .describe(
        'Connect to the external NATS with the orchestra\'s own identities (<dataDir>/secrets/nats/*.nk: orchestrator, operator, one per runner: each slot of each role and its spare), each with only the permissions it needs; give the server the users `miyabi-orchestra nats-config` prints (docs/SECURITY.md). The embedded server always uses them',
      ),
  })
  .strict()
  .superRefine(together('userEnv', 'passwordEnv'))
  .superRefine((value, ctx) => {
    const methods = [value.userEnv, value.tokenEnv, value.credsFileEnv, value.identities ? true : undefined].filter((v) => v !== undefined);
    if (methods.length > 1) {
      ctx.addIssue({
        code: 'custom',
        message: 'choose one of user/password, token, credentials file or identities',
      });
    }
  })
  .prefault({})
  .describe('How to authenticate to an external NATS; the secrets come from environment variables');

const tls = z
  .object({
    caFile: pathField('CA certificate (PEM) to trust').optional(),
    certFile: pathField('Client certificate (PEM), for mutual TLS').optional(),
    keyFile: pathField('Client key (PEM), for mutual TLS').optional(),
  })
  .strict()
  .superRefine(together('certFile', 'keyFile'))
  .describe('TLS options; TLS is used when present or when a URL has the tls:// scheme');

export const natsSection = z
  .object({
    urls: z
      .array(natsUrl)
      .default([])
      .describe('Servers of an external NATS (several for a cluster). Empty: start an embedded nats-server'),
    embedded,
    auth,
    tls: tls.optional(),
    connectDeadlineMs: millis(
      'How long to keep retrying the first connection before `up` gives up and exits non-zero',
      30_000,
      1,
    ),
    name: z.string().min(1).default('miyabi-orchestra').describe('Connection name shown by the NATS server'),
  })
  .strict()
  .prefault({})
  .describe('The NATS server the bus runs on');

const streamBytes = (what: string, mib: number) =>
  z.number().int().min(64 * 1024).default(mib * 1024 * 1024).describe(`${what} (bytes)`);

export const busSection = z
  .object({
    maxDeliver: z
      .number()
      .int()
      .min(1)
      .default(5)
      .describe('Deliveries of a message before it goes to the dead-letter stream'),
    ackWaitMs: millis('How long a consumer has to ack (or extend) before the message is redelivered', 30_000, 1),
    storage: z
      .enum(['file', 'memory'])
      .default('file')
      .describe('JetStream storage of the streams: file survives a restart, memory does not'),
    duplicateWindowMs: millis('Window in which a republished message id is dropped as a duplicate', 120_000, 1),
    maxBytes: z
      .object({
        tasks: streamBytes('The tasks stream; when full it refuses new tasks (the dispatcher retries them), never dropping one', 256),
        events: streamBytes('The events stream (issue events, task results, health reports); when full it refuses new events, never dropping one unread', 256),
        dlq: streamBytes('The dead-letter stream; when full its oldest dead letters are dropped', 64),
        state: streamBytes('The KV bucket of the workflow\'s records; when full a write is refused (docs/BUS.md "Limits")', 128),
        once: streamBytes('The KV ledger of what happened once (webhook deliveries, comment commands)', 32),
        answers: streamBytes("The KV bucket of each task's kept answer, which stops any node's runner from running an answered task again; when full its oldest answers are dropped", 64),
      })
      .strict()
      .prefault({})
      .describe('Size limit of each stream and KV bucket, in bytes (each also ages out: docs/BUS.md "Limits"). JetStream reserves them against its store: together they must fit on the data directory\'s disk'),
  })
  .strict()
  .prefault({})
  .describe('The JetStream message bus: streams for tasks, events and dead letters');

export const httpSection = z
  .object({
    enabled: z.boolean().default(true).describe('Serve /metrics, /healthz and /readyz'),
    host: z
      .string()
      .min(1)
      .default('127.0.0.1')
      .describe('Address to bind; keep 127.0.0.1 unless something in front guards it'),
    port: port('Port to listen on; 0 picks a free port (the run file records it)', 9464),
  })
  .strict()
  .prefault({})
  .describe('HTTP endpoint for Prometheus and health probes');

// pino redact syntax: dotted names or `*`, with brackets for other keys and indices.
const segment = String.raw`(?:\*|[A-Za-z_$][\w$-]*)`;
const bracket = String.raw`\[(?:\*|\d+|"[^"]*"|'[^']*')\]`;
const redactPath = new RegExp(`^${segment}(?:\\.${segment}|${bracket})*$`);

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const logSection = z
  .object({
    level: z.enum(logLevels).default('info').describe('Lowest level written'),
    file: z
      .boolean()
      .default(true)
      .describe('Also write the JSON lines to <dataDir>/logs/orchestra.log (stdout always gets them)'),
    rotation: z
      .object({
        maxBytes: z.number().int().min(1_024).default(50 * 1024 * 1024).describe('Size at which orchestra.log (and each runner\'s log) is rotated (bytes)'),
        maxAgeHours: z.number().positive().default(24).describe('Age at which orchestra.log (and each runner\'s log) is rotated, even if small'),
        maxFiles: z.number().int().min(0).default(7).describe('Rotated files kept: <file>.1 (newest) … <file>.<maxFiles>; older ones are deleted'),
      })
      .strict()
      .prefault({})
      .describe('Rotation of <dataDir>/logs/orchestra.log and <dataDir>/logs/runners/<agent>.log, done by the orchestra itself (no logrotate rule needed)'),
    index: z
      .object({
        intervalMs: millis('How often the running orchestra indexes the lines appended to its logs since the last time (<dataDir>/logs/index.sqlite), so `logs search` finds them without indexing first', 60_000, 100),
      })
      .strict()
      .prefault({})
      .describe('The log index kept up to date by the orchestra (docs/OPERATIONS.md)'),
    redact: z
      .array(z.string().regex(redactPath, 'expected a field path like "*.apiKey" or \'headers["x-api-key"]\''))
      .default([])
      .describe(
        'Extra field paths to censor, in pino redact syntax (e.g. "*.apiKey"); usual secret fields and the values of the configured secrets are always censored',
      ),
  })
  .strict()
  .prefault({})
  .describe('Structured JSON logging (pino)');
