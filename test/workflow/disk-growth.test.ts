import type { KV } from '@nats-io/kv';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startTestOrchestra } from '../support/orchestra.ts';
import { bytesUnder } from '../support/run-records.ts';
import { waitFor } from '../support/wait.ts';

const repoRoot = join(import.meta.dirname, '..', '..');

/**
 * The data directory's growth per finished issue once retention has run, under this bound
 * (docs/OPERATIONS.md "What is kept"): what stays of an issue for good is its compacted record,
 * its events and tasks until the streams' age limit, its log lines until rotation, and its
 * tracker write-back.
 */
export const GROWTH_PER_ISSUE_BOUND = 64 * 1024;

/** 300 with `npm run test:growth` (MIYABI_GROWTH_ISSUES=300); fewer by default, to keep the suite fast. */
const ISSUES = Number(process.env.MIYABI_GROWTH_ISSUES ?? 20);

async function countKeys(kv: KV, filter: string): Promise<number> {
  let count = 0;
  for await (const _key of await kv.keys(filter)) count += 1;
  return count;
}

describe('bounded disk', () => {
  it(`${ISSUES} issues grow the data directory by less than ${GROWTH_PER_ISSUE_BOUND / 1024} KiB each once retention ran`, { timeout: 60_000 + ISSUES * 3_000 }, async () => {
    const test = await startTestOrchestra({
      backend: 'process',
      agents: { codegen: { command: ['node', join(repoRoot, 'examples/agents/codegen.mjs')], min: 1, max: 4 } },
      config: {
        log: { level: 'info', file: true },
        workflow: { defaultRoute: ['codegen'] },
        workspace: { taskFilesRetentionHours: 0 },
        retention: { days: 0, sweepIntervalMs: 1_000 },
      },
    });
    try {
      const { resources } = test.orchestra;
      const workflow = () => resources.workflow!;
      const sizes = async () => Object.fromEntries(await Promise.all((await readdir(test.dataDir)).map(async (name) => [name, await bytesUnder(join(test.dataDir, name))] as const)));
      const before = await bytesUnder(test.dataDir);
      const partsBefore = await sizes();
      const issuesDir = resources.config.issues.local.dir;
      for (let n = 1; n <= ISSUES; n++) {
        await writeFile(join(issuesDir, `${n}.md`), `---\nnumber: ${n}\ntitle: Issue ${n}\nlabels: [miyabi]\n---\nDo ${n}.\n`);
      }
      const numbers = Array.from({ length: ISSUES }, (_, index) => index + 1);
      await waitFor(() => numbers.every((n) => String(workflow().snapshot(n)?.value) === 'done'), {
        timeoutMs: ISSUES * 3_000,
        intervalMs: 200,
        what: `all ${ISSUES} issues done`,
      });
      const kv = await resources.bus!.kv();
      await waitFor(async () => (await countKeys(kv, 'effect.>')) + (await countKeys(kv, 'cache.>')) === 0, { timeoutMs: 30_000, what: 'retention swept every finished issue' });
      await waitFor(async () => (await readdir(join(test.dataDir, 'tasks')).catch(() => [])).length === 0, { timeoutMs: 30_000, what: 'task files removed' });
      let worktrees: string[] = [];
      await waitFor(async () => (worktrees = await readdir(join(test.dataDir, 'worktrees')).catch(() => [])).length === 0, {
        timeoutMs: 30_000 + ISSUES * 200,
        what: 'worktrees removed',
      }).catch((error: unknown) => {
        throw new Error(`${String(error)}: ${worktrees.join(', ')}`);
      });
      const perIssue = ((await bytesUnder(test.dataDir)) - before) / ISSUES;
      const partsAfter = await sizes();
      const parts = Object.entries(partsAfter).map(([name, size]) => `${name} ${Math.round((size - (partsBefore[name] ?? 0)) / ISSUES)}`);
      console.info(`data directory growth: ${Math.round(perIssue)} bytes per issue over ${ISSUES} issues (${parts.join(', ')})`);
      expect(perIssue).toBeLessThan(GROWTH_PER_ISSUE_BOUND);
    } finally {
      await test.stop();
    }
  });
});
