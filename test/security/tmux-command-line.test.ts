/**
 * No secret on a command line, with agents in tmux: a key a role passes to its agents
 * (`agents.<role>.env`) is in the environment the tmux server starts with, so a pane's
 * `-e NAME=value` holds only what differs (ids and paths). Any local user can read every
 * process's command line (`ps`, /proc/<pid>/cmdline); here the test does, for every process on
 * the host, while the agent runs, and reads every command line the orchestra gave tmux (a tmux
 * client lives a moment: a look at one instant would miss it) through a `tmux` first on the PATH
 * that writes its arguments down and runs the real one. The agent still has the key.
 */
import { execa } from 'execa';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, tempDir, type TempDir } from '../support/cli.ts';
import { issue, startTestOrchestra, waitAgentReady, type TestOrchestra } from '../support/orchestra.ts';
import { listProcesses } from '../support/processes.ts';
import { waitFor } from '../support/wait.ts';

const KEY_ENV = 'MIYABI_TEST_PANE_KEY';
const PLANTED = 'sk-tmux-argv-5e0c8a1f9b2d4e73';
const fixture = join(repoRoot, 'test/security/fixtures/gated-agent.sh');

/** Every other process's command line now, its arguments joined by spaces (this one's was set before the key was). */
async function commandLines(): Promise<string[]> {
  return (await listProcesses()).map((info) => info.argv.join(' '));
}

describe('no secret on a command line, agents in tmux', { timeout: 90_000 }, () => {
  let dir: TempDir;
  let test: TestOrchestra;
  const path = process.env.PATH;
  beforeAll(async () => {
    dir = await tempDir('miyabi-tmux-argv-');
    const realTmux = (await execa('sh', ['-c', 'command -v tmux'])).stdout.trim();
    const bin = join(dir.path, 'bin');
    await execa('mkdir', [bin]);
    // Each call's arguments on one line of the log, then the real tmux with them.
    await writeFile(join(bin, 'tmux'), `#!/bin/sh\nprintf '%s ' "$@" >> '${join(dir.path, 'tmux-argv.log')}'\necho >> '${join(dir.path, 'tmux-argv.log')}'\nexec '${realTmux}' "$@"\n`);
    await chmod(join(bin, 'tmux'), 0o755);
    process.env.PATH = `${bin}:${path}`;
    process.env[KEY_ENV] = PLANTED;
    await execa('mkfifo', [join(dir.path, 'gate')]);
  });
  afterAll(async () => {
    await test?.stop();
    process.env.PATH = path;
    delete process.env[KEY_ENV];
    await dir?.[Symbol.asyncDispose]();
  });

  it("a role's key is on no process's command line while its agent runs in a pane, and the agent has it", async () => {
    const seen = join(dir.path, 'seen');
    const agent = { command: [fixture, KEY_ENV, seen, join(dir.path, 'gate')], env: [KEY_ENV], min: 1, max: 1, taskTimeoutMs: 60_000 };
    test = await startTestOrchestra({ backend: 'tmux', agents: { codegen: agent } });
    await waitAgentReady(test, 'codegen', 'codegen-1');
    const taskId = await test.dispatch('codegen', { issue: issue(1) });
    const received = await waitFor(() => readFile(seen, 'utf8').catch(() => undefined), { timeoutMs: 30_000, what: 'the agent running' });

    const running = await commandLines();
    // The look sees the orchestra's processes: the agent (in its sandbox too) and its runner.
    expect(running.some((line) => line.includes(fixture))).toBe(true);
    expect(running.some((line) => line.includes('pane --agent codegen-1'))).toBe(true);
    expect(running.filter((line) => line.includes(PLANTED))).toEqual([]);
    const tmuxCalls = (await readFile(join(dir.path, 'tmux-argv.log'), 'utf8')).split('\n');
    // The pane was started through this tmux, with what differs from the server's environment.
    expect(tmuxCalls.some((line) => line.includes('MIYABI_AGENT_ID=codegen-1'))).toBe(true);
    expect(tmuxCalls.filter((line) => line.includes(PLANTED))).toEqual([]);

    expect(received.trim()).toBe(PLANTED);
    await writeFile(join(dir.path, 'gate'), 'go\n');
    expect(await test.result(taskId)).toMatchObject({ status: 'success', summary: 'let go' });
  });
});
