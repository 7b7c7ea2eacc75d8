/** A finished issue's task files go after their retention: every `tasks/issue-<n>.*`, and nobody else's. */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeIssueTaskFiles } from '../../src/agents/run-agent.ts';
import { tempDir } from '../support/cli.ts';

const dir = await tempDir('miyabi-task-files-');
afterAll(() => dir[Symbol.asyncDispose]());

describe('removeIssueTaskFiles', () => {
  it("removes each generation, stage and attempt of the issue's tasks, not issue 12's", async () => {
    const names = ['issue-1.g0.codegen.r0.a1', 'issue-1.g0.review.r0.a1', 'issue-1.g1.codegen.r0.q1.a2', 'issue-12.g0.codegen.r0.a1', 'issue-2.g0.codegen.r0.a1'];
    for (const name of names) {
      await mkdir(join(dir.path, 'tasks', name), { recursive: true });
      await writeFile(join(dir.path, 'tasks', name, 'task.json'), '{}');
    }
    // Within the retention nothing goes: every directory was changed after the cutoff.
    expect(await removeIssueTaskFiles(dir.path, 1, { olderThan: Date.now() - 3_600_000 })).toBe(0);
    expect(await removeIssueTaskFiles(dir.path, 1, { olderThan: Date.now() + 1_000 })).toBe(3);
    expect((await readdir(join(dir.path, 'tasks'))).sort()).toEqual(['issue-12.g0.codegen.r0.a1', 'issue-2.g0.codegen.r0.a1']);
    expect(await removeIssueTaskFiles(dir.path, 1)).toBe(0);
    expect(await removeIssueTaskFiles(join(dir.path, 'none'), 3)).toBe(0);
  });
});
