/** `dag check`, `dag show` and `labels sync`, run as an operator runs them. */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot, runCli, tempDir } from '../support/cli.ts';
import { startFakeGitHub } from '../support/fake-github.ts';

const dir = await tempDir('miyabi-dag-cli-');
afterAll(() => dir[Symbol.asyncDispose]());

describe('dag and labels commands', { timeout: 60_000 }, () => {
  it('dag check names the cycle of the cycle example and exits 2; the demo backlog is fine', async () => {
    const cycle = await runCli(['dag', 'check', '--config', join(repoRoot, 'examples/cycle.yaml')]);
    expect(cycle.exitCode).toBe(2);
    expect(cycle.stdout).toContain('cycle: #2 → #4 → #3 → #2');
    expect(cycle.stdout).toMatch(/^#3 blocked: on a dependency cycle/m);
    const demo = await runCli(['dag', 'check']);
    expect(demo.exitCode).toBe(0);
    expect(demo.stdout).toContain('15 issue(s) in scope; 15 in dependency order: #1 #2 #3 #4');
  });

  it('dag check exits 1 when an issue depends on one that does not exist', async () => {
    const issues = join(dir.path, 'missing');
    await mkdir(issues, { recursive: true });
    await writeFile(join(issues, '1.md'), '---\nnumber: 1\ntitle: One\nlabels: [miyabi]\n---\nDepends on #42.\n');
    const config = await dir.file('missing.yaml', `dataDir: ${join(dir.path, 'data-missing')}\nissues: { local: { dir: ${issues} } }\n`);
    const result = await runCli(['dag', 'check', '--config', config]);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toContain('#1 blocked: depends on #42, which does not exist');
  });

  it('dag show prints the graph with each issue\'s state as mermaid, dot and json', async () => {
    const mermaid = await runCli(['dag', 'show', '--format', 'mermaid']);
    expect(mermaid.exitCode).toBe(0);
    expect(mermaid.stdout).toMatch(/^flowchart LR/);
    expect(mermaid.stdout).toContain('n7 --> n5');
    expect(mermaid.stdout).toMatch(/n1\["#1 Load settings from a YAML file \(ready\)"\]/);
    const dot = await runCli(['dag', 'show', '--format', 'dot']);
    expect(dot.stdout).toMatch(/^digraph dependencies \{/);
    const json = JSON.parse((await runCli(['dag', 'show', '--format', 'json'])).stdout) as { nodes: Array<{ id: number; label: string; dependsOn: number[] }> };
    expect(json.nodes.find((node) => node.id === 7)).toMatchObject({ dependsOn: [5, 6], label: expect.stringContaining('(waiting)') });
    const bad = await runCli(['dag', 'show', '--format', 'png']);
    expect(bad.exitCode).toBe(2);
  });

  it('labels sync creates the missing labels on GitHub, and nothing the second time', async () => {
    const fake = await startFakeGitHub({ owner: 'acme', repo: 'widgets', token: 't0k3n' });
    try {
      const config = await dir.file(
        'github.yaml',
        [
          'issues:',
          '  source: github',
          `  github: { owner: acme, repo: widgets, baseUrl: "${fake.url}", tokenEnv: LABELS_TOKEN }`,
          // A small label set: GitHub's client spaces writes a second apart.
          'agents: { codegen: { command: [x] } }',
          'workflow: { routes: [{ label: "type:bug", stages: [codegen] }], extraStages: [], priority: { labels: { P0: 0 } } }',
        ].join('\n'),
      );
      const first = await runCli(['labels', 'sync', '--config', config], { env: { LABELS_TOKEN: 't0k3n' } });
      expect(first.exitCode, first.stderr).toBe(0);
      for (const name of ['miyabi', 'miyabi:done', 'miyabi:blocked', 'P0', 'type:bug', 'agent:codegen']) {
        expect(fake.state.labels.has(name.toLowerCase()), name).toBe(true);
      }
      const second = await runCli(['labels', 'sync', '--config', config], { env: { LABELS_TOKEN: 't0k3n' } });
      expect(second.stdout).toMatch(/, 0 created/);
      const noToken = await runCli(['labels', 'sync', '--config', config], { env: { LABELS_TOKEN: '' } });
      expect(noToken.exitCode).toBe(2);
      expect(noToken.stderr).toContain('LABELS_TOKEN');
    } finally {
      await fake.close();
    }
  });
});
