/**
 * Reconciliation on the real orchestra: an issue closed on the tracker (or unlabelled) while its
 * agent works is released: the task is cancelled, the agent's process stopped, the worktree
 * removed, its task files too. The agent is the example codegen told to hang (demo:hang).
 */
import { existsSync } from 'node:fs';
import { readdir, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startTestOrchestra } from '../support/orchestra.ts';
import { repoRoot } from '../support/cli.ts';
import { waitFor } from '../support/wait.ts';

/** Pids of the processes whose working directory is `dir` (the agents run in their worktree). */
async function processesIn(dir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cwd = await readlink(`/proc/${entry}/cwd`).catch(() => undefined);
    if (cwd === dir) pids.push(Number(entry));
  }
  return pids;
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
      try {
        const issuesDir = test.orchestra.resources.config.issues.local.dir;
        const file = join(issuesDir, '1.md');
        await writeFile(file, '---\nnumber: 1\ntitle: Hang\nlabels: [miyabi, "demo:hang"]\n---\nHang forever.\n');
        const worktree = join(test.dataDir, 'worktrees', 'issue-1');
        await waitFor(async () => existsSync(worktree) && (await processesIn(worktree)).length > 0, { timeoutMs: 30_000, what: 'the agent at work' });
        expect(String(test.orchestra.resources.workflow!.snapshot(1)!.value)).toBe('running');
        const tasksDir = join(test.dataDir, 'tasks');
        const taskDirs = async () => (await readdir(tasksDir).catch(() => [] as string[])).filter((name) => name.startsWith('issue-1.'));
        await waitFor(async () => (await taskDirs()).length > 0, { timeoutMs: 30_000, what: 'the running task has its files' });

        await writeFile(file, `---\nnumber: 1\ntitle: Hang\n${change}\n---\nHang forever.\n`);
        await waitFor(() => String(test.orchestra.resources.workflow!.snapshot(1)!.value) === 'released', { timeoutMs: 30_000, what: 'released' });
        await waitFor(async () => !existsSync(worktree), { timeoutMs: 30_000, what: 'worktree removed' });
        await waitFor(async () => (await taskDirs()).length === 0, { timeoutMs: 30_000, what: 'task files removed' });
        await waitFor(async () => (await processesIn(worktree)).length === 0, { timeoutMs: 30_000, what: 'agent stopped' });
        expect(test.orchestra.resources.workflow!.snapshot(1)!.context.reason).toMatch(/closed|label|trust/);
      } finally {
        await test.stop();
      }
    });
  }
});
