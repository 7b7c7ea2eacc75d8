/**
 * The engine's siblings down (src/workflow/ports.ts, src/actors/send-now.ts): a `dag` or
 * `scheduler` actor that crashed or stopped makes the engine's step fail with `actor_down` before
 * the step is written to KV — never a decision recorded that the graph or the queue did not take.
 * The real actors (src/actors/dag.ts, scheduler.ts, over the pure engines) and a real NATS KV
 * bucket; the agents are played by the test. Nothing written means the bucket's stream did not
 * move: no record, no dependency graph, no ledger entry.
 */
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { createActor } from 'xstate';
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { dagLogic, graphPort } from '../../src/actors/dag.ts';
import { queuePort, schedulerLogic, schedulerPolicyOf } from '../../src/actors/scheduler.ts';
import { parseConfigText } from '../../src/config/load.ts';
import { ErrorCodes } from '../../src/errors.ts';
import { connectNats } from '../../src/infra/nats/connection.ts';
import { LocalIssueSource } from '../../src/issues/local-source.ts';
import type { TaskMessage } from '../../src/runner/task-message.ts';
import { Workflow } from '../../src/workflow/engine.ts';
import { observedIssue } from '../../src/workflow/issue-events.ts';
import type { IssueRecord } from '../../src/workflow/record.ts';
import { WorkflowStore } from '../../src/workflow/store.ts';
import { tempDir, type TempDir } from '../support/cli.ts';
import { startNatsServer, type TestNatsServer } from '../support/nats.ts';

let nats: TestNatsServer;
let nc: NatsConnection;
beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connectNats({ servers: [nats.url], name: 'engine-actor-down-test', connectDeadlineMs: 5_000, logger: pino({ level: 'silent' }) });
});
afterAll(async () => {
  await nc.close();
  await nats.stop();
});

let dir: TempDir;
beforeEach(async () => {
  dir = await tempDir('miyabi-actor-down-');
  return () => dir[Symbol.asyncDispose]();
});

const parsed = parseConfigText(
  ['agents:', '  codegen: { command: [x], max: 1 }', '  review: { command: [x], max: 1 }', 'workflow: { defaultRoute: [codegen, review] }'].join('\n'),
  'test.yaml',
);
if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
const config = parsed.config;

let bucket = 0;
async function harness() {
  bucket += 1;
  const issuesDir = join(dir.path, 'issues');
  await mkdir(issuesDir, { recursive: true });
  const source = new LocalIssueSource({ dir: issuesDir, trackerDir: join(dir.path, 'tracker') });
  const kv = await new Kvm(nc).create(`actor-down-${bucket}`);
  // The siblings as the workflow supervisor makes them, unsupervised: the test watches their crash
  // (a crash nobody observes would be XState's unhandled error).
  const crashes: unknown[] = [];
  const dag = createActor(dagLogic, { id: 'dag' }).start();
  const scheduler = createActor(schedulerLogic, { id: 'scheduler', input: schedulerPolicyOf(config) }).start();
  dag.subscribe({ error: (error) => void crashes.push(error) });
  scheduler.subscribe({ error: (error) => void crashes.push(error) });
  const tasks: TaskMessage[] = [];
  const engine = new Workflow({
    config,
    dag: graphPort(dag),
    scheduler: queuePort(scheduler),
    source,
    store: new WorkflowStore(kv),
    logger: pino({ level: 'silent' }),
    now: () => 1_000_000,
    publish: async (_subject, type, payload) => {
      if (type === 'task.dispatched') tasks.push(payload as TaskMessage);
    },
    cancel: async () => undefined,
  });
  await engine.start();
  onTestFinished(() => engine.close());
  return {
    engine,
    kv,
    dag,
    scheduler,
    crashes,
    tasks,
    async observe(number: number) {
      await writeFile(join(issuesDir, `${number}.md`), `---\nnumber: ${number}\ntitle: "Issue ${number}"\nlabels: ["miyabi"]\n---\n`);
      await engine.observe(observedIssue((await source.get(number))!));
    },
  };
}

/** The last sequence of the bucket's stream: any write to the bucket moves it. */
async function lastWrite(kv: KV): Promise<number> {
  return (await kv.status()).streamInfo.state.last_seq;
}

async function recordOf(kv: KV, number: number): Promise<IssueRecord | undefined> {
  const entry = await kv.get(`issue.${number}`);
  return entry && entry.operation === 'PUT' ? entry.json<IssueRecord>() : undefined;
}

describe('the engine with a sibling actor down', () => {
  it('a change the dag cannot take crashes it, and the port says actor_down instead of losing the change', async () => {
    const run = await harness();
    // Not in the graph: the pure engine throws, inside the actor.
    expect(() => graphPort(run.dag).setState(999, 'done')).toThrow(expect.objectContaining({ code: ErrorCodes.ActorDown, message: 'the dag actor crashed on dag.state' }));
    expect(run.dag.getSnapshot().status).toBe('error');
    expect(run.crashes).toHaveLength(1);
  });

  it('a crashed dag: a new issue is not recorded, and the engine step fails with actor_down', async () => {
    const run = await harness();
    await run.observe(1);
    await run.engine.flush();
    expect(run.tasks.map((task) => task.issue.number)).toEqual([1]);
    const before = await lastWrite(run.kv);

    // Not in the graph: the pure engine throws inside the actor, which crashes.
    run.dag.send({ type: 'dag.state', id: 999, state: 'done' });
    expect(run.dag.getSnapshot().status).toBe('error');
    await expect(run.observe(2)).rejects.toMatchObject({ code: ErrorCodes.ActorDown, message: 'the dag actor is down' });

    expect(await recordOf(run.kv, 2)).toBeUndefined();
    expect(await lastWrite(run.kv)).toBe(before);
  });

  it('a stopped scheduler: an agent result does not move the issue on, in KV or to a next task', async () => {
    const run = await harness();
    await run.observe(1);
    await run.engine.flush();
    const [task] = run.tasks;
    expect(task?.stage).toBe('codegen');
    const recorded = await recordOf(run.kv, 1);
    expect(recorded?.snapshot).toMatchObject({ value: 'running' });
    const before = await lastWrite(run.kv);

    run.scheduler.stop();
    const result = {
      taskId: task!.taskId,
      issue: 1,
      role: task!.role,
      stage: task!.stage,
      attempt: task!.attempt,
      agentId: 'codegen-1',
      status: 'success' as const,
      reason: 'success',
      durationMs: 1,
      worktree: '/tmp/w',
      branch: task!.branch,
    };
    // The step (codegen done: review queued) needs the queue to take the finished task first.
    await expect(run.engine.result(result)).rejects.toMatchObject({ code: ErrorCodes.ActorDown, message: 'the scheduler actor is down' });

    expect(await lastWrite(run.kv)).toBe(before);
    expect(await recordOf(run.kv, 1)).toEqual(recorded);
    expect(run.tasks).toHaveLength(1);
  });
});
