/**
 * The `budget` section: caps on what agents spend, per task, per issue and per budget day
 * (docs/BUDGETS.md; the decisions are src/machines/budget.ts).
 */
import { z } from 'zod';
import { isTimeZone } from '../../agents/task-budget.ts';

function caps(what: string) {
  return capsObject(what).prefault({});
}

function capsObject(what: string) {
  return z
    .object({
      usd: z.number().nonnegative().optional().describe(`Dollars ${what} may cost, as the agents report them (result file \`cost.usd\`); absent: no cap`),
      wallClockMs: z.number().int().positive().optional().describe(`Agent wall-clock time ${what} may take (milliseconds); absent: no cap`),
    })
    .strict();
}

const admissionStep = z
  .object({
    share: z.number().gt(0).lt(1).describe('Past this share of a daily cap (the total\'s or a role\'s, whichever is the most used) …'),
    maxPriority: z.number().int().min(0).max(9).describe('… only issues of this priority or more urgent are dispatched (0 is P0)'),
  })
  .strict();

export const budgetSection = z
  .object({
    timeZone: z
      .string()
      .refine(isTimeZone, 'expected an IANA time zone, like UTC or Asia/Tokyo')
      .default('UTC')
      .describe('The time zone of the budget day: each day\'s spend starts from 0 at its midnight'),
    task: caps('one task (one agent run)').describe('Caps of one agent run: at the wall-clock cap the agent is stopped; a run that reports more dollars than the cap fails. Either fails the task with budget_exceeded, not retried'),
    issue: caps('one issue (all its attempts and rounds)').describe('Caps of one issue, all its runs together: the result that reaches one fails the issue with budget_exceeded'),
    daily: capsObject('all agents together in one budget day')
      .extend({
        roles: z.record(z.string(), caps('one role\'s agents in one budget day')).default({}).describe('Daily caps of each role (by role name): at 100 % that role\'s tasks wait'),
      })
      .prefault({})
      .describe('Daily caps: past the admission shares only urgent issues are dispatched; at 100 % of the total, dispatch pauses until the next budget day or `miyabi-orchestra budget resume`'),
    atLimit: z
      .enum(['finish', 'stop'])
      .default('finish')
      .describe('At 100 % of the daily budget, the agents at work: finish their tasks (spend counted), or are stopped, their tasks failed with budget_exceeded and run again when dispatch resumes'),
    admission: z
      .array(admissionStep)
      .default([
        { share: 0.7, maxPriority: 2 },
        { share: 0.9, maxPriority: 0 },
      ])
      .describe('Admission control: the steps that narrow dispatch as the day\'s budget is spent (default: past 70 % P3 stops, past 90 % only P0 goes)'),
  })
  .strict()
  .superRefine((budget, ctx) => {
    // A task cap above a daily cap can never be reached: the day stops first. Said, not ignored.
    const dailies: Array<[string[], { usd?: number | undefined; wallClockMs?: number | undefined }]> = [
      [['daily'], budget.daily],
      ...Object.entries(budget.daily.roles).map(([role, each]): [string[], typeof each] => [['daily', 'roles', role], each]),
    ];
    for (const scope of ['task', 'issue'] as const) {
      for (const field of ['usd', 'wallClockMs'] as const) {
        const cap = budget[scope][field];
        if (cap === undefined) continue;
        for (const [path, daily] of dailies) {
          const limit = daily[field];
          if (limit !== undefined && cap > limit) {
            ctx.addIssue({ code: 'custom', path: [scope, field], message: `${cap} is above budget.${[...path, field].join('.')} (${limit}): the daily cap would stop it first` });
          }
        }
      }
    }
  })
  .prefault({})
  .describe('Budgets: what agents may spend per task, per issue and per budget day, and the admission control that narrows dispatch as the day\'s budget runs out (docs/BUDGETS.md)');
