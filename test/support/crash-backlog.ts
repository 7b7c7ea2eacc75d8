/**
 * The demo backlog run by `up --once` and killed along the way (test/workflow/crash-*.test.ts):
 * how far it got, its config, and the check that every side effect happened once.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { repoRoot, type TempDir } from './cli.ts';

export async function dispatchedSoFar(dataDir: string): Promise<number> {
  const text = await readFile(join(dataDir, 'logs', 'orchestra.log'), 'utf8').catch(() => '');
  return text.split('\n').filter((line) => line.includes('"msg":"stage dispatched"')).length;
}

/** One done comment, the done label alone and one pull request per issue of the demo backlog. */
export async function expectEachSideEffectOnce(dataDir: string): Promise<void> {
  const pulls = JSON.parse(await readFile(join(dataDir, 'tracker', 'pulls.json'), 'utf8')) as Array<{ issue: number }>;
  // The demo backlog's issues the orchestra works (#13 has no trigger label).
  for (const number of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 15, 16]) {
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

/** The demo backlog's config, its panes on the tmux server `socket`. */
export async function backlogConfig(dir: TempDir, socket: string, name: string, dataDir: string): Promise<string> {
  return dir.file(
    `${name}.yaml`,
    [
      `dataDir: ${dataDir}`,
      'http: { enabled: false }',
      `issues: { local: { dir: ${join(repoRoot, 'examples/backlog')}, pollIntervalMs: 500 } }`,
      `panes: { backend: tmux, socket: ${socket} }`,
      'workflow: { retry: { initialDelayMs: 200 } }',
    ].join('\n'),
  );
}
