/** `issues` and `dag show` against a running orchestra: what it does with each issue, from its KV bucket. */
import { execa } from 'execa';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exampleAgentsConfig, runCli, startUp, tempDir, waitLogged } from '../support/cli.ts';
import { gitRepo } from '../support/orchestra.ts';
import { waitFor } from '../support/wait.ts';

const dir = await tempDir('miyabi-issues-cli-');
const socket = `miyabi-issues-${process.pid}`;
afterAll(async () => {
  await execa('tmux', ['-L', socket, 'kill-server'], { reject: false });
  await dir[Symbol.asyncDispose]();
});

describe('issues and dag show on a running orchestra', { timeout: 90_000 }, () => {
  it('shows each issue\'s route, state and reason while the orchestra runs', async () => {
    const issues = join(dir.path, 'issues');
    const repo = join(dir.path, 'repo');
    await mkdir(issues);
    await mkdir(repo);
    await gitRepo(repo);
    await writeFile(join(issues, '1.md'), '---\nnumber: 1\ntitle: Docs\nlabels: [miyabi, "type:docs"]\n---\n');
    await writeFile(join(issues, '2.md'), '---\nnumber: 2\ntitle: Needs a ghost\nlabels: [miyabi]\n---\nDepends on #40.\n');
    const config = await exampleAgentsConfig(dir, socket);
    const up = startUp(['--config', config]);
    try {
      const rows = async () => {
        const shown = await runCli(['issues', '--json', '--config', config]);
        return shown.exitCode === 0 ? (JSON.parse(shown.stdout) as Array<{ issue: number; state: string; route: string; reason?: string }>) : [];
      };
      await waitLogged(join(dir.path, 'data'), 'issue done', 1, 60_000);
      await waitFor(async () => (await rows()).find((row) => row.issue === 1)?.state === 'done', { timeoutMs: 60_000, what: '#1 done' });
      const [first, second] = await rows();
      expect(first).toMatchObject({ issue: 1, route: 'codegen → pr → merge', state: 'done' });
      expect(second).toMatchObject({ issue: 2, state: 'blocked', reason: 'depends on #40, which does not exist' });
      const table = await runCli(['issues', '--config', config]);
      expect(table.stdout).toMatch(/^#2\s+codegen → review → pr → merge\s+blocked/m);
      const graph = await runCli(['dag', 'show', '--format', 'mermaid', '--config', config]);
      expect(graph.stdout).toContain('n1["#1 Docs (done)"]');
      expect(graph.stdout).toContain('n2["#2 Needs a ghost (blocked)"]');
    } finally {
      up.kill('SIGTERM');
      await up;
    }
    const stopped = await runCli(['issues', '--config', config]);
    expect(stopped.exitCode).toBe(1);
    expect(stopped.stderr).toContain('no orchestra is running');
  });
});
