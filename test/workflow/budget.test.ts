/**
 * Budgets on a real orchestra (embedded nats-server, headless runners, local issues, a fixture
 * agent that reports what its issue says it cost, test/workflow/fixtures/costly-agent.mjs):
 * a task's wall-clock cap kills a sleeping agent and fails the task with budget_exceeded; a cost
 * that is not a number is ignored with a warning and the wall-clock still counted; the day's
 * spend survives a restart and shows in `status` and /metrics; past a share of the daily budget
 * P3 waits, then everything but P0, each issue held back labelled `miyabi:budget-hold`; at 100 %
 * dispatch pauses with an alert; `budget resume` lets the waiting work go, each held issue
 * released once; an issue past its own cap fails with budget_exceeded; a run whose runner is
 * killed mid-task is counted all the same.
 */
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { processAlive } from '../../src/infra/os/process.ts';
import { runnerLogFile } from '../../src/runner/runner-log.ts';
import { CONTROL_SUBJECTS, type BudgetReply, type StatusReply } from '../../src/actors/control-subjects.ts';
import { formatBudget } from '../../src/cli/output.ts';
import { BudgetOrchestra } from '../support/budget-orchestra.ts';
import { repoRoot, tempDir, type TempDir } from '../support/cli.ts';
import { gitRepo } from '../support/orchestra.ts';
import { waitFor } from '../support/wait.ts';

let dir: TempDir;
let dataDir: string;
let issuesDir: string;
let run: BudgetOrchestra;
const WALL_CLOCK_CAP_MS = 3_000;

const workflow = () => run.workflow();
const state = (number: number) => run.state(number);
const addIssue = (spec: Parameters<BudgetOrchestra['addIssue']>[0]) => run.addIssue(spec);
const budget = () => run.budget();
const waitForState = (number: number, expected: string) => run.waitForState(number, expected);
const heldInQueue = (number: number) => run.heldInQueue(number);
const control = <T>(subject: string) => run.control<T>(subject);
const metrics = () => run.metrics();
const labels = async (number: number) => (await run.orchestra!.resources.issueSource!.get(number))?.labels ?? [];

beforeAll(async () => {
  dir = await tempDir('miyabi-budget-');
  const repo = join(dir.path, 'repo');
  await mkdir(repo);
  await gitRepo(repo);
  dataDir = join(dir.path, 'data');
  issuesDir = join(dir.path, 'issues');
  await mkdir(issuesDir);
  const configPath = await dir.file(
    'miyabi.yaml',
    stringify({
      dataDir,
      http: { enabled: true, port: 0 },
      log: { level: 'debug', file: true },
      panes: { backend: 'process', spareRunners: false, heartbeatIntervalMs: 500 },
      workspace: { repo },
      workflow: { defaultRoute: ['codegen'] },
      issues: { local: { dir: issuesDir, pollIntervalMs: 300 } },
      health: { checkIntervalMs: 300 },
      // Out of the sandbox: the test reads the agent's own pid from its task directory, and a
      // sandboxed agent sees only a pid of its PID namespace.
      agents: { codegen: { command: ['node', join(repoRoot, 'test/workflow/fixtures/costly-agent.mjs')], min: 1, max: 1, isolation: { sandbox: 'off' } } },
      budget: {
        task: { wallClockMs: WALL_CLOCK_CAP_MS },
        issue: { usd: 6.5 },
        daily: { usd: 10 },
        admission: [
          { share: 0.5, maxPriority: 2 },
          { share: 0.8, maxPriority: 0 },
        ],
      },
    }),
  );
  run = new BudgetOrchestra({ configPath, dataDir, issuesDir });
  await run.start();
}, 60_000);

afterAll(async () => {
  await run?.stop();
  await dir?.[Symbol.asyncDispose]();
});

describe('budgets', { timeout: 120_000 }, () => {
  it("a task's wall-clock cap stops its agent: the process is killed, the task fails with budget_exceeded, not retried", async () => {
    await addIssue({ number: 1, body: 'sleep' });
    await waitForState(1, 'failed');
    const { context } = workflow()!.snapshot(1);
    expect(context.reason).toMatch(new RegExp(`budget_exceeded: the task's wall-clock cap of ${WALL_CLOCK_CAP_MS} ms was reached; the agent was stopped`));
    expect(context.history.filter((run) => run.stage === 'codegen')).toHaveLength(1);
    const [taskDir] = (await readdir(join(dataDir, 'tasks'))).filter((name) => name.startsWith('issue-1.'));
    const pid = Number((await readFile(join(dataDir, 'tasks', taskDir!, 'agent.pid'), 'utf8')).trim());
    expect(pid).toBeGreaterThan(0);
    expect(processAlive(pid)).toBe(false);
    expect(budget().roles.codegen).toMatchObject({ tasks: 1, usd: 0 });
    expect(budget().roles.codegen!.wallClockMs).toBeGreaterThanOrEqual(WALL_CLOCK_CAP_MS);
  });

  it('a cost field that is not a number is ignored with a warning; the answer stands and its wall-clock is counted', async () => {
    const before = budget().roles.codegen!;
    await addIssue({ number: 2, body: 'cost: {"usd": "lots", "outputTokens": 40}' });
    await waitForState(2, 'done');
    const after = budget().roles.codegen!;
    expect(after).toMatchObject({ tasks: 2, usd: 0, outputTokens: 40 });
    expect(after.wallClockMs).toBeGreaterThan(before.wallClockMs);
    const log = (await readFile(runnerLogFile(dataDir, 'codegen-1'), 'utf8')).split('\n').filter(Boolean).map((line) => JSON.parse(line) as { msg: string; warnings?: string[] });
    expect(log.find((line) => line.msg === 'result file cost ignored in part; wall-clock counted')?.warnings).toEqual(['cost.usd: expected a non-negative number, got "lots"; ignored']);
  });

  it("the day's spend survives a restart, and shows in status and /metrics", async () => {
    await addIssue({ number: 3, body: 'cost: {"usd": 6}' });
    await waitForState(3, 'done');
    await run.orchestra!.resources.budget!.flush();
    await run.stop();
    await run.start();
    await waitFor(() => run.orchestra!.resources.budget, { what: 'the budget ledger' });
    expect(budget().total).toMatchObject({ usd: 6, tasks: 3 });
    expect(budget().admission).toEqual({ share: 0.6, maxPriority: 2 });
    expect((await control<StatusReply>(CONTROL_SUBJECTS.status)).budget?.total.usd).toBe(6);
    const text = await waitFor(async () => {
      const scraped = await metrics();
      return /miyabi_budget_spent\{role="codegen",measure="usd"\} 6\b/.test(scraped) ? scraped : undefined;
    }, { what: 'the spend in /metrics' });
    expect(text).toMatch(/^miyabi_budget_daily_share 0\.6$/m);
    expect(text).toMatch(/^miyabi_budget_admitted_priority 2$/m);
    expect(text).toMatch(/^miyabi_agent_wall_clock_seconds_total\{role="codegen"\} /m);
  });

  it('admission control: past the first share P3 waits while P2 goes; past the second only P0 goes; the issues held back say so', async () => {
    await addIssue({ number: 4, labels: ['P3'] });
    await heldInQueue(4);
    await workflow()!.flush();
    expect(await labels(4)).toContain('miyabi:budget-hold');
    expect(await labels(4)).not.toContain('miyabi:pending');
    await addIssue({ number: 5, labels: ['P2'], body: 'cost: {"usd": 2.5}' });
    await waitForState(5, 'done');
    await heldInQueue(4);
    expect(budget().admission).toEqual({ share: 0.85, maxPriority: 0 });
    await addIssue({ number: 6, labels: ['P1'] });
    await heldInQueue(6);
    await addIssue({ number: 7, labels: ['P0'], body: 'cost: {"usd": 2}' });
    await waitForState(7, 'done');
    expect(state(4)).toBe('queued');
    expect(state(6)).toBe('queued');
    // Still held, and labelled so, while the P0 went.
    await workflow()!.flush();
    for (const number of [4, 6]) expect(await labels(number)).toContain('miyabi:budget-hold');
  });

  it('at 100 % dispatch pauses, even for P0, and the health monitor alerts', async () => {
    expect(budget().admission.paused).toMatch(/^daily budget used up \(usd 10\.50 of 10\.00\)/);
    await addIssue({ number: 8, labels: ['P0'] });
    await heldInQueue(8);
    // The issue says why it waits (budget.atLimit is finish here: the agents at work were let finish).
    await workflow()!.flush();
    expect(await labels(8)).toContain('miyabi:budget-hold');
    expect(await labels(8)).not.toContain('miyabi:pending');
    const report = await waitFor(() => run.orchestra!.resources.lastHealth?.findings?.find((finding) => finding.kind === 'budget_exhausted'), { what: 'the budget_exhausted finding' });
    expect(report).toMatchObject({ severity: 'critical', subject: 'budget' });
    // The gauge follows the admission at its next update: wait for it rather than race it.
    await waitFor(async () => /^miyabi_budget_admitted_priority -1$/m.test(await metrics()), { what: 'miyabi_budget_admitted_priority -1 in /metrics' });
    const status = await control<StatusReply>(CONTROL_SUBJECTS.status);
    expect(formatBudget(status.budget!)).toMatch(/^budget day \d{4}-\d\d-\d\d: 105 % of the daily budget used; dispatch paused: daily budget used up/);
  });

  it('`budget resume` lets the waiting work go for the rest of the budget day', async () => {
    const resumed = await control<BudgetReply>(CONTROL_SUBJECTS.budgetResume);
    expect(resumed).toMatchObject({ ok: true, budget: { resumed: true, admission: { share: 1.05 } } });
    for (const number of [8, 6, 4]) await waitForState(number, 'done');
    expect(budget().resumed).toBe(true);
    await workflow()!.flush();
    for (const number of [8, 6, 4]) expect(await labels(number)).not.toContain('miyabi:budget-hold');
    // Held once (by its priority, then still when dispatch paused: no second label), released once
    // (its label `pending` again) before it went.
    const budgetSteps = (number: number) => run.steps(number).filter((event) => event.startsWith('budget.') || event === 'stage.dispatch');
    for (const number of [8, 6, 4]) expect(budgetSteps(number)).toEqual(['budget.hold', 'budget.release', 'stage.dispatch']);
  });

  it('an issue whose spend reaches its cap fails with budget_exceeded, whatever its agent said', async () => {
    await addIssue({ number: 9, body: 'cost: {"usd": 7}' });
    await waitForState(9, 'failed');
    const { context } = workflow()!.snapshot(9);
    expect(context.reason).toMatch(/budget_exceeded: the issue's cap was reached \(usd 7\.00 of 6\.50\)/);
    expect(context.history.filter((run) => run.stage === 'codegen')).toHaveLength(1);
  });

  it('a run whose runner is killed mid-task is counted: the cost it said so far, and its wall-clock', async () => {
    const before = budget().roles.codegen!;
    await addIssue({ number: 10, body: 'sleep once\nrunning cost: {"usd": 0.5, "inputTokens": 7}' });
    const agentPid = await waitFor(async () => {
      const [taskDir] = (await readdir(join(dataDir, 'tasks')).catch(() => [] as string[])).filter((name) => name.startsWith('issue-10.'));
      return taskDir && (await readFile(join(dataDir, 'tasks', taskDir, 'agent.pid'), 'utf8').catch(() => undefined));
    }, { what: "the first run's agent sleeping" });
    const runnerPid = Number(await readFile(join(dataDir, 'runners', 'codegen-1.pid'), 'utf8'));
    process.kill(runnerPid, 'SIGKILL');
    await waitForState(10, 'done');
    expect(processAlive(Number(agentPid))).toBe(false);
    const after = budget().roles.codegen!;
    // Two runs: the one killed with its runner (usd 0.5 so far) and the one that answered (no cost).
    expect(after.tasks - before.tasks).toBe(2);
    expect(after.usd - before.usd).toBeCloseTo(0.5);
    expect(after.inputTokens - before.inputTokens).toBe(7);
    expect(after.wallClockMs).toBeGreaterThan(before.wallClockMs);
  });
});
