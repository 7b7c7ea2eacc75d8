/**
 * The metrics of docs/METRICS.md, scraped from the real /metrics endpoint of an orchestra that
 * worked a small backlog with the test code generator (which says what each task cost), then lost
 * a runner to `kill -9`: the KPI families are present, the agents' cost and tokens counted, labelled counters exist from 0, the recovery is observed, and an agent
 * stopped by its pool leaves no series behind. Its health notices go to a receiver that answers
 * and to one that never does: the work goes on while a notice hangs, and both are counted.
 */
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnyActorRef } from 'xstate';
import { agentInstanceChild } from '../../src/actors/agent-pool.ts';
import { startTestOrchestra, waitAgentReady, type TestOrchestra } from '../support/orchestra.ts';
import { kpisOf } from '../support/kpi.ts';
import { waitFor } from '../support/wait.ts';
import { scrapeSeries } from '../support/scrape.ts';
import { repoRoot } from '../support/cli.ts';
import { issueFile, issueFiles, waitForLog, waitForState } from '../support/workflow-run.ts';

const scrape = (test: TestOrchestra) => scrapeSeries(test.orchestra.resources.httpUrl!);

const named = (series: Map<string, number>, prefix: string) => [...series.keys()].filter((key) => key.startsWith(prefix));

describe('metrics scraped from a running orchestra', { timeout: 120_000 }, () => {
  let test: TestOrchestra;
  let receiver: Server;
  const notices: Array<{ key: string; resolved: boolean }> = [];
  // Takes each notice and never answers: a Slack that hangs.
  let hanging: Server;
  let hung = 0;
  const pool = () => test.orchestra.root()!.childSupervisor('agents')!.childSupervisor('pool.codegen')!;
  const runnerPid = (id: string) => ((pool().childActor(id) as AnyActorRef).getSnapshot() as { context: { pid: number } }).context.pid;

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let text = '';
      req.on('data', (chunk) => (text += chunk));
      req.on('end', () => (notices.push(JSON.parse(text)), res.end()));
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    process.env.MIYABI_TEST_NOTIFY_URL = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    hanging = createServer((req) => void req.on('data', () => undefined).on('end', () => (hung += 1)));
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    process.env.MIYABI_TEST_HANG_URL = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/services/T0/B0/x`;
    test = await startTestOrchestra({
      backend: 'process',
      // The test code generator: commits like the example agent, and says what each task cost.
      agents: { codegen: { command: ['node', join(repoRoot, 'test/support/agents/codegen.mjs'), 'priced'], min: 1, max: 2 } },
      // The pool scaler never acts: the tests below follow codegen-1 and start and stop codegen-2
      // themselves (a scaler stopping either agent when the backlog drains made them racy).
      config: {
        http: { enabled: true, port: 0 },
        panes: { scaleIntervalMs: 3_600_000 },
        health: { checkIntervalMs: 300, reportHeartbeatMs: 300 },
        // No retries: the hanging notice fails once its receiver goes away, not after a backoff.
        notify: { webhooks: [{ kind: 'json', urlEnv: 'MIYABI_TEST_NOTIFY_URL' }, { kind: 'slack', urlEnv: 'MIYABI_TEST_HANG_URL' }], timeoutMs: 600_000, retries: 0 },
        workflow: { defaultRoute: ['codegen'] },
      },
      issues: issueFiles([{ number: 1 }, { number: 2 }, { number: 3 }]),
    });
    await waitForState(test, [1, 2, 3], 'done');
  }, 120_000);
  afterAll(async () => {
    hanging?.closeAllConnections();
    await test?.stop();
    delete process.env.MIYABI_TEST_NOTIFY_URL;
    delete process.env.MIYABI_TEST_HANG_URL;
    await new Promise((resolve) => receiver?.close(resolve));
    await new Promise((resolve) => hanging?.close(resolve));
  });

  it('has the task, queue, issue and agent families, with the backlog in them', async () => {
    const series = await scrape(test);
    expect(series.get('miyabi_task_duration_seconds_count{role="codegen",stage="codegen",outcome="success"}')).toBe(3);
    expect(series.get('miyabi_queue_wait_seconds_count{role="codegen"}')).toBe(3);
    expect(series.get('miyabi_issues_finished_total{outcome="done"}')).toBe(3);
    expect(series.get('miyabi_queue_depth{role="codegen"}')).toBe(0);
    expect(series.get('miyabi_tasks_in_flight{role="codegen"}')).toBe(0);
    expect(series.get('miyabi_agents{role="codegen",state="idle"}')).toBe(1);
    for (const state of ['busy', 'spawning', 'waiting_for_broker', 'unresponsive', 'overdue', 'failed', 'restarting']) {
      expect(series.get(`miyabi_agents{role="codegen",state="${state}"}`), state).toBe(0);
    }
    expect(series.get('miyabi_agent_resident_memory_bytes{role="codegen",agent="codegen-1"}')).toBeGreaterThan(1_000_000);
    expect(series.get('miyabi_agent_cpu_seconds_total{role="codegen",agent="codegen-1"}')).toBeGreaterThan(0);
    expect(series.get('miyabi_dead_letters')).toBe(0);
    expect(series.get('miyabi_runner_consumer{role="codegen",field="acked"}')).toBe(3);
    expect(named(series, 'miyabi_build_info{')).toHaveLength(1);
    // Each of the three tasks said 0.25 USD, 1200 input and 300 output tokens.
    expect(series.get('miyabi_agent_cost_usd_total{role="codegen"}')).toBe(0.75);
    expect(series.get('miyabi_agent_tokens_total{role="codegen",direction="input"}')).toBe(3600);
    expect(series.get('miyabi_agent_tokens_total{role="codegen",direction="output"}')).toBe(900);
  });

  it('has the KPIs of the last day, computed from the bus by the code `kpi` uses', async () => {
    // Utilization needs two health reports with the agents in them (the available time between them).
    await waitFor(async () => {
      const now = await scrape(test);
      return now.get('miyabi_kpi_issues_per_day{outcome="done"}') === 3 && now.has('miyabi_kpi_utilization_ratio{role="codegen"}');
    }, { what: 'three issues done and the agents\' available time in the KPIs' });
    const series = await scrape(test);
    expect(series.get('miyabi_kpi_issues_per_day{outcome="finished"}')).toBe(3);
    expect(series.get('miyabi_kpi_success_ratio{of="issues"}')).toBe(1);
    expect(series.get('miyabi_kpi_success_ratio{of="tasks"}')).toBe(1);
    expect(series.get('miyabi_kpi_utilization_ratio{role="codegen"}')).toBeGreaterThan(0);
    expect(series.get('miyabi_kpi_utilization_ratio{role="codegen"}')).toBeLessThanOrEqual(1);
    const { report } = await kpisOf(test);
    expect(report.throughput.done).toBe(3);
    expect(report.successRate.issues).toBe(1);
  });

  it('has every labelled counter at 0 for its known labels before anything happened', async () => {
    const series = await scrape(test);
    for (const outcome of ['failed', 'released']) expect(series.get(`miyabi_issues_finished_total{outcome="${outcome}"}`), outcome).toBe(0);
    for (const kind of ['retry_command', 'answer', 'manual_restart', 'label_edit', 'needs_input']) {
      expect(series.get(`miyabi_human_interventions_total{kind="${kind}"}`), kind).toBe(0);
    }
    expect(series.get('miyabi_sla_breaches_total{priority="p0"}')).toBe(0);
    expect(series.get('miyabi_supervisor_restarts_total{supervisor="pool.codegen",child="codegen-1"}')).toBe(0);
    expect(series.get('miyabi_supervisor_escalations_total{supervisor="pool.codegen"}')).toBe(0);
    expect(series.get('miyabi_bus_dead_lettered_total{subject="miyabi.tasks.codegen",reason="malformed"}')).toBe(0);
    expect(series.get('miyabi_recovery_seconds_count{fault="pane_died"}')).toBe(0);
    expect(series.get('miyabi_actor_state{actor="codegen-1",state="stopped"}')).toBe(0);
  });

  it('observes the recovery from a runner killed with SIGKILL in miyabi_recovery_seconds{fault="pane_died"}', async () => {
    const first = runnerPid('codegen-1');
    process.kill(first, 'SIGKILL');
    // An agent restarting leaves the orchestra ready: /readyz answers for the infrastructure.
    expect((await fetch(`${test.orchestra.resources.httpUrl}/readyz`)).status).toBe(200);
    await waitFor(() => runnerPid('codegen-1') !== first, { what: 'a new runner for codegen-1' });
    await waitAgentReady(test, 'codegen', 'codegen-1');
    // …and the health monitor notices the death, even when the agent was back before it looked.
    await waitForLog(
      test.dataDir,
      (line) => /degraded/.test(line.msg) && ((line as { problems?: string[] }).problems ?? []).some((problem) => problem.startsWith('agent codegen-1 (codegen) restarted')),
      'the health monitor noticed the agent died',
    );
    expect((await fetch(`${test.orchestra.resources.httpUrl}/readyz`)).status).toBe(200);
    // The notifier: one message for the problem, one when it is resolved (the next check).
    await waitFor(() => notices.some((notice) => notice.key === 'agent_restarted:codegen-1' && notice.resolved), { what: 'the resolved notice' });
    expect(notices.filter((notice) => notice.key === 'agent_restarted:codegen-1').map((notice) => notice.resolved)).toEqual([false, true]);
    // Each notice the receiver took is counted as sent (once it answered).
    await waitFor(async () => (await scrape(test)).get('miyabi_notifications_total{kind="json",outcome="sent"}') === notices.length, { what: 'the notices counted as sent' });
    const series = await scrape(test);
    expect(series.get('miyabi_recovery_seconds_count{fault="pane_died"}')).toBe(1);
    expect(series.get('miyabi_recovery_seconds_sum{fault="pane_died"}')).toBeGreaterThan(0);
    expect(series.get('miyabi_supervisor_restarts_total{supervisor="pool.codegen",child="codegen-1"}')).toBe(1);
    // The same recovery on the bus, for `miyabi-orchestra kpi` (docs/KPI.md).
    await waitFor(async () => (await kpisOf(test)).report.mttr.byFault.pane_died?.count === 1, { what: 'the recovery on the bus' });
    const { facts, report } = await kpisOf(test);
    expect(facts.filter((fact) => fact.kind === 'fault')).toEqual([expect.objectContaining({ fault: 'pane_died', actor: expect.stringContaining('codegen-1') })]);
    expect(report.mttr.unrecovered).toBe(0);
    expect(report.mttr.byFault.pane_died!.meanMs).toBeGreaterThan(0);
  });

  it('works an issue while a notice hangs on a webhook that never answers, then counts that notice as failed', async () => {
    await waitFor(() => hung >= 2, { what: 'the problem and its resolution posted to the hanging receiver' });
    await writeFile(join(test.dir.path, 'issues', '4.md'), issueFile({ number: 4 }));
    await waitForState(test, [4], 'done');
    // Done while both notices still wait for an answer: nothing counted for them yet.
    const during = await scrape(test);
    expect(during.get('miyabi_notifications_total{kind="slack",outcome="sent"}')).toBe(0);
    expect(during.get('miyabi_notifications_total{kind="slack",outcome="failed"}')).toBe(0);
    hanging.closeAllConnections();
    await waitFor(async () => (await scrape(test)).get('miyabi_notifications_total{kind="slack",outcome="failed"}') === hung, { what: 'the hanging notices counted as failed' });
  });

  it('removes the series of an agent its pool stopped', async () => {
    await pool().startChild(agentInstanceChild(test.orchestra.resources, 'codegen', 2));
    await waitAgentReady(test, 'codegen', 'codegen-2');
    const running = await scrape(test);
    expect(named(running, 'miyabi_actor_state{actor="codegen-2"').length).toBeGreaterThan(1);
    expect(running.has('miyabi_agent_resident_memory_bytes{role="codegen",agent="codegen-2"}')).toBe(true);
    await pool().terminateChild('codegen-2');
    await waitFor(() => !pool().childIds().includes('codegen-2'), { what: 'codegen-2 stopped' });
    const after = await scrape(test);
    expect([...after.keys()].filter((key) => key.includes('"codegen-2"'))).toEqual([]);
    const counted = named(after, 'miyabi_agents{role="codegen"').reduce((sum, key) => sum + after.get(key)!, 0);
    expect(counted).toBe(pool().childIds().length);
  });
});
