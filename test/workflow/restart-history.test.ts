/**
 * History does not weigh on a restart (issue #18): a workflow that starts on a KV bucket of
 * finished issues reads their summaries (`finished.<n>`), not their records, and keeps only the
 * open ones whole — counted here as the bucket's reads of `issue.<n>`, no timing. A finished issue
 * still does all it did: it frees its dependents (and blocks them when it failed), a retry or an
 * edit takes it up again, and a close is remembered. A summary is never older than its record: one
 * lost by a crash is written again at the next start, and a record written after its issue left
 * the finished states is read whole, whatever summary it had before.
 */
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.ts';
import { connectNats } from '../../src/infra/nats/connection.ts';
import { LocalIssueSource } from '../../src/issues/local-source.ts';
import type { TaskMessage } from '../../src/runner/task-message.ts';
import { Workflow } from '../../src/workflow/engine.ts';
import { WorkflowStore } from '../../src/workflow/store.ts';
import { tempDir, type TempDir } from '../support/cli.ts';
import { startNatsServer, type TestNatsServer } from '../support/nats.ts';
import { workflowParts } from '../support/workflow-parts.ts';

let nats: TestNatsServer;
let nc: NatsConnection;
beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connectNats({ servers: [nats.url], name: 'restart-history-test', connectDeadlineMs: 5_000, logger: pino({ level: 'silent' }) });
});
afterAll(async () => {
  await nc.close();
  await nats.stop();
});

let dir: TempDir;
beforeEach(async () => {
  dir = await tempDir('miyabi-restart-history-');
  return () => dir[Symbol.asyncDispose]();
});

const parsed = parseConfigText('agents: { codegen: { command: [x], max: 100 } }\nworkflow: { defaultRoute: [codegen], retry: { maxAttempts: 1 } }', 'test.yaml');
if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
const config = parsed.config;

/** The bucket, with the records read whole counted (`get` of `issue.<n>`). */
function counted(kv: KV): { kv: KV; recordsRead: number[] } {
  const recordsRead: number[] = [];
  const proxy = new Proxy(kv, {
    get(target, property, receiver) {
      if (property === 'get') {
        return (key: string, ...rest: unknown[]) => {
          if (key.startsWith('issue.')) recordsRead.push(Number(key.slice('issue.'.length)));
          return (target.get as (...args: unknown[]) => unknown).call(target, key, ...rest);
        };
      }
      const value = Reflect.get(target, property, receiver) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { kv: proxy, recordsRead };
}

let buckets = 0;

async function bucket(): Promise<KV> {
  buckets += 1;
  return new Kvm(nc).create(`restart-history-${buckets}`);
}

/** A workflow on `kv` whose agents the test plays; `start`ed. */
async function workflow(kv: KV) {
  const tasks: TaskMessage[] = [];
  const issues = join(dir.path, 'issues');
  await mkdir(issues, { recursive: true });
  const engine = new Workflow({
    config,
    ...workflowParts(config),
    source: new LocalIssueSource({ dir: issues, trackerDir: join(dir.path, 'tracker') }),
    store: new WorkflowStore(kv),
    logger: pino({ level: 'silent' }),
    publish: async (_subject, type, payload) => {
      if (type === 'task.dispatched') tasks.push(payload as TaskMessage);
    },
    cancel: async () => {},
  });
  await engine.start();
  const observe = async (number: number, dependsOn: number[] = [], title = `Issue ${number}`) => {
    // The local tracker takes labels and comments for the issues it has.
    await writeFile(join(issues, `${number}.md`), `---\nnumber: ${number}\ntitle: ${JSON.stringify(title)}\nlabels: [miyabi]\n---\nWork.\n`);
    await engine.observe({ issue: { number, title, body: 'Work.', labels: ['miyabi'], author: 'someone' }, contentHash: `${title}:${dependsOn.join()}`, dependsOn });
    await engine.flush();
  };
  const answer = async (number: number, status: 'success' | 'failure') => {
    const task = tasks.filter((candidate) => candidate.issue.number === number).at(-1)!;
    await engine.result({
      taskId: task.taskId, issue: number, role: task.role, stage: task.stage, attempt: task.attempt, agentId: 'codegen-1', status, reason: status, durationMs: 1, worktree: '/tmp/w', branch: task.branch,
    });
    await engine.flush();
  };
  const dispatched = (number: number) => tasks.filter((task) => task.issue.number === number).length;
  return { engine, observe, answer, dispatched };
}

/** Issues 1–20 done, 21–25 failed, 26 and 27 open (running): the history a restart finds. */
async function history(kv: KV): Promise<void> {
  const run = await workflow(kv);
  for (let number = 1; number <= 27; number += 1) await run.observe(number);
  for (let number = 1; number <= 25; number += 1) await run.answer(number, number <= 20 ? 'success' : 'failure');
  await run.engine.close();
}

describe('a restart on a bucket of finished issues', () => {
  it('reads the open records whole and only the summaries of the finished ones, and still shows them all', async () => {
    const kv = await bucket();
    await history(kv);
    const bucketRead = counted(kv);
    const { engine } = await workflow(bucketRead.kv);

    expect(bucketRead.recordsRead.sort((a, b) => a - b)).toEqual([26, 27]);
    expect([...engine.records.keys()].sort((a, b) => a - b)).toEqual([26, 27]);
    expect(engine.finished.size).toBe(25);
    const states = engine.states();
    expect([1, 20, 21, 25, 26].map((number) => states.get(number))).toEqual(['done', 'done', 'failed', 'failed', 'running']);
    const rows = engine.summary();
    expect(rows.map((row) => row.issue)).toEqual(Array.from({ length: 27 }, (_, i) => i + 1));
    expect(rows[0]).toMatchObject({ issue: 1, title: 'Issue 1', route: 'codegen', state: 'done', attempts: 1 });
    expect(rows[20]).toMatchObject({ issue: 21, state: 'failed', reason: expect.stringContaining('failed') });
    await engine.close();
  });

  it('a finished issue still frees or blocks its dependents, and is read whole only when acted on again', async () => {
    const kv = await bucket();
    await history(kv);
    const bucketRead = counted(kv);
    const run = await workflow(bucketRead.kv);
    const readAtStart = bucketRead.recordsRead.length;

    // Shown again as it was (the watcher does after each restart): nothing read.
    await run.observe(3);
    expect(bucketRead.recordsRead.length).toBe(readAtStart);
    // A new issue on a done one runs at once; one on a failed one is blocked.
    await run.observe(30, [1]);
    await run.observe(31, [21]);
    expect(run.dispatched(30)).toBe(1);
    expect(run.engine.states().get(31)).toBe('blocked');
    expect(bucketRead.recordsRead.length).toBe(readAtStart);

    // A retry of a failed one and an edit of a done one: read whole, run again.
    expect(await run.engine.retry(22, 'someone', 'command:22:1')).toBe(true);
    await run.engine.flush();
    await run.observe(4, [], 'Issue 4, edited');
    expect(run.dispatched(22)).toBe(1);
    expect(run.dispatched(4)).toBe(1);
    expect(bucketRead.recordsRead.slice(readAtStart).sort((a, b) => a - b)).toEqual([4, 22]);
    // Closed on the tracker: remembered through the next restart.
    await run.engine.release(5, 'closed on the tracker');
    await run.engine.flush();
    await run.engine.close();

    const again = await workflow(kv);
    expect(again.engine.finished.get(5)?.closed).toBe(true);
    // Running again when the workflow stopped: whole, not the summary they had when they were finished.
    expect(again.engine.records.has(4) && again.engine.records.has(22)).toBe(true);
    expect([4, 22].map((number) => again.engine.states().get(number))).toEqual(['running', 'running']);
    await again.engine.close();
  });

  it('a summary lost between the two writes (a crash) is written again at the next start', async () => {
    const kv = await bucket();
    await history(kv);
    await kv.delete('finished.7');
    const first = counted(kv);
    const run = await workflow(first.kv);
    expect(first.recordsRead.sort((a, b) => a - b)).toEqual([7, 26, 27]);
    expect(run.engine.finished.get(7)?.state).toBe('done');
    await run.engine.close();

    const second = counted(kv);
    const again = await workflow(second.kv);
    expect(second.recordsRead.sort((a, b) => a - b)).toEqual([26, 27]);
    await again.engine.close();
  });
});
