/**
 * Config section of the agent roles. Each role is a dynamic pool of agent instances under its
 * own supervisor; the command is an argv array, never a shell string, so issue text can never
 * reach a shell.
 *
 * Giving `agents` in a file replaces the whole default set of roles: list every role you want.
 */
import { z } from 'zod';
import { PLACEHOLDERS } from '../../agents/command.ts';
import { envName, millis, pathField } from '../fields.ts';

/** Display names of the default roles; another role is shown under its own name. */
export const defaultDisplayNames: Readonly<Record<string, string>> = {
  conductor: 'Conductor',
  codegen: 'カエデ Kaede',
  review: 'サクラ Sakura',
  pr: 'ツバキ Tsubaki',
  deploy: 'ボタン Botan',
};

const isolation = z
  .object({
    user: z
      .string()
      .regex(/^[a-z_][a-z0-9_-]*[$]?$/, 'expected a Unix user name')
      .optional()
      .describe(
        'Run the agent as this Unix user (`runuser` when the orchestra is root, else `sudo -n`): it cannot read the data directory, the run file or the secrets, nor signal the orchestra. Its worktrees and task directories must be writable to it (docs/SECURITY.md)',
      ),
    systemd: z
      .object({
        memoryMax: z.string().regex(/^\d+[KMGT]?$/, 'expected bytes like 2G').optional().describe('MemoryMax= of the scope (e.g. 4G)'),
        cpuQuota: z.string().regex(/^\d+%$/, 'expected a percentage like 200%').optional().describe('CPUQuota= of the scope (200% is two CPUs)'),
        tasksMax: z.number().int().min(1).optional().describe('TasksMax= of the scope: processes and threads'),
      })
      .strict()
      .optional()
      .describe('Run the agent in a transient `systemd-run --user --scope` with these limits (needs a systemd user session)'),
    sandbox: z
      .enum(['auto', 'required', 'off'])
      .default('auto')
      .describe(
        "Run the agent in Linux user, mount and PID namespaces (util-linux `unshare`) that hide from it the data directory (secrets, run file, NATS store, logs; all but its worktree and task files), the orchestra's tmux socket, the user's runtime directory and the orchestra's processes: auto, where the host allows it (checked at start, a warning when not); required, agents do not run without it (`up` refuses to start); off (docs/SECURITY.md)",
      ),
    unshare: z.string().min(1).default('unshare').describe('The util-linux `unshare` program the sandbox is made with: a name on PATH or a path'),
  })
  .strict()
  .describe('Least privilege for the agent, where the host allows it (docs/SECURITY.md)');

const agent = z
  .object({
    displayName: z
      .string()
      .min(1)
      .optional()
      .describe('Name shown in panes, logs and status. Default: the role\'s name (カエデ Kaede for codegen …)'),
    command: z
      .array(z.string())
      .min(1)
      .describe(
        `Agent command as an argv array (["node", "agent.mjs"]); never run through a shell. Placeholders substituted inside single arguments: ${PLACEHOLDERS.map((name) => `{${name}}`).join(' ')}; runs with the task's worktree as its working directory (docs/AGENT_PROTOCOL.md)`,
      ),
    min: z.number().int().min(0).default(0).describe('Instances kept running even when idle'),
    max: z.number().int().min(1).default(1).describe('Most instances running at once'),
    tasksAhead: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe(
        'Tasks of this role dispatched beyond `max`, waiting on the bus: an agent that finishes pulls its next task at once instead of idling while the orchestra steps its result and dispatches another — for short tasks, where that round trip is a large share of each. A waiting task holds no agent and runs no ack wait, but it has left the priority queue: a more urgent issue found later waits behind it. 0: a task is dispatched only for a free agent',
      ),
    taskTimeoutMs: millis('Longest a task may run before its agent\'s process group is sent SIGTERM', 1_800_000, 1),
    graceMs: millis('After the timeout or a cancel, how long SIGTERM has before SIGKILL', 10_000),
    prompt: pathField(
      'Prompt template file ({{issue.title}} … rendered strictly). Default: config/prompts/<role>.md of the miyabi-orchestra package',
    ).optional(),
    env: z
      .array(envName('An environment variable passed to the agent (an API key, say)'))
      .default([])
      .describe(
        'Environment variables passed through to the agent, by NAME, besides PATH, HOME, locale and the MIYABI_* task variables; nothing else of the orchestra\'s environment reaches it',
      ),
    isolation: isolation.prefault({}),
  })
  .strict()
  .superRefine((value, ctx) => {
    if (value.min > value.max) {
      ctx.addIssue({ code: 'custom', path: ['min'], message: `must be <= max (${value.max})` });
    }
  })
  .describe('One role: a pool of agent instances that run the same command');

// One of each by default: the five-pane orchestra a person can attach to and watch.
const exampleAgent = (name: string) => ({ command: ['node', `{packageRoot}/examples/agents/${name}.mjs`], min: 1 });

/** The example roles of the embedded default: agents that need no AI (examples/agents/). */
export const defaultAgents = {
  conductor: exampleAgent('conductor'),
  codegen: exampleAgent('codegen'),
  review: exampleAgent('review'),
  pr: exampleAgent('pr'),
  deploy: exampleAgent('deploy'),
};

export const agentsSection = z
  .record(
    z.string().regex(/^[a-z][a-z0-9-]*$/, 'expected a role name of lowercase letters, digits and dashes'),
    agent,
  )
  .prefault(defaultAgents)
  .transform((roles) =>
    Object.fromEntries(
      Object.entries(roles).map(([role, spec]) => [
        role,
        { ...spec, displayName: spec.displayName ?? defaultDisplayNames[role] ?? role },
      ]),
    ),
  )
  .describe('Agent roles keyed by role name. Giving this replaces the default roles (conductor, codegen, review, pr, deploy)');
