/**
 * Config sections of the agents' execution: where runners live (tmux panes or headless
 * processes), how their liveness is watched, where their output is kept, and the git repository
 * whose worktrees they work in.
 */
import { z } from 'zod';
import { millis, pathField } from '../fields.ts';

export const panesSection = z
  .object({
    backend: z
      .enum(['auto', 'tmux', 'process'])
      .default('auto')
      .describe('Where agent runners run: tmux panes a person can attach to, headless processes (systemd, CI), or auto: tmux when installed'),
    session: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/, 'expected letters, digits, "_" or "-"')
      .default('miyabi-orchestra')
      .describe('tmux session name'),
    socket: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/, 'expected letters, digits, "_" or "-"')
      .default('miyabi-orchestra')
      .describe('tmux socket name (tmux -L): the orchestra\'s own tmux server, apart from yours. Attach with: tmux -L <socket> attach -t <session>'),
    heartbeatIntervalMs: millis('How often a runner sends a heartbeat', 2_000, 100),
    missedHeartbeats: z
      .number()
      .int()
      .min(1)
      .default(3)
      .describe('Heartbeats that may go missing before the agent counts as unresponsive and is restarted'),
    spawnTimeoutMs: millis('How long a new runner may take to send its first heartbeat', 30_000, 100),
    pollIntervalMs: millis('How often tmux is asked which panes have died', 250, 10),
    spareRunners: z
      .boolean()
      .default(true)
      .describe('Keep one runner per role started ahead, so a dead agent is replaced by taking it over instead of starting a process from nothing'),
    scaleIntervalMs: millis('How often each role\'s backlog is read to grow its pool towards max, or shrink it towards min', 2_000, 100),
    log: z
      .object({
        maxBytes: z.number().int().min(1_024).default(10 * 1024 * 1024).describe('Size at which an agent\'s log file is rotated (bytes)'),
        maxFiles: z.number().int().min(1).default(5).describe('Rotated files kept per agent and day'),
      })
      .strict()
      .prefault({})
      .describe('Agent output logs: <dataDir>/logs/agents/<agent>/<day>.log'),
  })
  .strict()
  .prefault({})
  .describe('Agent runners: tmux panes or headless processes, heartbeats and logs');

export const workspaceSection = z
  .object({
    repo: pathField(
      'The target git repository whose issues the agents work on; each issue gets a worktree of it. Unset: a scratch repository <dataDir>/scratch-repo, made at start (the embedded demo)',
    ).optional(),
    worktreesDir: pathField(
      'Where the issues\' worktrees are made. Unset: <dataDir>/worktrees. The nodes of a cluster on one host (or on one shared filesystem) give the same directory, with the same repo: an issue\'s stages then share its worktree whichever node runs them (docs/CLUSTER.md)',
    ).optional(),
    branchPrefix: z
      .string()
      .min(1)
      .default('miyabi/issue-')
      .describe('Branch of an issue: this prefix and the issue number (miyabi/issue-12)'),
    baseBranch: z
      .string()
      .min(1)
      .optional()
      .describe(
        'The base branch: issue branches start from it, pull requests target it, the merge stage merges into it. Default: the branch checked out in the repository (local source), the repository\'s default branch (GitHub). One that does not exist stops `up`, naming it',
      ),
    taskFilesRetentionHours: z
      .number()
      .nonnegative()
      .default(168)
      .describe(
        'How long a finished issue\'s task files (<dataDir>/tasks/issue-<n>.*: task, prompt, result) are kept for inspection; swept at start and whenever an issue finishes. 0: removed when it finishes',
      ),
  })
  .strict()
  .prefault({})
  .describe('The repository the agents change, one git worktree per issue under <dataDir>/worktrees');
