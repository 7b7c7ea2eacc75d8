/**
 * Config sections of the runtime: supervisor defaults and the health monitor.
 */
import { z } from 'zod';
import { millis } from '../fields.ts';

const backoff = z
  .object({
    minMs: millis('Delay before the first restart', 100, 0),
    maxMs: millis('Upper bound of the delay', 30_000, 0),
    randomFactor: z
      .number()
      .min(0)
      .max(1)
      .default(0.2)
      .describe('Jitter: each delay is stretched by a random fraction up to this factor'),
  })
  .strict()
  .superRefine((value, ctx) => {
    if (value.minMs > value.maxMs) {
      ctx.addIssue({ code: 'custom', path: ['maxMs'], message: `must be >= minMs (${value.minMs})` });
    }
  })
  .describe(
    'Exponential backoff between restarts (delay doubles from minMs up to maxMs, with jitter), as Akka\'s restartWithBackoff. Absent: restart at once',
  );

export const supervisorSection = z
  .object({
    restartIntensity: z
      .number()
      .int()
      .min(0)
      .default(5)
      .describe(
        'Restarts a supervisor tolerates within restartPeriodMs; one more and it stops its children and fails to its parent',
      ),
    restartPeriodMs: millis('Sliding window of the restart intensity', 10_000, 1),
    backoff: backoff.optional(),
    shutdownTimeoutMs: millis('Time a child gets to stop before it is killed', 5_000, 0),
  })
  .strict()
  .prefault({})
  .describe('Defaults of every supervisor in the tree (OTP semantics)');

export const healthSection = z
  .object({
    checkIntervalMs: millis('How often the health monitor checks the actors', 5_000, 1),
    maxStoreShare: z
      .number()
      .gt(0)
      .max(1)
      .default(0.8)
      .describe('The JetStream store is a problem past this share of its limit: the account\'s JetStream limit, else (embedded server) the size of the data directory\'s disk; critical from 0.95'),
    minFreeDiskBytes: z
      .number()
      .int()
      .nonnegative()
      .default(512 * 1024 * 1024)
      .describe(
        'Under this many free bytes on the data directory\'s disk, no new task is dispatched (tasks at work finish; the NATS store and the records keep room to be written) and the health monitor reports disk_full; dispatch resumes when there is more. The monitor warns earlier, under 10 % free. 0: never paused',
      ),
    stuckIssues: z
      .object({
        discoveredMs: millis('An issue just discovered, before the dependency graph placed it', 600_000, 1),
        waitingMs: millis('An issue waiting for its dependencies to be done', 86_400_000, 1),
        blockedMs: millis('An issue blocked (a dependency failed or released, a cycle, a role missing): it needs a person', 3_600_000, 1),
        queuedMs: millis('An issue queued for its stage with no agent free (a backlog)', 86_400_000, 1),
        queuedWhileIdleMs: millis(
          'An issue queued while an agent of its role is idle, both this long, with neither the budget nor a full disk holding dispatch back: dispatch_stalled',
          120_000,
          1,
        ),
        retryingMs: millis('An issue waiting out the backoff before a stage runs again', 3_600_000, 1),
        waitingForHumanMs: millis('An issue waiting for a person\'s answer to its agent\'s question', 259_200_000, 1),
        mergingMs: millis('An issue in the merge stage (its CI, review and mergeability)', 7_200_000, 1),
        mergeBlockedMs: millis('An issue whose merge the tracker refused, until its pull request changes', 86_400_000, 1),
      })
      .strict()
      .prefault({})
      .describe(
        'The longest an issue may stay in each state other than running (a running issue is judged by its task: task_stuck); past it the health monitor reports issue_stuck (src/machines/health-stuck.ts). The time is the lifecycle\'s own where it keeps one (the merge stage\'s start, the question asked), else since the monitor first saw the issue in that state, begun again by a restart',
      ),
    reportHeartbeatMs: millis(
      'A health report goes on the bus (miyabi.events.health) when it differs from the last one, and otherwise this long after it (a slow heartbeat). The KPIs take a silence over three of these (and 30 s) as the orchestra down (docs/KPI.md)',
      60_000,
      1,
    ),
  })
  .strict()
  .prefault({})
  .describe('The health monitor');

export const retentionSection = z
  .object({
    days: z
      .number()
      .nonnegative()
      .default(30)
      .describe(
        'How long a finished issue\'s effect ledger and stage cache (effect.*, cache.* in the KV bucket) are kept after it finished; then they are pruned and its record compacted to one revision (docs/OPERATIONS.md). Also how many days of the agents\' output logs are kept (older day files are deleted). 0: at the first sweep after it finished',
      ),
    sweepIntervalMs: millis('How often finished issues (KV records, task files) and old agents\' log days are swept; also at start and whenever an issue finishes', 3_600_000, 1_000),
  })
  .strict()
  .prefault({})
  .describe('What is kept of finished issues, and for how long');

export const notifySection = z
  .object({
    webhooks: z
      .array(
        z
          .object({
            kind: z.enum(['slack', 'discord', 'json']).describe('slack: Slack incoming webhook; discord: Discord webhook; json: the notice as JSON'),
            urlEnv: z.string().min(1).describe('Environment variable holding the webhook URL (a secret: never in the file, never logged)'),
          })
          .strict(),
      )
      .default([])
      .describe('Where health problems are sent'),
    minSeverity: z.enum(['warning', 'critical']).default('warning').describe('The least severe problem that is sent'),
    maxPerCheck: z.number().int().min(1).default(5).describe('More new problems (or resolutions) in one check than this become one summary message'),
    intervalMs: millis('Per problem, the least time between two messages of its appearance: a problem that comes back sooner (it flaps) is told again, with how often it came back, only once this time has passed since its last message; also the window of maxPerInterval', 1_800_000, 1),
    maxPerInterval: z.number().int().min(1).default(20).describe('Messages sent in any intervalMs, all problems together; past it, notices are held and sent as one summary once the window allows'),
    timeoutMs: millis('How long a webhook may take to answer', 5_000, 1),
    retries: z.number().int().min(0).default(3).describe('Retries of a webhook that answers 5xx or 429 or not at all, with backoff'),
    githubIssues: z
      .object({
        enabled: z.boolean().default(false).describe('Open an issue on the GitHub repository of issues.github for each critical problem (needs issues.source: github)'),
        label: z.string().min(1).default('miyabi:health').describe('Label of those issues (never the trigger label: no agent works on them)'),
        commentIntervalMs: millis('While a problem lasts, its issue gets a comment when the problem\'s message changes, at most this often', 900_000, 0),
      })
      .strict()
      .prefault({})
      .describe('Critical problems as GitHub issues: opened once per problem, commented while it lasts, closed when it is resolved; more than maxPerCheck new ones at once share one issue'),
  })
  .strict()
  .prefault({})
  .describe('Notifications of health problems: one message when a problem appears, one when it is resolved');
