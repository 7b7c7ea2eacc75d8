/**
 * The agents' sandbox (`agents.<role>.isolation.sandbox`, src/agents/sandbox.ts): a hostile shell
 * agent run as the orchestra's own user, in a data directory laid out as `up` lays it out (the
 * worktree and the repository inside it), cannot read the NATS seeds, the run file, the marker
 * key, the log or the NATS store, nor signal the orchestra's process, nor overwrite another
 * task's result; it still commits in its worktree and its result is read. Without the sandbox the
 * same agent reads them all (so the agent is able to tell). Cancel and timeout still end it and
 * every process it started, one in a session of its own too. `required` on a host that cannot
 * make the sandbox (here: an `unshare` that is not there) runs nothing, and `up` refuses to start
 * naming the field; `auto` runs without it and says so once. A running orchestra serves a
 * sandboxed agent's task: heartbeats, the result on the bus, the commit on the branch.
 */
import { execa } from 'execa';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AgentIsolation } from '../../src/agents/isolation.ts';
import { runAgent, taskFilesOf } from '../../src/agents/run-agent.ts';
import { probeSandbox } from '../../src/agents/sandbox.ts';
import { configSchema } from '../../src/config/schema.ts';
import { ConfigInvalidError } from '../../src/config/problems.ts';
import { identityFile } from '../../src/infra/nats/identities.ts';
import { markerKey, prepareDataDir, secretsDir } from '../../src/orchestra/installation.ts';
import { natsIdentityDir, prepareNatsAuth } from '../../src/orchestra/nats-auth.ts';
import { runFilePath, writeRunFile } from '../../src/orchestra/run-file.ts';
import { stringify } from 'yaml';
import { runCli, tempDir, type TempDir } from '../support/cli.ts';
import { gitRepo, issue, startTestOrchestra, waitAgentReady, type TestOrchestra } from '../support/orchestra.ts';
import { waitFor } from '../support/wait.ts';

const AGENT = join(import.meta.dirname, 'fixtures', 'hostile-agent.sh');
const MISSING_UNSHARE = '/nonexistent/miyabi-test/unshare';
const probe = await probeSandbox();

/** A data directory as `up` makes it, with the scratch repository and a worktree inside, as in the demo. */
async function layout(dir: TempDir) {
  const dataDir = join(dir.path, 'data');
  const config = configSchema.parse({ dataDir, agents: { codegen: { command: ['true'] } } });
  await prepareDataDir(config);
  await markerKey(dataDir);
  await prepareNatsAuth(config, { repair: true });
  await writeRunFile(dataDir, { pid: process.pid, startedAt: new Date().toISOString(), natsUrl: 'nats://127.0.0.1:4222', configPath: '/etc/miyabi.yaml' });
  await writeFile(join(dataDir, 'logs', 'orchestra.log'), '{"msg":"the orchestra\'s log"}\n');
  await mkdir(join(dataDir, 'nats', 'jetstream'), { recursive: true });
  await writeFile(join(dataDir, 'nats', 'jetstream', 'kv.blk'), 'the workflow state\n');
  const otherResult = join(taskFilesOf(dataDir, 'issue-9.review.1').dir, 'result.json');
  await mkdir(join(otherResult, '..'), { recursive: true });
  await writeFile(otherResult, '{"status":"changes_requested"}\n');
  const repo = join(dataDir, 'scratch-repo');
  await mkdir(repo, { recursive: true });
  await gitRepo(repo);
  const worktree = join(dataDir, 'worktrees', 'issue-7');
  await execa('git', ['worktree', 'add', '-q', '-b', 'miyabi/issue-7', worktree], { cwd: repo });
  const secrets = [
    identityFile(natsIdentityDir(dataDir), 'operator'),
    identityFile(natsIdentityDir(dataDir), 'orchestrator'),
    join(secretsDir(dataDir), 'marker.key'),
    runFilePath(dataDir),
    join(dataDir, 'logs', 'orchestra.log'),
    join(dataDir, 'nats', 'jetstream', 'kv.blk'),
  ];
  return { dataDir, repo, worktree, secrets, otherResult };
}

let taskSeq = 0;

async function runHostile(dir: TempDir, isolation: AgentIsolation, extra: { env?: Record<string, string>; signal?: AbortSignal; taskTimeoutMs?: number; onLine?: (line: string) => void } = {}) {
  const place = await layout(dir);
  const lines: string[] = [];
  taskSeq += 1;
  const run = await runAgent({
    agent: {
      command: [AGENT, String(process.pid), ...place.secrets, place.otherResult],
      taskTimeoutMs: extra.taskTimeoutMs ?? 30_000,
      graceMs: 2_000,
      env: Object.keys(extra.env ?? {}),
      isolation,
    },
    task: {
      taskId: `issue-7.codegen.${taskSeq}`,
      issue: { number: 7, title: 'Add a greeting', body: 'Say hello.', labels: [], author: 'octocat' },
      role: 'codegen',
      stage: 'codegen',
      attempt: 1,
      worktree: place.worktree,
      branch: 'miyabi/issue-7',
      previous: {},
    },
    dataDir: place.dataDir,
    parentEnv: { ...process.env, ...extra.env },
    signal: extra.signal,
    onOutput: (line) => {
      lines.push(line);
      extra.onLine?.(line);
    },
  });
  return { run, lines, ...place };
}

/** Processes whose command line holds `token` (the hanging agent's children are marked with it). */
async function processesMarked(token: string): Promise<number[]> {
  const found: number[] = [];
  for (const pid of (await readdir('/proc')).filter((name) => /^\d+$/.test(name))) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(token)) found.push(Number(pid));
  }
  return found;
}

describe.skipIf(!probe.ok)(`an agent in the sandbox${probe.ok ? '' : ` (skipped: ${probe.reason})`}`, { timeout: 30_000 }, () => {
  afterAll(async () => {
    // Only when the sandbox failed to end them: what the hanging agents of this file left.
    for (const pid of await processesMarked(`1000.${process.pid}`)) process.kill(pid, 'SIGKILL');
  });

  it("cannot read the orchestra's secrets, run file, log or NATS store, nor signal it, nor forge another task's result; it still commits and answers", async () => {
    await using dir = await tempDir('miyabi-sandbox-');
    const { run, lines, secrets, repo, otherResult } = await runHostile(dir, { sandbox: 'required' });
    expect(run.sandboxed).toBe(true);
    expect(run.status, `${run.reason}\n${lines.join('\n')}`).toBe('success');
    expect(lines).toEqual([...[...secrets, otherResult].map((file) => `read ${file}: denied`), 'signal: denied', 'proc root: denied']);
    const head = (await execa('git', ['rev-parse', '--short', 'miyabi/issue-7'], { cwd: repo })).stdout;
    expect(run.summary).toBe(`committed ${head}`);
    expect((await execa('git', ['show', 'miyabi/issue-7:greeting.txt'], { cwd: repo })).stdout).toBe('hello from the agent');
    expect(await readFile(otherResult, 'utf8')).toBe('{"status":"changes_requested"}\n');
  });

  it('without it, the same agent reads every one of them and signals the orchestra', async () => {
    await using dir = await tempDir('miyabi-sandbox-');
    const { run, lines, secrets, otherResult } = await runHostile(dir, { sandbox: 'off' });
    expect(run.sandboxed).toBe(false);
    expect(lines).toEqual([...[...secrets, otherResult].map((file) => `read ${file}: ok`), 'signal: ok', 'proc root: ok']);
    expect(await readFile(otherResult, 'utf8')).toBe('forged\n');
  });

  for (const end of ['cancel', 'timeout'] as const) {
    it(`a ${end} ends the agent and every process it started, one in a session of its own too`, async () => {
      await using dir = await tempDir('miyabi-sandbox-');
      const token = `.${process.pid}${taskSeq}${end === 'cancel' ? 1 : 2}`;
      const abort = new AbortController();
      let started = false;
      const running = runHostile(dir, { sandbox: 'required' }, {
        env: { MIYABI_TEST_HANG: token },
        signal: abort.signal,
        taskTimeoutMs: end === 'timeout' ? 3_000 : 30_000,
        onLine: (line) => {
          if (line === 'hanging') started = true;
        },
      });
      await waitFor(async () => started && (await processesMarked(token)).length === 2, { timeoutMs: 20_000, what: 'the agent and its two children' });
      if (end === 'cancel') abort.abort();
      const { run } = await running;
      expect(run.sandboxed).toBe(true);
      expect(run.status).toBe('retry');
      expect(run.reason).toMatch(end === 'cancel' ? /^cancelled$/ : /^timed out/);
      await waitFor(async () => (await processesMarked(token)).length === 0, { timeoutMs: 10_000, what: 'no process of the agent left' });
    });
  }

  it('an agent killed by a signal is said so, as without the sandbox', async () => {
    await using dir = await tempDir('miyabi-sandbox-');
    await mkdir(join(dir.path, 'wt'), { recursive: true });
    const run = await runAgent({
      agent: { command: ['/bin/sh', '-c', 'kill -KILL $$'], taskTimeoutMs: 20_000, isolation: { sandbox: 'required' } },
      task: { taskId: 'issue-1.codegen.1', issue: { number: 1, title: 't', body: '', labels: [], author: 'a' }, role: 'codegen', stage: 'codegen', attempt: 1, worktree: join(dir.path, 'wt'), branch: 'b', previous: {} },
      dataDir: join(dir.path, 'data'),
    });
    expect(run).toMatchObject({ sandboxed: true, status: 'retry', reason: 'killed by SIGKILL' });
  });
});

describe('on a host that cannot make the sandbox (an unshare that is not there)', { timeout: 30_000 }, () => {
  it('required: the agent does not run, and the task says why', async () => {
    await using dir = await tempDir('miyabi-sandbox-');
    const { run, lines } = await runHostile(dir, { sandbox: 'required', unshare: MISSING_UNSHARE });
    expect(lines).toEqual([]);
    expect(run).toMatchObject({ status: 'failure', code: 'sandbox_unavailable', sandboxed: false });
    expect(run.reason).toContain(`${MISSING_UNSHARE} not found`);
  });

  it('auto: the agent runs without it', async () => {
    await using dir = await tempDir('miyabi-sandbox-');
    const { run, lines } = await runHostile(dir, { sandbox: 'auto', unshare: MISSING_UNSHARE });
    expect(run).toMatchObject({ status: 'success', sandboxed: false });
    expect(lines[0]).toMatch(/: ok$/);
  });

  it('doctor says so: a failed check when a role requires it, a warning when agents run without it', async () => {
    await using dir = await tempDir('miyabi-sandbox-');
    const configOf = (mode: string) =>
      dir.file(`${mode}.yaml`, stringify({ dataDir: join(dir.path, 'data'), agents: { codegen: { command: ['true'], isolation: { sandbox: mode, unshare: MISSING_UNSHARE } } } }));
    const required = await runCli(['doctor', '--config', await configOf('required')]);
    expect(required.exitCode).toBe(1);
    expect(required.stdout).toMatch(new RegExp(`✗ sandbox +not available: ${MISSING_UNSHARE} not found \\(util-linux\\); required by codegen: up refuses to start\n  → allow unprivileged user namespaces`));
    const auto = await runCli(['doctor', '--config', await configOf('auto')]);
    expect(auto.stdout).toMatch(/! sandbox +not available: .* agents run without it \(auto\): they can read the data directory and signal the orchestra\n  → /);
    expect(auto.stdout).not.toMatch(/✗ sandbox/);
  });

  it('required: up refuses to start, naming the field and why', async () => {
    const starting = startTestOrchestra({
      backend: 'process',
      agents: { codegen: { command: [AGENT], isolation: { sandbox: 'required', unshare: MISSING_UNSHARE } } },
    });
    const error = await starting.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigInvalidError);
    expect((error as ConfigInvalidError).problems).toEqual([
      { path: 'agents.codegen.isolation.sandbox', message: expect.stringContaining(`${MISSING_UNSHARE} not found`) },
    ]);
  });
});

describe.skipIf(!probe.ok)('a running orchestra', { timeout: 90_000 }, () => {
  let test: TestOrchestra | undefined;
  afterAll(async () => {
    await test?.stop();
  });

  it('doctor says the host can make it', async () => {
    const doctor = await runCli(['doctor']);
    expect(doctor.stdout).toMatch(/✓ sandbox +available: agents run in user, mount and PID namespaces/);
  });

  it("serves a sandboxed agent's task (heartbeats, its result on the bus, its commit) and says once which roles run without a sandbox", async () => {
    test = await startTestOrchestra({
      backend: 'process',
      agents: {
        codegen: {
          command: [AGENT, String(process.pid), '{taskFile}', '{taskDir}/../../secrets/nats/operator.nk', '{taskDir}/../../orchestra.json'],
          min: 1,
          isolation: { sandbox: 'required' },
        },
        review: { command: ['true'], isolation: { sandbox: 'auto', unshare: MISSING_UNSHARE } },
      },
    });
    await waitAgentReady(test, 'codegen', 'codegen-1');
    const taskId = await test.dispatch('codegen', { issue: issue(3) });
    const result = await test.result(taskId);
    const head = (await execa('git', ['rev-parse', '--short', 'miyabi/issue-3'], { cwd: test.repo })).stdout;
    expect(result).toMatchObject({ status: 'success', summary: `committed ${head}` });
    const log = await readFile(join(test.dataDir, 'logs', 'orchestra.log'), 'utf8');
    const warnings = log.split('\n').filter((line) => line.includes('run WITHOUT a sandbox'));
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0]!)).toMatchObject({ roles: ['review'], reason: `${MISSING_UNSHARE} not found (util-linux)` });
    // Its own task file it read; the orchestra's log says what it tried against the rest.
    const agentLog = (await readdir(join(test.dataDir, 'logs', 'agents'), { recursive: true })).find((name) => name.endsWith('.log'));
    const said = await readFile(join(test.dataDir, 'logs', 'agents', agentLog!), 'utf8');
    expect(said).toMatch(/read \S+task\.json: ok/);
    expect(said).toMatch(/read \S+operator\.nk: denied/);
    expect(said).toMatch(/read \S+orchestra\.json: denied/);
    expect(said).toContain('signal: denied');
  });
});
