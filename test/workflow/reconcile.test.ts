/**
 * Reconciliation on the real orchestra: an issue closed on the tracker (or unlabelled) while its
 * agent works is released: the task is cancelled, the agent's process stopped, the worktree
 * removed, its task files too. The agent is the example codegen told to hang (demo:hang).
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { decodeHeartbeat, HEARTBEAT_SUBJECT_PREFIX } from '../../src/runner/heartbeat.ts';
import { startTestOrchestra } from '../support/orchestra.ts';
import { repoRoot } from '../support/cli.ts';
import { waitFor } from '../support/wait.ts';

/** A process as the kernel knows it: its state letter, process group and start time (`/proc/<pid>/stat`). */
async function stat(pid: number): Promise<{ state: string; pgrp: number; start: string } | undefined> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  // The command name (field 2) is in parentheses and may hold spaces: the fields after it are split.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0]!, pgrp: Number(fields[2]), start: fields[19]! };
}

/**
 * Whether the agent still runs: its own process (the same one: pid and start time, not a reused
 * pid) or anything left in its process group. A zombie has stopped, waiting to be reaped.
 */
async function agentRuns(agent: { pid: number; start: string }): Promise<boolean> {
  const self = await stat(agent.pid);
  if (self && self.start === agent.start && self.state !== 'Z') return true;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const other = await stat(Number(entry));
    if (other && other.pgrp === agent.pid && other.state !== 'Z') return true;
  }
  return false;
}

const codegen = { command: ['node', join(repoRoot, 'examples/agents/codegen.mjs')], min: 1, max: 1 };

describe('reconciliation with the tracker', { timeout: 90_000 }, () => {
  for (const [what, change] of [
    ['closed', 'state: closed\nlabels: [miyabi, "demo:hang"]'],
    ['unlabelled', 'labels: ["demo:hang"]'],
  ] as const) {
    it(`releases an issue ${what} while its agent works: task cancelled, agent stopped, worktree and task files removed`, async () => {
      const test = await startTestOrchestra({
        backend: 'process',
        agents: { codegen },
        // Task files go as soon as the issue is finished (default: kept a week for inspection).
        config: { workflow: { defaultRoute: ['codegen'] }, workspace: { taskFilesRetentionHours: 0 } },
      });
      // The runner says in its heartbeat which process runs the agent (the leader of its group).
      const agentPids = new Set<number>();
      const heartbeats = (test.orchestra.resources.nc as NatsConnection).subscribe(`${HEARTBEAT_SUBJECT_PREFIX}.>`, {
        callback: (error, message) => {
          const heartbeat = error ? undefined : decodeHeartbeat(message.data);
          if (heartbeat?.state === 'busy' && heartbeat.issue === 1 && heartbeat.agentPid !== undefined) agentPids.add(heartbeat.agentPid);
        },
      });
      try {
        const issuesDir = test.orchestra.resources.config.issues.local.dir;
        const file = join(issuesDir, '1.md');
        await writeFile(file, '---\nnumber: 1\ntitle: Hang\nlabels: [miyabi, "demo:hang"]\n---\nHang forever.\n');
        const worktree = join(test.dataDir, 'worktrees', 'issue-1');
        const pid = await waitFor(() => [...agentPids][0], { timeoutMs: 30_000, what: 'the agent at work' });
        const start = (await stat(pid))?.start;
        expect(start, 'the agent named by the heartbeat runs').toBeDefined();
        const agent = { pid, start: start! };
        expect(await agentRuns(agent)).toBe(true);
        expect(String(test.orchestra.resources.workflow!.snapshot(1)!.value)).toBe('running');
        const tasksDir = join(test.dataDir, 'tasks');
        const taskDirs = async () => (await readdir(tasksDir).catch(() => [] as string[])).filter((name) => name.startsWith('issue-1.'));
        await waitFor(async () => (await taskDirs()).length > 0, { timeoutMs: 30_000, what: 'the running task has its files' });

        await writeFile(file, `---\nnumber: 1\ntitle: Hang\n${change}\n---\nHang forever.\n`);
        await waitFor(() => String(test.orchestra.resources.workflow!.snapshot(1)!.value) === 'released', { timeoutMs: 30_000, what: 'released' });
        await waitFor(async () => !(await agentRuns(agent)), { timeoutMs: 30_000, what: 'agent stopped' });
        await waitFor(async () => !existsSync(worktree), { timeoutMs: 30_000, what: 'worktree removed' });
        await waitFor(async () => (await taskDirs()).length === 0, { timeoutMs: 30_000, what: 'task files removed' });
        expect([...agentPids], 'one agent, never restarted').toEqual([pid]);
        expect(test.orchestra.resources.workflow!.snapshot(1)!.context.reason).toMatch(/closed|label|trust/);
      } finally {
        heartbeats.unsubscribe();
        await test.stop();
      }
    });
  }
});
