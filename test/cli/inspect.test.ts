/**
 * `machines` (offline, from the definitions) and `inspect --issue N` against a running
 * orchestra: the issue's recorded transitions, in order, from the MIYABI_INSPECT stream.
 */
import { execa } from 'execa';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exampleAgentsConfig, runCli, startUp, tempDir, waitLogged } from '../support/cli.ts';
import { localBacklog } from '../support/orchestra.ts';
import { waitFor } from '../support/wait.ts';

const dir = await tempDir('miyabi-inspect-cli-');
const socket = `miyabi-inspect-${process.pid}`;
afterAll(async () => {
  await execa('tmux', ['-L', socket, 'kill-server'], { reject: false });
  await dir[Symbol.asyncDispose]();
});

describe('machines', () => {
  it('prints every machine as mermaid, offline, and one as JSON', async () => {
    const mermaid = await runCli(['machines', '--config', join(dir.path, 'absent.yaml')]);
    expect(mermaid.exitCode, mermaid.stderr).toBe(0);
    for (const id of ['agent-pane', 'health-monitor', 'issue-lifecycle', 'issue-watcher']) expect(mermaid.stdout).toContain(`%% ${id}\nstateDiagram-v2\n`);
    expect(mermaid.stdout).toContain('agent_pane__alive__spawning --> agent_pane__failed : after spawnDeadline');
    const json = await runCli(['machines', '--format', 'json', '--machine', 'issue-lifecycle']);
    expect(json.exitCode, json.stderr).toBe(0);
    const body = JSON.parse(json.stdout) as { machines: Array<{ id: string }> };
    expect(body.machines.map((machine) => machine.id)).toEqual(['issue-lifecycle']);
    const bad = await runCli(['machines', '--format', 'svg']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('--format must be mermaid or json');
  });
});

describe('inspect on a running orchestra', { timeout: 120_000 }, () => {
  it("prints an issue's transitions in order", async () => {
    await localBacklog(dir, [1, 2], '[miyabi]');
    const config = await exampleAgentsConfig(dir, socket, { workflow: { defaultRoute: ['codegen'] } });
    const up = startUp(['--config', config]);
    try {
      await waitLogged(join(dir.path, 'data'), 'issue done', 2, 90_000);
      await waitFor(async () => {
        const shown = await runCli(['issues', '--json', '--config', config]);
        const rows = shown.exitCode === 0 ? (JSON.parse(shown.stdout) as Array<{ state: string }>) : [];
        return rows.length === 2 && rows.every((row) => row.state === 'done');
      }, { timeoutMs: 90_000, what: 'two issues done' });
      const shown = await runCli(['inspect', '--issue', '2', '--count', '3', '--config', config]);
      expect(shown.exitCode, shown.stderr).toBe(0);
      const lines = shown.stdout.trim().split('\n');
      expect(lines).toHaveLength(3);
      expect(lines[0]).toMatch(/ issue\/2 deps\.ready: discovered → queued stage=codegen attempt=1$/);
      expect(lines[1]).toMatch(/ issue\/2 stage\.dispatch: queued → running stage=codegen attempt=1$/);
      expect(lines[2]).toMatch(/ issue\/2 stage\.result: running → done stage=codegen attempt=1 agent=codegen-1$/);
      const json = await runCli(['inspect', '--issue', '2', '--count', '1', '--json', '--config', config]);
      expect(JSON.parse(json.stdout)).toMatchObject({ kind: 'issue', actor: 'issue/2', issue: { number: 2 } });
    } finally {
      up.kill('SIGTERM');
      await up.catch(() => undefined);
    }
  });
});
