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

/**
 * Stages the orchestra runs itself, not an agent: `merge` (docs/WORKFLOW.md). Their role is
 * `ORCHESTRA_ROLE`, which no agent pool has.
 */
export const ORCHESTRA_STAGES: ReadonlySet<string> = new Set(['merge']);
export const ORCHESTRA_ROLE = 'orchestra';

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
  .superRefine((value, ctx) => {
    if (value.initialDelayMs > value.maxDelayMs) {
      ctx.addIssue({ code: 'custom', path: ['initialDelayMs'], message: `must be <= maxDelayMs (${value.maxDelayMs})` });
    }
  })
  .prefault({})
  .describe('Retries of a failed stage, with exponential backoff');

const dependencies = z
  .object({
    mode: z
      .enum(['merged', 'stacked'])
      .default('merged')
      .describe(
        '`merged`: a dependency is satisfied when its change is merged into the base branch, and a dependent\'s branch starts from the base branch after that merge. `stacked`: a dependent starts once its dependencies\' stages through `pr` succeeded, on a branch made from theirs, its pull request targeting the dependency\'s branch (docs/WORKFLOW.md)',
      ),
  })
  .strict()
  .prefault({})
  .describe('When a dependency counts as satisfied, and what a dependent\'s branch starts from');

const merge = z
  .object({
    method: z.enum(['merge', 'squash', 'rebase']).default('merge').describe('How the merge stage merges a pull request'),
    auto: z
      .boolean()
      .optional()
      .describe(
        'The orchestra merges when the review approved, CI is green and the pull request is mergeable; false: it waits for a person to merge. Default: true for the local source (the demo), false on GitHub',
      ),
  })
  .strict()
  .prefault({})
  .describe('The `merge` stage a route can end with: the orchestra, not an agent, merges the pull request');

const ci = z
  .object({
    command: z
      .array(z.string())
      .default(['node', '{packageRoot}/examples/ci/check.mjs'])
      .describe(
        'Local source: the CI command, an argv array run in the issue\'s worktree (never a shell); its exit code is the verdict. Placeholders {worktree} {issue} {branch} {baseBranch} {headSha} {packageRoot}. [] for no CI. Default: the example check of the demo',
      ),
    checks: z
      .array(z.string().min(1))
      .default([])
      .describe('GitHub: the check runs and commit statuses that must pass on the head commit; empty: every one reported on it'),
    timeoutMs: millis('A CI command running longer is killed and counts as failed; a GitHub check pending longer fails too', 1_800_000, 1),
    pollIntervalMs: millis('How often a pending verdict is looked at again (GitHub checks, a pull request waiting to be merged)', 15_000, 1),
    settleMs: millis('GitHub: with no check reported on the head yet, how long to wait for one before calling it green', 60_000),
  })
  .strict()
  .prefault({})
  .describe('CI as a judge before the merge: a red verdict sends the issue back to its first stage with the failing check and its log');

const stateLabels = z
  .object({
    pending: z.string().min(1).default('miyabi:pending').describe('Label while waiting for its dependencies or a free agent'),
    implementing: z.string().min(1).default('miyabi:implementing').describe('Label while a stage that changes code runs'),
    reviewing: z.string().min(1).default('miyabi:reviewing').describe('Label while the review or pull-request stage runs'),
    deploying: z.string().min(1).default('miyabi:deploying').describe('Label while the deploy stage runs'),
    done: z.string().min(1).default('miyabi:done').describe('Label while every stage succeeded'),
    failed: z.string().min(1).default('miyabi:failed').describe('Label while a stage failed for good'),
    blocked: z.string().min(1).default('miyabi:blocked').describe('Label while it can never run as things are (a cycle, a failed or missing dependency)'),
    merging: z.string().min(1).default('miyabi:merging').describe('Label while the merge stage waits for CI, a dependency or the merge'),
    merge_blocked: z
      .string()
      .min(1)
      .default('miyabi:merge-blocked')
      .describe('Label while the tracker refuses the merge (a protected branch …); retried when the pull request changes'),
    waiting_for_human: z
      .string()
      .min(1)
      .default('miyabi:waiting-for-human')
      .describe('Label while an agent\'s question waits for a trusted person\'s answer'),
    budget_hold: z
      .string()
      .min(1)
      .default('miyabi:budget-hold')
      .describe('Label while the budget holds it back: the daily budget used up, its priority past the admitted one or its role\'s daily cap used up (docs/BUDGETS.md); pending again when the budget lets it go'),
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
        { label: 'type:docs', stages: ['codegen', 'pr', 'merge'] },
        { label: 'type:bug', stages: ['codegen', 'review', 'pr', 'merge'] },
        { label: 'type:feature', stages: ['codegen', 'review', 'pr', 'merge'] },
      ])
      .describe('Label → stages; the first route whose label the issue has wins'),
    defaultRoute: stages.default(['codegen', 'review', 'pr', 'merge']).describe('Stages of an issue no route matches; `merge` is the orchestra\'s own stage'),
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
    maxCiRounds: z.number().int().min(0).default(3).describe('Red CI verdicts before the issue fails; each sends it back to the first stage with the failing check'),
    maxConflictRounds: z
      .number()
      .int()
      .min(0)
      .default(2)
      .describe('Merge conflicts before the issue fails; each sends it back to the first stage with the conflicting files and both sides\' commits'),
    dependencies,
    merge,
    ci,
    dependenciesFile: pathField('YAML file of extra dependencies, `issue: [dependencies]` (12: [3, 5])').optional(),
    pullRequest: z
      .object({
        draft: z.boolean().default(true).describe('Open pull requests as drafts'),
      })
      .strict()
      .prefault({})
      .describe('The pull request the pr stage opens, from the issue\'s branch, whose body says Closes #N'),
    stateLabels,
  })
  .strict()
  .superRefine((workflow, ctx) => {
    // The merge stage merges the pull request the pr stage opened: a route must open one first.
    const check = (stages: readonly string[], path: (string | number)[]) => {
      const merge = stages.indexOf('merge');
      if (merge !== -1 && !stages.slice(0, merge).includes('pr')) {
        ctx.addIssue({ code: 'custom', path: [...path, merge], message: 'the merge stage needs a pr stage before it (it merges the pull request pr opens)' });
      }
    };
    check(workflow.defaultRoute, ['defaultRoute']);
    workflow.routes.forEach((route, index) => check(route.stages, ['routes', index, 'stages']));
  })
  .prefault({})
  .describe('How issues are chosen, routed, prioritised, retried and reported');
