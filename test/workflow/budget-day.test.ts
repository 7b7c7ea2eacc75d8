/**
 * Budgets over time, on a real orchestra (embedded nats-server, headless runners, local issues,
 * the fixture agent test/workflow/fixtures/costly-agent.mjs) whose budget day runs on a clock
 * of the test's: an agent whose cost so far ($MIYABI_COST_FILE) goes above the task's cap is
 * stopped and its task fails with budget_exceeded; the day at its cap pauses dispatch and, with
 * `budget.atLimit: stop`, stops the agents at work (what they spent so far counted once), their
 * issues held with the state label `miyabi:budget-hold`; the next budget day resumes them with a spend from 0, the day before
 * kept in the KV bucket.
 */
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { processAlive } from '../../src/infra/os/process.ts';
import { budgetDay, type Spend } from '../../src/machines/budget.ts';
import { readDaySpends } from '../../src/workflow/budget-ledger.ts';
import { BudgetOrchestra } from '../support/budget-orchestra.ts';
import { repoRoot, tempDir, type TempDir } from '../support/cli.ts';
import { gitRepo } from '../support/orchestra.ts';
import { waitFor } from '../support/wait.ts';

const DAY_MS = 86_400_000;
let dir: TempDir;
let dataDir: string;
let run: BudgetOrchestra;
/** The budget day's clock: the system's, moved on by the test. */
let clockOffsetMs = 0;
const budgetNow = () => Date.now() + clockOffsetMs;
let dayD: string;

const labels = async (number: number) => (await run.orchestra!.resources.issueSource!.get(number))?.labels ?? [];

/** The pid the fixture agent of an issue's first task wrote before it slept. */
async function agentPid(issue: number): Promise<number> {
  const [taskDir] = (await readdir(join(dataDir, 'tasks'))).filter((name) => name.startsWith(`issue-${issue}.`)).sort();
  return Number((await readFile(join(dataDir, 'tasks', taskDir!, 'agent.pid'), 'utf8')).trim());
}

beforeAll(async () => {
  dir = await tempDir('miyabi-budget-day-');
  const repo = join(dir.path, 'repo');
  await mkdir(repo);
  await gitRepo(repo);
  dataDir = join(dir.path, 'data');
  const issuesDir = join(dir.path, 'issues');
  await mkdir(issuesDir);
  const configPath = await dir.file(
    'miyabi.yaml',
    stringify({
      dataDir,
      log: { level: 'debug', file: true },
      panes: { backend: 'process', spareRunners: false, heartbeatIntervalMs: 300 },
      workspace: { repo },
      workflow: { defaultRoute: ['codegen'] },
      issues: { local: { dir: issuesDir, pollIntervalMs: 300 } },
      // Out of the sandbox: the test reads the agent's own pid from its task directory.
      agents: { codegen: { command: ['node', join(repoRoot, 'test/workflow/fixtures/costly-agent.mjs')], min: 2, max: 2, isolation: { sandbox: 'off' } } },
      // Past 90 % (issue 1's $9) P3 waits.
      budget: { task: { usd: 8 }, daily: { usd: 10 }, admission: [{ share: 0.9, maxPriority: 2 }], atLimit: 'stop' },
    }),
  );
  run = new BudgetOrchestra({ configPath, dataDir, issuesDir }, { budgetClock: budgetNow });
  await run.start();
  dayD = budgetDay(budgetNow(), 'UTC');
}, 60_000);

afterAll(async () => {
  await run?.stop();
  await dir?.[Symbol.asyncDispose]();
});

describe('budgets over time', { timeout: 120_000 }, () => {
  it("an agent whose cost so far goes above the task's cap is stopped; the task fails with budget_exceeded and its cost is counted", async () => {
    await run.addIssue({ number: 1, body: 'running cost: {"usd": 9, "outputTokens": 5}' });
    await run.waitForState(1, 'failed');
    const { context } = run.workflow()!.snapshot(1);
    expect(context.reason).toMatch(/budget_exceeded: the task's cost reached usd 9\.00 while it ran, above its cap of 8\.00; the agent was stopped/);
    expect(context.history.filter((each) => each.stage === 'codegen')).toHaveLength(1);
    expect(processAlive(await agentPid(1))).toBe(false);
    expect(run.budget().roles.codegen).toMatchObject({ tasks: 1, usd: 9, outputTokens: 5 });
  });

  it('the day at its cap pauses dispatch and stops the agents at work (atLimit: stop), their spend counted; the next budget day resumes them from 0, the day before kept', async () => {
    // Past the admission's share: a P3 waits, labelled so, while the others go.
    expect(run.budget().admission).toEqual({ share: 0.9, maxPriority: 2 });
    await run.addIssue({ number: 5, labels: ['P3'] });
    await run.heldInQueue(5);
    await run.workflow()!.flush();
    expect(await labels(5)).toContain('miyabi:budget-hold');
    // Issue 4's agent is at work (it sleeps on its first run, its cost so far $0.50) when issue 2
    // brings the day to its cap.
    await run.addIssue({ number: 4, body: 'sleep once\nrunning cost: {"usd": 0.5, "outputTokens": 7}' });
    await run.waitForState(4, 'running');
    const sleeper = await waitFor(() => agentPid(4).catch(() => undefined), { what: "issue 4's agent pid" });
    await run.addIssue({ number: 2, body: 'cost: {"usd": 1}' });
    await run.waitForState(2, 'done');
    expect(run.budget().admission.paused).toMatch(/^daily budget used up \(usd 10\.00 of 10\.00\)/);
    await run.waitForState(4, 'queued');
    const stopped = run.workflow()!.snapshot(4).context;
    expect(stopped.history.at(-1)).toMatchObject({ stage: 'codegen', status: 'failure', reason: expect.stringMatching(/^budget_exceeded: daily budget used up \(usd 10\.00 of 10\.00\).*; the agent was stopped$/) });
    await waitFor(() => !processAlive(sleeper), { what: "issue 4's agent stopped" });
    // The stopped run sent no result, but what it spent is counted: its wall-clock and its cost so far.
    const ledger = run.orchestra!.resources.budget!;
    await waitFor(() => run.budget().roles.codegen?.tasks === 3, { what: "the stopped run's spend counted" });
    expect(run.budget().roles.codegen).toMatchObject({ tasks: 3, usd: 10.5, outputTokens: 12 });
    // The issue's own spend in the KV bucket: the stopped run alone, so far.
    const kv = await run.orchestra!.resources.bus!.kv();
    const issueSpend = await waitFor(async () => {
      const entry = await kv.get('budget.issue-4.g1');
      return entry?.operation === 'PUT' ? (JSON.parse(new TextDecoder().decode(entry.value)) as { spend: Spend; counted: string[] }) : undefined;
    }, { what: "issue 4's spend in the KV bucket" });
    expect(issueSpend).toMatchObject({ spend: { tasks: 1, usd: 0.5, outputTokens: 7 }, counted: ['issue-4.g1.codegen.r0.a1:1'] });
    expect(issueSpend.spend.wallClockMs).toBeGreaterThan(0);
    // Reported again (a redelivery, a duplicate), it is not spent twice.
    await ledger.count({ taskId: 'issue-4.g1.codegen.r0.a1', issue: 4, role: 'codegen', attempt: 1, durationMs: 1_000, cost: { usd: 0.5 } });
    expect(run.budget().roles.codegen).toMatchObject({ tasks: 3, usd: 10.5 });
    await run.addIssue({ number: 3, labels: ['P0'] });
    await run.heldInQueue(3);
    await run.heldInQueue(4);
    await run.workflow()!.flush();
    for (const number of [3, 4, 5]) expect(await labels(number)).toContain('miyabi:budget-hold');

    // Midnight passes on the budget's clock: no sleeping until then.
    clockOffsetMs += DAY_MS;
    const dayAfter = budgetDay(budgetNow(), 'UTC');
    expect(dayAfter).not.toBe(dayD);
    for (const number of [3, 4, 5]) await run.waitForState(number, 'done');
    await run.workflow()!.flush();
    for (const number of [3, 4, 5]) expect(await labels(number)).toEqual(expect.not.arrayContaining(['miyabi:budget-hold']));
    // Held once (by its priority, then by the pause: no second label), released once (`pending` again) before it went.
    expect(run.steps(5).filter((event) => event.startsWith('budget.') || event === 'stage.dispatch')).toEqual(['budget.hold', 'budget.release', 'stage.dispatch']);
    // The stopped run is not run again under its cancelled id: the run after the resume has its own.
    expect(run.workflow()!.snapshot(4).context.history.map((each) => each.taskId)).toEqual(['issue-4.g1.codegen.r0.a1', 'issue-4.g1.codegen.r0.s1.a1']);
    const today = run.budget();
    expect(today.day).toBe(dayAfter);
    expect(today.admission.paused).toBeUndefined();
    expect(today.resumed).toBe(false);
    expect(today.total).toMatchObject({ usd: 0, tasks: 3 });
    await ledger.flush();
    const [before] = await readDaySpends(kv, dayD, dayD);
    expect(before).toMatchObject({ day: dayD, roles: { codegen: { usd: 10.5, tasks: 3, outputTokens: 12 } } });
  });
});
