/**
 * Config section of the daily and weekly reports (docs/OPERATIONS.md, "Reports"): when the
 * orchestra posts them (cron expressions, read by `croner`, in `timeZone`) and where.
 */
import { Cron } from 'croner';
import { z } from 'zod';
import { millis } from '../fields.ts';

/** A cron expression croner accepts (5 or 6 fields, seconds first when 6), or a message saying why not. */
function cronProblem(expression: string): string | undefined {
  try {
    new Cron(expression, { paused: true }).stop();
    return undefined;
  } catch (error) {
    return `not a cron expression croner accepts (${(error as Error).message})`;
  }
}

function timeZoneProblem(zone: string): string | undefined {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return undefined;
  } catch {
    return 'not an IANA time zone (e.g. UTC, Asia/Tokyo, Europe/Paris)';
  }
}

const cron = (description: string) =>
  z
    .string()
    .min(1)
    .superRefine((value, ctx) => {
      const problem = cronProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .optional()
    .describe(description);

/** The once ledger (KV `miyabi-once`) keeps a period's key a week: a later catch-up could post it twice. */
export const MAX_CATCH_UP_MS = 6 * 86_400_000;

export const reportsSection = z
  .object({
    daily: cron('When the daily report is posted, as a cron expression in timeZone (e.g. "5 0 * * *": 00:05). Each firing posts the last complete day, once. Absent: no daily report'),
    weekly: cron('When the weekly report is posted, as a cron expression in timeZone (e.g. "0 9 * * 1": Mondays 09:00). Each firing posts the last complete week (Monday to Sunday), once. Absent: no weekly report'),
    timeZone: z
      .string()
      .min(1)
      .default('UTC')
      .superRefine((value, ctx) => {
        const problem = timeZoneProblem(value);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .describe('IANA time zone of the cron expressions and of the periods\' boundaries (a day runs from midnight to midnight there); also what `report --at` uses'),
    issue: z
      .number()
      .int()
      .positive()
      .optional()
      .describe('The issue of the tracker (GitHub, or the local tracker) the reports are posted on as comments, once per period. Absent: not posted on the tracker'),
    webhooks: z
      .boolean()
      .default(true)
      .describe('Also post each report to the webhooks of notify.webhooks (Slack, Discord, JSON)'),
    catchUpMs: millis(
      'A report missed while the orchestra was down (its firing came while it was not running) is posted at start if its period ended this recently; at most 6 days (the once ledger keeps a period\'s key a week)',
      86_400_000,
      0,
    ).refine((value) => value <= MAX_CATCH_UP_MS, { message: `at most ${MAX_CATCH_UP_MS} (6 days)` }),
  })
  .strict()
  .prefault({})
  .describe('Daily and weekly reports posted by the orchestra itself, once per period even across restarts (docs/OPERATIONS.md)');
