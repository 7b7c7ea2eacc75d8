/**
 * Config section of the workflow: which issues the orchestra may act on (the trigger label and
 * who is trusted), which stages an issue goes through and which role does each, its priority and
 * SLA, retries, review rounds, and the labels the orchestra keeps on the tracker.
 *
 * Closed by default: an issue is acted on only when it carries the trigger label and both its
 * author and whoever applied the label are trusted.
 */
import { z } from 'zod';
import { millis, pathField } from '../fields.ts';

const stageName = z.string().regex(/^[a-z][a-z0-9-]*$/, 'expected a stage name of lowercase letters, digits and dashes');
const stages = z.array(stageName).min(1);

const trust = z
  .object({
    associations: z
      .array(z.enum(['OWNER', 'MEMBER', 'COLLABORATOR', 'CONTRIBUTOR', 'FIRST_TIME_CONTRIBUTOR', 'FIRST_TIMER', 'MANNEQUIN', 'NONE']))
      .default(['OWNER', 'MEMBER', 'COLLABORATOR'])
      .describe('Author associations (GitHub\'s author_association) whose issues and comments are trusted'),
    allow: z
      .array(z.string().min(1))
      .default([])
      .describe('Logins trusted whatever their association (people; a bot must also be in `bots`)'),
    bots: z
      .array(z.string().min(1))
      .default([])
      .describe('Bot logins (dependabot[bot] …) that may trigger work; every other bot is ignored'),
  })
  .strict()
  .prefault({})
  .describe('Who may trigger agents: the author of the issue and whoever applied the trigger label must both be trusted');

const route = z
  .object({
    label: z.string().min(1).describe('An issue with this label takes this route (the first matching route wins)'),
    stages: stages.describe('Stages in order'),
  })
  .strict();

const extraStage = z
  .object({
    label: z.string().min(1).describe('An issue with this label …'),
    stage: stageName.describe('… gets this stage appended to its route'),
  })
  .strict();

const priority = z
  .object({
    labels: z
      .record(z.string().min(1), z.number().int().min(0).max(9))
      .default({
        P0: 0,
        P1: 1,
        P2: 2,
        P3: 3,
        'severity:critical': 0,
        'severity:high': 1,
        'severity:medium': 2,
        'severity:low': 3,
      })
      .describe('Label → priority (0 is the most urgent); with several, the most urgent wins'),
    default: z.number().int().min(0).max(9).default(2).describe('Priority of an issue with no priority label'),
    slaMs: z
      .array(z.number().int().min(1))
      .default([3_600_000, 14_400_000, 86_400_000, 259_200_000])
      .describe(
        'SLA per priority, index = priority (P0 1 h, P1 4 h, P2 24 h, P3 72 h): the deadline from discovery that orders issues of equal priority; a priority past the list takes the last',
      ),
    agingMs: millis('A queued issue gains one priority level each time it has waited this long, so nothing starves; 0 disables', 600_000),
  })
  .strict()
  .prefault({})
  .describe('Priority and SLA');

const retry = z
  .object({
    maxAttempts: z.number().int().min(1).default(3).describe('Runs of one stage before the issue fails'),
    initialDelayMs: millis('Delay before the second attempt; doubles each attempt', 2_000),
    maxDelayMs: millis('Upper bound of the delay between attempts', 120_000),
  })
  .strict()
  .prefault({})
  .describe('Retries of a failed stage, with exponential backoff');

const stateLabels = z
  .object({
    pending: z.string().min(1).default('miyabi:pending').describe('Label while waiting for its dependencies or a free agent'),
    implementing: z.string().min(1).default('miyabi:implementing').describe('Label while a stage that changes code runs'),
    reviewing: z.string().min(1).default('miyabi:reviewing').describe('Label while the review or pull-request stage runs'),
    deploying: z.string().min(1).default('miyabi:deploying').describe('Label while the deploy stage runs'),
    done: z.string().min(1).default('miyabi:done').describe('Label while every stage succeeded'),
    failed: z.string().min(1).default('miyabi:failed').describe('Label while a stage failed for good'),
    blocked: z.string().min(1).default('miyabi:blocked').describe('Label while it can never run as things are (a cycle, a failed or missing dependency)'),
  })
  .strict()
  .prefault({})
  .describe('The state labels the orchestra keeps on each issue, exactly one at a time');

export const workflowSection = z
  .object({
    triggerLabel: z.string().min(1).default('miyabi').describe('Only issues with this label are acted on'),
    trust,
    routes: z
      .array(route)
      .default([
        { label: 'type:docs', stages: ['codegen', 'pr'] },
        { label: 'type:bug', stages: ['codegen', 'review', 'pr'] },
        { label: 'type:feature', stages: ['codegen', 'review', 'pr'] },
      ])
      .describe('Label → stages; the first route whose label the issue has wins'),
    defaultRoute: stages.default(['codegen', 'review', 'pr']).describe('Stages of an issue no route matches'),
    extraStages: z
      .array(extraStage)
      .default([{ label: 'deploy', stage: 'deploy' }])
      .describe('Labels that append a stage to the route'),
    stageRoles: z
      .record(stageName, z.string().regex(/^[a-z][a-z0-9-]*$/))
      .default({})
      .describe('Role that runs each stage; a stage not listed is run by the role of the same name'),
    stageStates: z
      .record(stageName, z.enum(['implementing', 'reviewing', 'deploying']))
      .default({ codegen: 'implementing', review: 'reviewing', pr: 'reviewing', deploy: 'deploying' })
      .describe('State label shown while each stage runs; a stage not listed shows `implementing`'),
    forceRolePrefix: z
      .string()
      .min(1)
      .default('agent:')
      .describe('A label `<prefix><role>` (agent:codegen-claude, say) makes that role run the first stage of the route'),
    priority,
    retry,
    maxReviewRounds: z
      .number()
      .int()
      .min(0)
      .default(2)
      .describe('changes_requested answers a review may give before the issue fails; each sends it back to the first stage with the feedback'),
    dependenciesFile: pathField('YAML file of extra dependencies, `issue: [dependencies]` (12: [3, 5])').optional(),
    pullRequest: z
      .object({
        draft: z.boolean().default(true).describe('Open pull requests as drafts'),
        base: z.string().min(1).optional().describe('Base branch; default: the repository\'s default branch'),
      })
      .strict()
      .prefault({})
      .describe('The pull request the pr stage opens, from the issue\'s branch, whose body says Closes #N'),
    stateLabels,
  })
  .strict()
  .prefault({})
  .describe('How issues are chosen, routed, prioritised, retried and reported');
