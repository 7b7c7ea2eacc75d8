/**
 * The health monitor of a running orchestra finds a late heartbeat: a runner silenced with
 * SIGUSR2 (the runner's fault injection: it stops its heartbeats, as if wedged) sends none, and
 * its agent is reported `heartbeat_late` (one beat missed) well before its watchdog gives up on it
 * (`missedHeartbeats` of them); once it was replaced, the finding is gone. Two issues that depend
 * on each other are blocked (a cycle), and past `health.stuckIssues.blockedMs` each is `issue_stuck`.
 *
 * And it finds a stuck task, and the embedded server's store past the configured share of the
 * data directory's disk (a share so small that the streams of one issue pass it); the stuck issue
 * is counted once in `miyabi_sla_breaches_total` of its priority: with the codegen pool (and the
 * scaler that would restart it) stopped by hand, an issue is dispatched that no runner takes; it
 * stays `running` with no result, and past the role's limit — (timeout + grace + heartbeat
 * deadline) × bus.maxDeliver — the health report says `task_stuck` for that issue, and
 * `miyabi_tasks_overdue` counts it.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnyActorRef } from 'xstate';
import { startTestOrchestra, waitAgentReady, type TestOrchestra } from '../support/orchestra.ts';
import { waitFor } from '../support/wait.ts';
import { exampleAgent, issueFile, waitForState } from '../support/workflow-run.ts';

describe('the health monitor on a late heartbeat', { timeout: 120_000 }, () => {
  let test: TestOrchestra;

  beforeAll(async () => {
    test = await startTestOrchestra({
      backend: 'process',
      agents: { codegen: exampleAgent('codegen', { min: 1, max: 1 }) },
      // The watchdog gives up after 300 missed beats (30 s); one missed (200 ms) is late.
      // A blocked issue is stuck at once (the bound's minimum), for the test of issue_stuck below.
      config: { health: { checkIntervalMs: 100, stuckIssues: { blockedMs: 1 } }, panes: { heartbeatIntervalMs: 100, missedHeartbeats: 300 } },
    });
    await waitAgentReady(test, 'codegen', 'codegen-1');
  }, 120_000);
  afterAll(async () => {
    await test?.stop();
  });

  it('reports the agent whose runner stopped sending heartbeats, and no more once it was replaced', async () => {
    const pool = test.orchestra.root()!.childSupervisor('agents')!.childSupervisor('pool.codegen')!;
    const pid = ((pool.childActor('codegen-1') as AnyActorRef).getSnapshot() as { context: { pid: number } }).context.pid;
    const late = () => test.orchestra.resources.lastHealth?.findings?.find((finding) => finding.kind === 'heartbeat_late');
    expect(late()).toBeUndefined();
    process.kill(pid, 'SIGUSR2');
    const found = await waitFor(late, { timeoutMs: 20_000, what: 'a heartbeat_late finding' });
    expect(found).toMatchObject({ severity: 'warning', subject: 'codegen-1', message: expect.stringMatching(/^agent codegen-1 \(codegen\): last heartbeat \d+ s ago$/) });
    // Replaced at once rather than after the watchdog's 30 s.
    process.kill(pid, 'SIGKILL');
    await waitFor(() => test.orchestra.resources.lastHealth?.ok, { timeoutMs: 30_000, what: 'a healthy report after the agent was replaced' });
  });

  it('reports issues blocked past health.stuckIssues.blockedMs as issue_stuck, with why they are blocked', async () => {
    // Each depends on the other: a cycle, which only a person can untangle.
    await writeFile(join(test.dir.path, 'issues', '1.md'), issueFile({ number: 1, dependsOn: [2] }));
    await writeFile(join(test.dir.path, 'issues', '2.md'), issueFile({ number: 2, dependsOn: [1] }));
    await waitForState(test, [1, 2], 'blocked');
    const stuck = () => {
      const findings = (test.orchestra.resources.lastHealth?.findings ?? []).filter((finding) => finding.kind === 'issue_stuck');
      return findings.length === 2 && findings;
    };
    const found = await waitFor(stuck, { timeoutMs: 20_000, what: 'issue_stuck for #1 and #2' });
    expect(found.map((finding) => [finding.subject, finding.severity])).toEqual([['#1', 'warning'], ['#2', 'warning']]);
    expect(found[0]!.message).toMatch(/^issue #1 has been blocked for \d+ s, past the 0 s allowed \(.+\)$/);
  });
});

describe('the health monitor on a stuck task', { timeout: 120_000 }, () => {
  let test: TestOrchestra;

  beforeAll(async () => {
    test = await startTestOrchestra({
      backend: 'process',
      agents: { codegen: exampleAgent('codegen', { min: 1, max: 1, taskTimeoutMs: 200, graceMs: 0 }) },
      config: {
        health: { checkIntervalMs: 200, maxStoreShare: 1e-9 },
        panes: { heartbeatIntervalMs: 100, missedHeartbeats: 2 },
        // One second for every priority: the stuck issue breaches its SLA as well.
        workflow: { defaultRoute: ['codegen'], priority: { slaMs: [1_000] } },
      },
    });
    const root = test.orchestra.root()!;
    await root.childSupervisor('core')!.terminateChild('pool-scaler');
    await root.childSupervisor('agents')!.terminateChild('pool.codegen');
    await writeFile(join(test.dir.path, 'issues', '1.md'), issueFile({ number: 1 }));
    await waitForState(test, [1], 'running');
  }, 120_000);
  afterAll(async () => {
    await test?.stop();
  });

  it('reports the issue whose task has had no result past its role\'s limit', async () => {
    const stuck = await waitFor(() => test.orchestra.resources.lastHealth?.findings?.find((finding) => finding.kind === 'task_stuck'), {
      timeoutMs: 30_000,
      what: 'a task_stuck finding',
    });
    // (200 + 0 + 2 × 100) ms × 5 deliveries = 2 s
    expect(stuck).toMatchObject({
      severity: 'warning',
      subject: '#1',
      message: expect.stringMatching(/^task \S+ of issue #1 \(codegen\) has had no result for \d+ s, past the 2 s its role allows$/),
    });
  });

  it('counts the stuck task in miyabi_tasks_overdue of its role', async () => {
    const overdue = async () => (await test.orchestra.resources.metrics.registry.getSingleMetric('miyabi_tasks_overdue')!.get()).values;
    await waitFor(() => test.orchestra.resources.lastHealth?.findings?.some((finding) => finding.kind === 'task_stuck'), { timeoutMs: 30_000, what: 'a task_stuck finding' });
    expect((await overdue()).map(({ labels, value }) => [labels.role, value])).toEqual([['codegen', 1]]);
  });

  it('reports the JetStream store of the embedded server against the data directory\'s disk', async () => {
    const full = await waitFor(() => test.orchestra.resources.lastHealth?.findings?.find((finding) => finding.kind === 'nats_store_full'), {
      timeoutMs: 30_000,
      what: 'a nats_store_full finding',
    });
    expect(full).toMatchObject({ severity: 'warning', subject: 'nats', message: expect.stringMatching(/^the JetStream store holds [\d.]+ MiB, [\d.]+ % of the data directory's disk \([\d.]+ MiB\)$/) });
  });

  it('counts the stuck issue\'s SLA breach once, under its priority (p2, the default)', async () => {
    const breaches = async () => (await test.orchestra.resources.metrics.registry.getSingleMetric('miyabi_sla_breaches_total')!.get()).values;
    // The task_stuck finding came two seconds after dispatch, a second past the SLA: the breach is counted by now.
    await waitFor(() => test.orchestra.resources.lastHealth?.findings?.some((finding) => finding.kind === 'task_stuck'), { timeoutMs: 30_000, what: 'a task_stuck finding' });
    expect((await breaches()).map(({ labels, value }) => [labels.priority, value])).toEqual([['p0', 0], ['p1', 0], ['p2', 1], ['p3', 0]]);
  });
});
