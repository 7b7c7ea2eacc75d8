/**
 * The workflow engine against a real NATS KV bucket and the local tracker, with the agents played
 * by the test (it answers each dispatched task). Time is the test's clock.
 */
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.ts';
import type { OrchestraConfig } from '../../src/config/schema.ts';
import { connectNats } from '../../src/infra/nats/connection.ts';
import { LocalIssueSource } from '../../src/issues/local-source.ts';
import type { TaskMessage, TaskResult } from '../../src/runner/task-message.ts';
import { Workflow } from '../../src/workflow/engine.ts';
import { logRedelivery } from '../../src/workflow/redeliveries.ts';
import { workflowParts } from '../support/workflow-parts.ts';
import { WorkflowStore } from '../../src/workflow/store.ts';
import { WorkflowMetrics } from '../../src/workflow/metrics.ts';
import { observedIssue } from '../../src/workflow/issue-events.ts';
import { tempDir, type TempDir } from '../support/cli.ts';
import { startNatsServer, type TestNatsServer } from '../support/nats.ts';

let nats: TestNatsServer;
let nc: NatsConnection;
beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connectNats({ servers: [nats.url], name: 'engine-test', connectDeadlineMs: 5_000, logger: pino({ level: 'silent' }) });
});
afterAll(async () => {
  await nc.close();
  await nats.stop();
});

function config(yaml = ''): OrchestraConfig {
  const parsed = parseConfigText(
    [
      'agents:',
      '  codegen: { command: [x], max: 1 }',
      '  review: { command: [x], max: 1 }',
      '  pr: { command: [x], max: 1 }',
      yaml,
    ].join('\n'),
    'test.yaml',
  );
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return parsed.config;
}

interface Harness {
  engine: Workflow;
  source: LocalIssueSource;
  tasks: TaskMessage[];
  cancelled: string[];
  /** The engine's log lines at info and above. */
  log: Array<Record<string, unknown> & { msg: string }>;
  clock: { now: number };
  /** Writes an issue file and shows it to the engine as the watcher would. */
  issue(number: number, front: Record<string, unknown>, body?: string): Promise<void>;
  answer(task: TaskMessage, status: TaskResult['status'], extra?: Partial<TaskResult>): Promise<void>;
  /** A timer tick, and what it started in the background (tracker writes, lookups). */
  tick(): Promise<void>;
  /** The pending task of an issue (the last dispatched). */
  task(issue: number): TaskMessage;
  state(issue: number): string;
  comments(issue: number): Promise<string[]>;
  commentBodies(issue: number): Promise<string[]>;
  /** `miyabi_human_interventions_total{kind}` of the engine's metrics. */
  interventions(kind: string): Promise<number | undefined>;
  close(): Promise<void>;
}

let bucket = 0;
async function harness(dir: TempDir, yaml = '', options: { refuseComments?: boolean } = {}): Promise<Harness> {
  bucket += 1;
  const issuesDir = join(dir.path, `issues-${bucket}`);
  await mkdir(issuesDir, { recursive: true });
  const source = new LocalIssueSource({ dir: issuesDir, trackerDir: join(dir.path, `tracker-${bucket}`) });
  if (options.refuseComments) {
    // A tracker that refuses every comment, as GitHub does for a token without the permission.
    source.comment = async () => {
      throw new Error('Resource not accessible by personal access token (needs Issues: read and write)');
    };
  }
  const kv = await new Kvm(nc).create(`engine-${bucket}`);
  const tasks: TaskMessage[] = [];
  const cancelled: string[] = [];
  const log: Harness['log'] = [];
  const clock = { now: 1_000_000 };
  const registry = new Registry();
  const engine = new Workflow({
    metrics: new WorkflowMetrics(registry),
    config: config(yaml),
    ...workflowParts(config(yaml)),
    source,
    store: new WorkflowStore(kv),
    logger: pino({ level: 'info' }, { write: (line: string) => void log.push(JSON.parse(line) as Harness['log'][number]) }),
    now: () => clock.now,
    publish: async (_subject, type, payload) => {
      if (type === 'task.dispatched') tasks.push(payload as TaskMessage);
    },
    cancel: async (taskId) => void cancelled.push(taskId),
  });
  await engine.start();
  return {
    engine,
    source,
    tasks,
    cancelled,
    log,
    clock,
    async issue(number, front, body = '') {
      const lines = Object.entries({ number, title: `Issue ${number}`, labels: ['miyabi'], ...front }).map(([key, value]) => `${key}: ${JSON.stringify(value)}`);
      await writeFile(join(issuesDir, `${number}.md`), `---\n${lines.join('\n')}\n---\n${body}\n`);
      const tracked = await source.get(number);
      await engine.observe(observedIssue(tracked!));
      await engine.flush();
    },
    async answer(task, status, extra = {}) {
      await engine.result({
        taskId: task.taskId,
        issue: task.issue.number,
        role: task.role,
        stage: task.stage,
        attempt: task.attempt,
        agentId: `${task.role}-1`,
        status,
        reason: status,
        durationMs: 1,
        worktree: '/tmp/w',
        branch: task.branch,
        ...extra,
      });
      await engine.flush();
    },
    async tick() {
      await engine.tick();
      await engine.flush();
    },
    task: (issue) => tasks.filter((task) => task.issue.number === issue).at(-1)!,
    state: (issue) => String(engine.snapshot(issue)?.value),
    async comments(issue) {
      const { readFile } = await import('node:fs/promises');
      const record = JSON.parse(await readFile(join(dir.path, `tracker-${bucket}`, `issue-${issue}.json`), 'utf8')) as { comments: Array<{ key: string }> };
      return record.comments.map((comment) => comment.key);
    },
    async commentBodies(issue) {
      const { readFile } = await import('node:fs/promises');
      const record = JSON.parse(await readFile(join(dir.path, `tracker-${bucket}`, `issue-${issue}.json`), 'utf8')) as { comments: Array<{ body: string }> };
      return record.comments.map((comment) => comment.body);
    },
    async interventions(kind) {
      const metric = await registry.getSingleMetric('miyabi_human_interventions_total')!.get();
      return metric.values.find((value) => value.labels.kind === kind)?.value;
    },
    close: () => engine.close(),
  };
}

let dir: TempDir;
beforeEach(async () => {
  dir = await tempDir('miyabi-engine-');
  return () => dir[Symbol.asyncDispose]();
});

describe('workflow engine', () => {
  it('runs ready issues by priority when a role is contended, then SLA, then age', async () => {
    const run = await harness(dir, 'workflow: { defaultRoute: [codegen] }');
    await run.issue(9, { labels: ['miyabi', 'P2'] });
    expect(run.tasks.map((task) => task.issue.number)).toEqual([9]);
    // The codegen slot is taken: these wait, and go by priority, not by arrival.
    run.clock.now += 10;
    await run.issue(1, { labels: ['miyabi', 'P3'] });
    run.clock.now += 10;
    await run.issue(2, { labels: ['miyabi', 'P0'] });
    run.clock.now += 10;
    await run.issue(3, { labels: ['miyabi', 'P1'] });
    run.clock.now += 10;
    await run.issue(4, { labels: ['miyabi', 'P1'] });
    for (const issue of [9, 2, 3, 4]) await run.answer(run.task(issue), 'success');
    expect(run.tasks.map((task) => task.issue.number)).toEqual([9, 2, 3, 4, 1]);
    await run.close();
  });

  it('marks the dependents of a failed issue blocked with the reason, and reports the deadlock as settled', async () => {
    const run = await harness(dir, 'workflow: { defaultRoute: [codegen], retry: { maxAttempts: 1 } }');
    await run.issue(1, {});
    await run.issue(2, {}, 'Depends on #1.');
    await run.issue(3, { dependsOn: [2] });
    expect(run.state(2)).toBe('waiting');
    await run.answer(run.task(1), 'failure', { reason: 'exit code 1', logTail: ['compiling…', 'error: no such file'] });
    expect(run.state(1)).toBe('failed');
    const failure = (await run.commentBodies(1)).find((body) => body.includes('failed'))!;
    expect(failure).toContain('codegen failed after 1 attempt(s): exit code 1');
    expect(failure).toContain('error: no such file');
    expect(failure).toContain('/miyabi retry');
    expect(run.state(2)).toBe('blocked');
    expect(run.engine.snapshot(2)!.context.reason).toBe('depends on #1, which failed');
    expect(run.state(3)).toBe('blocked');
    expect(run.engine.snapshot(3)!.context.reason).toMatch(/^depends on #2, which is blocked/);
    expect(run.engine.settled()).toBe(true);
    expect(await run.comments(2)).toEqual([expect.stringMatching(/^issue-2\.g1\.blocked\./)]);
    expect((await run.source.get(2))!.labels).toContain('miyabi:blocked');
    expect(run.tasks.map((task) => task.issue.number)).toEqual([1]);
    await run.close();
  });

  it('retries a failed stage after its backoff, not before', async () => {
    const run = await harness(dir, 'workflow: { defaultRoute: [codegen], retry: { maxAttempts: 3, initialDelayMs: 5000 } }');
    await run.issue(1, {});
    await run.answer(run.task(1), 'failure');
    expect(run.state(1)).toBe('retrying');
    run.clock.now += 4_999;
    await run.tick();
    expect(run.tasks).toHaveLength(1);
    run.clock.now += 1;
    await run.tick();
    expect(run.tasks).toHaveLength(2);
    expect(run.task(1).attempt).toBe(2);
    expect(run.log.filter((line) => line.msg === 'stage dispatched').map((line) => line.taskId)).toEqual(['issue-1.g1.codegen.r0.a1', 'issue-1.g1.codegen.r0.a2']);
    await run.answer(run.task(1), 'success');
    expect(run.state(1)).toBe('done');
    await run.close();
  });

  it('a retry its runner makes itself (a timeout, a killed agent), or after its runner died, is one `stage redelivered` line: same task id, the next attempt, the reason', async () => {
    const run = await harness(dir, 'workflow: { defaultRoute: [codegen] }');
    await run.issue(1, {});
    const task = run.task(1);
    await run.answer(task, 'retry', { reason: 'timed out after 1000 ms; the agent\'s process group was killed' });
    expect(run.state(1)).toBe('running');
    expect(run.tasks).toHaveLength(1);
    // The runner taking attempt 2 says it was redelivered: already logged from the `retry` result.
    const report = { taskId: task.taskId, issue: 1, role: 'codegen', stage: 'codegen', agentId: 'codegen-2' };
    await logRedelivery(run.engine, { ...report, attempt: 2, deliveryCount: 2 });
    await run.answer({ ...task, attempt: 2 }, 'retry', { reason: 'killed by SIGKILL' });
    // The runner of attempt 3 dies without a result: the one taking attempt 4 is the only one to say so.
    await logRedelivery(run.engine, { ...report, attempt: 3, deliveryCount: 3 });
    await logRedelivery(run.engine, { ...report, attempt: 4, deliveryCount: 4 });
    expect(run.log.filter((line) => line.msg === 'stage redelivered')).toEqual([
      expect.objectContaining({ issue: 1, stage: 'codegen', taskId: task.taskId, attempt: 2, reason: expect.stringContaining('timed out') }),
      expect.objectContaining({ issue: 1, stage: 'codegen', taskId: task.taskId, attempt: 3, reason: 'killed by SIGKILL' }),
      expect.objectContaining({ issue: 1, stage: 'codegen', taskId: task.taskId, attempt: 4, deliveryCount: 4, reason: 'the runner of attempt 3 stopped or died before it sent a result' }),
    ]);
    await run.answer({ ...task, attempt: 4 }, 'success');
    expect(run.state(1)).toBe('done');
    expect(run.log.filter((line) => line.msg === 'stage dispatched')).toHaveLength(1);
    // A report of a task the issue no longer runs is not believed.
    await logRedelivery(run.engine, { ...report, attempt: 5, deliveryCount: 5 });
    expect(run.log.filter((line) => line.msg === 'stage redelivered')).toHaveLength(3);
    await run.close();
  });

  it('blocks an issue whose dependency does not exist, and waits on one open outside the scope until it closes', async () => {
    const run = await harness(dir, 'workflow: { defaultRoute: [codegen] }');
    await run.issue(1, {}, 'Depends on #99.');
    await run.issue(2, {}, 'Depends on #5.');
    // #5 exists on the tracker but has no trigger label: outside the scope.
    await writeFile(join(dir.path, `issues-${bucket}`, '5.md'), '---\nnumber: 5\ntitle: Outside\nlabels: []\n---\n');
    await run.tick();
    expect(run.state(1)).toBe('blocked');
    expect(run.engine.snapshot(1)!.context.reason).toBe('depends on #99, which does not exist');
    expect(run.state(2)).toBe('waiting');
    expect(run.engine.settled()).toBe(true);
    expect(run.engine.summary().find((row) => row.issue === 2)!.reason).toBe('waits for #5 (open on the tracker, outside the scope)');
    await writeFile(join(dir.path, `issues-${bucket}`, '5.md'), '---\nnumber: 5\ntitle: Outside\nstate: closed\n---\n');
    run.clock.now += 60_000;
    await run.tick();
    expect(run.state(2)).toBe('running');
    await run.close();
  });

  it('releases an issue closed while it runs: its task is cancelled and its state label removed', async () => {
    const run = await harness(dir, 'workflow: { defaultRoute: [codegen] }');
    await run.issue(1, {});
    const task = run.task(1);
    expect((await run.source.get(1))!.labels).toContain('miyabi:implementing');
    await run.engine.release(1, 'closed on the tracker');
    await run.engine.flush();
    expect(run.state(1)).toBe('released');
    expect(run.cancelled).toEqual([task.taskId]);
    expect((await run.source.get(1))!.labels.filter((label) => label.startsWith('miyabi:'))).toEqual([]);
    // A late result of the cancelled task changes nothing.
    await run.answer(task, 'success');
    expect(run.state(1)).toBe('released');
    await run.close();
  });

  it('on /miyabi retry of a failed issue, skips the stages that already succeeded with the same content (cache)', async () => {
    const run = await harness(dir, 'workflow: { defaultRoute: [codegen, review], retry: { maxAttempts: 1 } }');
    await run.issue(1, {});
    await run.answer(run.task(1), 'success');
    await run.answer(run.task(1), 'failure');
    expect(run.state(1)).toBe('failed');
    expect(await run.interventions('retry_command')).toBe(0);
    expect(await run.engine.retry(1, 'alice')).toBe(true);
    await run.engine.flush();
    expect(await run.interventions('retry_command')).toBe(1);
    // codegen is not run again: straight to review.
    expect(run.tasks.map((task) => task.stage)).toEqual(['codegen', 'review', 'review']);
    expect(run.engine.snapshot(1)!.context.history.map((entry) => entry.status)).toEqual(['success', 'failure', 'cached']);
    await run.answer(run.task(1), 'success');
    expect(run.state(1)).toBe('done');
    await run.close();
  });

  it('reroutes a running issue whose labels a person changed, and counts it as a label edit', async () => {
    const run = await harness(dir, 'workflow: { defaultRoute: [codegen, review], routes: [{ label: "type:docs", stages: [codegen, pr] }] }');
    await run.issue(1, {});
    expect(run.task(1).stage).toBe('codegen');
    expect(await run.interventions('label_edit')).toBe(0);
    await run.issue(1, { labels: ['miyabi', 'type:docs'] });
    expect(run.engine.snapshot(1)!.context.route.map((stage) => stage.stage)).toEqual(['codegen', 'pr']);
    expect(await run.interventions('label_edit')).toBe(1);
    // Seen again with the same labels: no edit.
    await run.issue(1, { labels: ['miyabi', 'type:docs'] });
    expect(await run.interventions('label_edit')).toBe(1);
    await run.close();
  });

  it('re-runs a done issue when it is edited: a new content hash is a new key for every stage', async () => {
    const run = await harness(dir, 'workflow: { defaultRoute: [codegen] }');
    await run.issue(1, {}, 'first');
    await run.answer(run.task(1), 'success');
    expect(run.state(1)).toBe('done');
    await run.issue(1, {}, 'first'); // seen again, unchanged
    expect(run.tasks).toHaveLength(1);
    await run.issue(1, {}, 'second');
    expect(run.state(1)).toBe('running');
    expect(run.tasks).toHaveLength(2);
    expect(run.task(1).taskId).toMatch(/\.g2\./);
    await run.close();
  });

  it('resumes from the KV bucket: a second engine on the same state goes on where the first was', async () => {
    const run = await harness(dir, 'workflow: { defaultRoute: [codegen, review] }');
    await run.issue(1, {});
    await run.answer(run.task(1), 'success');
    const reviewTask = run.task(1);
    await run.close();
    const kv = await new Kvm(nc).open(`engine-${bucket}`);
    const dispatched: TaskMessage[] = [];
    const again = new Workflow({
      config: config('workflow: { defaultRoute: [codegen, review] }'),
      ...workflowParts(config('workflow: { defaultRoute: [codegen, review] }')),
      source: run.source,
      store: new WorkflowStore(kv),
      logger: pino({ level: 'silent' }),
      publish: async (_subject, type, payload) => void (type === 'task.dispatched' && dispatched.push(payload as TaskMessage)),
      cancel: async () => {},
    });
    await again.start();
    expect(String(again.snapshot(1)!.value)).toBe('running');
    // Already dispatched before the restart: not dispatched again (JetStream redelivers it if needed).
    expect(dispatched).toEqual([]);
    await again.result({
      taskId: reviewTask.taskId, issue: 1, role: 'review', stage: 'review', attempt: 1, agentId: 'r', status: 'success', reason: 'ok', durationMs: 1, worktree: '/w', branch: 'b',
    });
    expect(String(again.snapshot(1)!.value)).toBe('done');
    expect((await run.comments(1)).filter((key) => key.endsWith('.started'))).toHaveLength(1);
    await again.close();
  });

  it('goes on working when the tracker refuses its writes, and reports them stuck after a few failures instead of waiting for ever', async () => {
    const run = await harness(dir, 'workflow: { defaultRoute: [codegen] }', { refuseComments: true });
    await run.issue(1, {});
    await run.answer(run.task(1), 'success');
    expect(run.state(1)).toBe('done');
    expect(run.engine.settled()).toBe(false);
    for (let round = 0; round < 4; round += 1) {
      run.clock.now += 120_000;
      await run.tick();
    }
    expect(run.engine.settled()).toBe(true);
    expect(run.engine.failedWrites()).toEqual([{ issue: 1, effect: 'comment', failures: expect.any(Number) }]);
    expect(run.engine.failedWrites()[0]!.failures).toBeGreaterThanOrEqual(3);
    await run.close();
  });
});
