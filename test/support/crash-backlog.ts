/**
 * A part of the demo backlog run by `up --once` and killed along the way
 * (test/workflow/crash-*.test.ts): how far it got, its config, and the check that every side
 * effect happened once. The part keeps a chain (#1 → #2 → #3), a fan-out (#4 → #5, #6), a P0 bug
 * with a deploy stage (#8) and an issue without the trigger label (#13): about 25 stages, half
 * the demo's, so each run of a crash test costs half as much (the whole backlog runs in
 * test/workflow/demo.test.ts).
 */
import { copyFile, mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { repoRoot, type TempDir } from './cli.ts';

export async function dispatchedSoFar(dataDir: string): Promise<number> {
  const text = await readFile(join(dataDir, 'logs', 'orchestra.log'), 'utf8').catch(() => '');
  return text.split('\n').filter((line) => line.includes('"msg":"stage dispatched"')).length;
}

/** One done comment, the done label alone and one pull request per worked issue of the crash backlog. */
export async function expectEachSideEffectOnce(dataDir: string): Promise<void> {
  const pulls = JSON.parse(await readFile(join(dataDir, 'tracker', 'pulls.json'), 'utf8')) as Array<{ issue: number }>;
  for (const number of CRASH_BACKLOG_WORKED) {
    const record = JSON.parse(await readFile(join(dataDir, 'tracker', `issue-${number}.json`), 'utf8')) as {
      comments: Array<{ key: string }>;
      labels: { added: string[] };
    };
    const keys = record.comments.map((comment) => comment.key);
    expect(new Set(keys).size, `#${number} comments ${keys.join(', ')}`).toBe(keys.length);
    expect(keys.filter((key) => key.endsWith('.done'))).toHaveLength(1);
    expect(record.labels.added.filter((label) => label.startsWith('miyabi:'))).toEqual(['miyabi:done']);
    expect(pulls.filter((pull) => pull.issue === number)).toHaveLength(1);
  }
}

/** The issues of the crash backlog the orchestra works: `up --once` ends with these done. */
export const CRASH_BACKLOG_WORKED = [1, 2, 3, 4, 5, 6, 8] as const;
const CRASH_BACKLOG = new Set<number>([...CRASH_BACKLOG_WORKED, 13]);

/** The crash backlog's config (its issue files copied under `dir`), its panes on the tmux server `socket`. */
export async function backlogConfig(dir: TempDir, socket: string, name: string, dataDir: string): Promise<string> {
  const issues = join(dir.path, `${name}-issues`);
  await mkdir(issues, { recursive: true });
  const demo = join(repoRoot, 'examples/backlog');
  for (const file of await readdir(demo)) {
    if (CRASH_BACKLOG.has(Number(file.split('-')[0]))) await copyFile(join(demo, file), join(issues, file));
  }
  return dir.file(
    `${name}.yaml`,
    [
      `dataDir: ${dataDir}`,
      'http: { enabled: false }',
      // A task the killed orchestrator left ack-pending comes back after the ack wait: 10 s rather
      // than the default 30 s, still far above the runners' keep-alive (a third of it).
      'bus: { ackWaitMs: 10000 }',
      `issues: { local: { dir: ${issues}, pollIntervalMs: 500 } }`,
      `panes: { backend: tmux, socket: ${socket} }`,
      'workflow: { retry: { initialDelayMs: 200 } }',
    ].join('\n'),
  );
}
