/**
 * Volume under a descriptor limit (issue #15): a thousand local issues under systemd's default
 * soft limit of 1,024 descriptors crashed the orchestrator (`spawn tmux EMFILE`, then a crash
 * loop). Here the real CLI works a whole local backlog to the end with `up --once` under
 * `ulimit -n` (its children — nats-server, runners, agents — inherit it), a one-stage route and a
 * trivial agent so the time goes to the orchestra, not the agents. CI size: 80 issues under 80
 * descriptors (one per issue, a worse ratio than 1,000 under 1,024; the report's orchestrator died
 * with 100 issues under 1,024), about a minute on a loaded 2-core machine: 300 issues take four.
 * Full size: `npm run test:volume` (MIYABI_VOLUME_ISSUES=1000 MIYABI_VOLUME_FDS=1024).
 */
import { execa } from 'execa';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cliPath, repoRoot, tempDir, type TempDir } from '../support/cli.ts';
import { gitRepo } from '../support/orchestra.ts';
import { waitFor } from '../support/wait.ts';

const ISSUES = Number(process.env.MIYABI_VOLUME_ISSUES ?? 80);
const FDS = Number(process.env.MIYABI_VOLUME_FDS ?? 80);
/** Room for the run: about a second per issue on a loaded 2-core machine, never under 10 minutes. */
const RUN_TIMEOUT_MS = Math.max(600_000, ISSUES * 2_000);

let dir: TempDir | undefined;
afterEach(async () => {
  await dir?.[Symbol.asyncDispose]();
  dir = undefined;
});

describe(`${ISSUES} local issues under ulimit -n ${FDS}`, () => {
  it('up --once works every one of them to done, no EMFILE anywhere', async () => {
    dir = await tempDir('miyabi-fd-volume-');
    const issues = join(dir.path, 'issues');
    const repo = join(dir.path, 'repo');
    const dataDir = join(dir.path, 'data');
    await mkdir(issues);
    await mkdir(repo);
    await gitRepo(repo);
    for (let number = 1; number <= ISSUES; number += 1) {
      await writeFile(join(issues, `${number}.md`), `---\nnumber: ${number}\ntitle: Volume ${number}\nlabels: [miyabi]\n---\nWrite it down.\n`);
    }
    const config = await dir.file(
      'c.yaml',
      JSON.stringify({
        dataDir,
        http: { enabled: false },
        issues: { local: { dir: issues, pollIntervalMs: 500 } },
        panes: { backend: 'process' },
        workspace: { repo, taskFilesRetentionHours: 0 },
        agents: { codegen: { command: ['node', join(repoRoot, 'test/support/agents/codegen.mjs'), 'plain'], min: 4, max: 4 } },
        workflow: { defaultRoute: ['codegen'], ci: { command: [] }, retry: { initialDelayMs: 200 } },
      }),
    );
    // The limit set by the shell the CLI then becomes (exec), as systemd's LimitNOFILE would.
    const up = execa('sh', ['-c', `ulimit -n ${FDS} && exec "$0" up --once --config "$1"`, cliPath, config], { cwd: repoRoot, reject: false, timeout: RUN_TIMEOUT_MS });
    const logFile = join(dataDir, 'logs', 'orchestra.log');
    // Once the orchestra logs, the shell is the orchestrator: its limit is the one it works under.
    const limits = await waitFor(async () => ((await readFile(logFile, 'utf8').catch(() => '')) ? readFile(`/proc/${up.pid}/limits`, 'utf8') : undefined), {
      timeoutMs: 60_000,
      what: 'the orchestrator started',
    });
    expect(limits).toMatch(new RegExp(`Max open files\\s+${FDS}\\s`));
    const run = await up;
    const output = `${String(run.stdout)}\n${String(run.stderr)}`;
    const log = await readFile(logFile, 'utf8');
    expect(output.includes('EMFILE') || log.includes('EMFILE'), 'EMFILE in the output or the log').toBe(false);
    expect(run.exitCode, output.slice(-3000)).toBe(0);
    const done = new Set(log.split('\n').filter((line) => line.includes('"msg":"issue done"')).map((line) => (JSON.parse(line) as { issue: number }).issue));
    expect(done.size).toBe(ISSUES);
  }, RUN_TIMEOUT_MS + 60_000);
});
