/** `config check` as an operator runs it: exit 0, or exit 2 with one line per problem and its path. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, runCli, tempDir, type TempDir } from '../support/cli.ts';

let dir: TempDir;
beforeAll(async () => {
  dir = await tempDir();
});
afterAll(async () => {
  await dir[Symbol.asyncDispose]();
});

describe('config check', { timeout: 60_000 }, () => {
  it('accepts the shipped embedded default', async () => {
    const result = await runCli(['config', 'check']);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/config OK: .*config\/miyabi\.yaml \(embedded default\)/);
  });

  it("accepts README's GitHub example as written, real agents and all, once its secrets are set", async () => {
    const readme = await readFile(join(repoRoot, 'README.md'), 'utf8');
    const example = /^## On GitHub\n[\s\S]*?^```yaml\n([\s\S]*?)^```/m.exec(readme);
    expect(example, 'a yaml block under "## On GitHub"').not.toBeNull();
    expect(example![1]).toContain('claude-code.sh');
    const path = await dir.file('readme-github.yaml', example![1]!);
    const env = { GITHUB_TOKEN: 'token', GITHUB_WEBHOOK_SECRET: 'secret', ANTHROPIC_API_KEY: 'key' };
    const result = await runCli(['config', 'check', '--config', path], { env });
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain(`config OK: ${path}`);
    expect(result.exitCode).toBe(0);
  });

  it('accepts a good file', async () => {
    const path = await dir.file('good.yaml', `dataDir: /tmp/miyabi-good\nhttp:\n  port: 0\nissues:\n  local:\n    dir: ${dir.path}\n`);
    const result = await runCli(['config', 'check', '--config', path]);
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
  });

  it('refuses each config that cannot work, naming its path', async () => {
    const local = `issues:\n  local:\n    dir: ${dir.path}\n`;
    const cases: Array<[string, string, RegExp]> = [
      ['route', `${local}workflow:\n  routes:\n    - { label: "type:docs", stages: [docs, pr, merge] }\n`, /^workflow\.routes\.0\.stages\.0: stage "docs" is run by role "docs", which is not in agents/m],
      ['stage-role', `${local}workflow:\n  stageRoles: { review: reviewer }\n`, /^workflow\.defaultRoute\.1: stage "review" is run by role "reviewer" \(workflow\.stageRoles\.review\)/m],
      ['extra', `${local}workflow:\n  extraStages: [{ label: audit, stage: audit }]\n`, /^workflow\.extraStages\.0\.stage: stage "audit"/m],
      ['no-dir', 'issues:\n  local:\n    dir: nowhere\n', /^issues\.local\.dir: .*nowhere.*(ENOENT|no such file)/m],
      ['program', `${local}agents:\n  codegen: { command: [/nonexistent/agent-cli] }\n  review: { command: [node, x.mjs] }\n  pr: { command: [node, x.mjs] }\n  deploy: { command: [node, x.mjs] }\n`, /^agents\.codegen\.command: .*\/nonexistent\/agent-cli/m],
      ['retry', `${local}workflow:\n  retry: { initialDelayMs: 5000, maxDelayMs: 1000 }\n`, /^workflow\.retry\.initialDelayMs: must be <= maxDelayMs \(1000\)/m],
      ['budget', `${local}budget:\n  task: { usd: 5 }\n  daily: { usd: 2 }\n`, /^budget\.task\.usd: 5 is above budget\.daily\.usd \(2\)/m],
      ['budget-role', `${local}budget:\n  task: { wallClockMs: 600000 }\n  daily: { roles: { review: { wallClockMs: 60000 } } }\n`, /^budget\.task\.wallClockMs: 600000 is above budget\.daily\.roles\.review\.wallClockMs \(60000\)/m],
    ];
    for (const [name, text, expected] of cases) {
      const result = await runCli(['config', 'check', '--config', await dir.file(`${name}.yaml`, text)]);
      expect({ name, exitCode: result.exitCode }).toEqual({ name, exitCode: 2 });
      expect(result.stderr).toMatch(expected);
    }
  });

  it("names a dependency file's bad line", async () => {
    const deps = await dir.file('deps.yaml', '12: [3]\n13: [x]\n');
    const path = await dir.file('deps-config.yaml', `issues:\n  local:\n    dir: ${dir.path}\nworkflow:\n  dependenciesFile: ${deps}\n`);
    const result = await runCli(['config', 'check', '--config', path]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/deps\.yaml:2:\d+: .*#13/);
  });

  it('passes a dependency file naming an issue of another repository, with a warning naming the line', async () => {
    const deps = await dir.file('foreign-deps.yaml', '12: [3, other/repo#5]\n');
    const path = await dir.file('foreign-config.yaml', `issues:\n  local:\n    dir: ${dir.path}\nworkflow:\n  dependenciesFile: ${deps}\n`);
    const result = await runCli(['config', 'check', '--config', path]);
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toMatch(/^warning: .*foreign-deps\.yaml:1:9: other\/repo#5 in the dependencies of #12 is an issue of another repository: ignored$/m);
  });

  it('names the line of malformed YAML', async () => {
    const path = await dir.file('broken.yaml', 'http:\n  port: 1\n  host: [unclosed\nlog: {}\n');
    const result = await runCli(['config', 'check', '--config', path]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/line \d+/);
  });

  it('prints every wrong type and unknown key with its path, one per line', async () => {
    const path = await dir.file(
      'wrong.yaml',
      ['agents:', '  codegen:', '    displayName: Kaede', '    command: "claude -p do-it"', 'htpp:', '  port: 1', 'bus:', '  maxDeliver: "five"', ''].join('\n'),
    );
    const result = await runCli(['config', 'check', '--config', path]);
    expect(result.exitCode).toBe(2);
    const lines = result.stderr.split('\n');
    expect(lines.some((line) => line.startsWith('agents.codegen.command: expected array, received string'))).toBe(true);
    expect(lines.some((line) => line.includes('htpp'))).toBe(true);
    expect(lines.some((line) => line.startsWith('bus.maxDeliver:'))).toBe(true);
  });

  it('exits 2 for a file that does not exist', async () => {
    const result = await runCli(['config', 'check', '--config', '/nonexistent/miyabi.yaml']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('/nonexistent/miyabi.yaml');
  });

  it('refuses an unknown flag with exit 2', async () => {
    const result = await runCli(['config', 'check', '--confg', 'x']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('--confg');
  });
});
