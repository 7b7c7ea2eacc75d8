/**
 * The first scrape of an orchestra that has done nothing yet: every labelled counter the
 * dashboards and alerts use exists at 0 for each value the config and the code know (so the first
 * event is a change `increase()` sees), and `miyabi_build_info` names the NATS server's version
 * as the server announced it.
 */
import { execa } from 'execa';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestOrchestra, type TestOrchestra } from '../support/orchestra.ts';
import { repoRoot } from '../support/cli.ts';
import { waitFor } from '../support/wait.ts';
import { scrapeSeries } from '../support/scrape.ts';

describe('the scrape of a fresh orchestra', { timeout: 60_000 }, () => {
  let test: TestOrchestra;
  const agent = { command: ['node', join(repoRoot, 'test/support/agents/codegen.mjs')], min: 0, max: 1 };

  beforeAll(async () => {
    test = await startTestOrchestra({
      backend: 'process',
      agents: { codegen: agent, review: agent, pr: agent },
      config: {
        http: { enabled: true, port: 0 },
        // A route of its own and an extra stage: both are stages the counters know.
        workflow: { routes: [{ label: 'type:docs', stages: ['docs', 'pr', 'merge'] }], stageRoles: { docs: 'codegen' }, extraStages: [{ label: 'deploy', stage: 'deploy' }] },
      },
    });
    // The workflow's consumers are made when it starts; the scrape below is after that.
    await waitFor(() => test.orchestra.resources.workflow !== undefined, { what: 'the workflow running' });
  }, 60_000);
  afterAll(async () => {
    await test?.stop();
  });

  it('has every stage run, tracker wait, ignored issue and dead letter at 0', async () => {
    const series = await scrapeSeries(test.orchestra.resources.httpUrl!);
    const zero = (key: string) => expect(series.get(key), key).toBe(0);
    // The default route's stages, the labelled route's, the extra stage; not `merge`, the orchestra's own.
    for (const stage of ['codegen', 'review', 'pr', 'docs', 'deploy']) {
      for (const status of ['success', 'retry', 'failure', 'changes_requested', 'needs_input', 'dead_letter']) zero(`miyabi_stage_runs_total{stage="${stage}",status="${status}"}`);
    }
    expect([...series.keys()].filter((key) => key.startsWith('miyabi_stage_runs_total{stage="merge"'))).toEqual([]);
    for (const kind of ['rate_limit', 'secondary_rate_limit', 'server_error', 'network']) zero(`miyabi_tracker_waits_total{kind="${kind}"}`);
    for (const reason of ['no_trigger_label', 'untrusted_author', 'bot_author', 'unknown_labeler', 'untrusted_labeler', 'bot_labeler', 'untrusted_commenter']) {
      zero(`miyabi_issues_ignored_total{reason="${reason}"}`);
    }
    // Each subject a consumer of the orchestrator reads (issue events, results, the tasks' dead
    // letters) and each role's tasks, by both reasons.
    for (const subject of ['miyabi.events.issue', 'miyabi.events.task', 'miyabi.dlq.miyabi', 'miyabi.tasks.codegen', 'miyabi.tasks.review', 'miyabi.tasks.pr']) {
      for (const reason of ['malformed', 'delivery_limit']) zero(`miyabi_bus_dead_lettered_total{subject="${subject}",reason="${reason}"}`);
    }
    zero('miyabi_dead_letters');
    for (const role of ['codegen', 'review', 'pr']) zero(`miyabi_tasks_overdue{role="${role}"}`);
  });

  it('names the NATS server\'s version in miyabi_build_info', async () => {
    const { stdout } = await execa('nats-server', ['--version']);
    const version = /v(\d+\.\d+\.\d+\S*)/.exec(stdout)?.[1];
    expect(version, stdout).toBeDefined();
    const series = await scrapeSeries(test.orchestra.resources.httpUrl!);
    const info = [...series.keys()].filter((key) => key.startsWith('miyabi_build_info{'));
    expect(info).toHaveLength(1);
    expect(info[0]).toContain(`nats_server="${version}"`);
    expect(info[0]).toContain('nats_mode="embedded"');
  });
});
