/**
 * A task answered on one node is not run again on another (issue #16, src/runner/kept-answers.ts):
 * two nodes' runners of one role, each with its own data directory, pull from one consumer of a
 * real three-server NATS cluster (R3).
 *
 * Node A's agent answers; its runner keeps the answer and then cannot get its result onto the bus
 * (every publish of a result fails, as with a broker lost at that moment) until it is stopped, so
 * the task goes back unacked — what a runner killed between keeping its answer and its ack leaves.
 * Node B's runner gets the task: it must not run its agent (the agents record every run) and must
 * publish node A's answer, which is then the result the workflow reads, once, and the task acked.
 * Before the kept answer was in the bucket, node B found nothing in its own data directory and
 * ran the agent again (the first CI run of `cluster up`: `issue-4.g1.codegen.r0.a1` twice).
 */
import { DiscardPolicy, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { busTopologyOf } from '../../src/config/bus-topology.ts';
import { loadConfig } from '../../src/config/load.ts';
import type { OrchestraConfig } from '../../src/config/schema.ts';
import { Bus } from '../../src/infra/bus/bus.ts';
import { decodeEnvelope } from '../../src/infra/bus/envelope.ts';
import { startPaneRunner, type PaneRunner } from '../../src/runner/pane-runner.ts';
import { TASK_DISPATCHED, TASK_RESULT, taskConsumer, taskResultSchema, taskSubject, type TaskMessage, type TaskResult } from '../../src/runner/task-message.ts';
import { tempDir, type TempDir } from '../support/cli.ts';
import { startNatsCluster, type TestNatsCluster } from '../support/nats-cluster.ts';
import { gitRepo, issue } from '../support/orchestra.ts';
import { waitFor } from '../support/wait.ts';

const agent = resolve(import.meta.dirname, 'fixtures/answering-agent.mjs');
const silent = pino({ level: 'silent' });

/** `nc` whose JetStream publishes of task results fail (no PubAck): what a runner sees with its broker gone. */
function withoutResults(nc: NatsConnection): NatsConnection {
  return new Proxy(nc, {
    get(target, property) {
      if (property === 'request') {
        return (subject: string, ...rest: unknown[]) =>
          subject.startsWith('miyabi.events.task.') ? Promise.reject(new Error('no PubAck: the broker is gone')) : (target.request as (...args: unknown[]) => unknown).call(target, subject, ...rest);
      }
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

describe('a task answered on one node, delivered again to another', () => {
  let cluster: TestNatsCluster;
  let dir: TempDir;
  const connections: NatsConnection[] = [];
  const runners: PaneRunner[] = [];
  let orchestrator: Bus;
  const results: TaskResult[] = [];

  const nodeConfig = async (name: string): Promise<OrchestraConfig> =>
    (
      await loadConfig(
        await dir.file(
          `${name}.yaml`,
          stringify({
            dataDir: join(dir.path, name),
            nats: { urls: cluster.urls },
            bus: { storage: 'memory', ackWaitMs: 30_000 },
            cluster: { node: name, replicas: 3 },
            agents: { codegen: { command: ['node', agent, join(dir.path, `runs-${name}`), name], min: 1, max: 1, isolation: { sandbox: 'off' } } },
            // Shared, as the nodes of `cluster up` share them (docs/CLUSTER.md).
            workspace: { repo: join(dir.path, 'repo'), worktreesDir: join(dir.path, 'worktrees') },
            panes: { backend: 'process', spareRunners: false, heartbeatIntervalMs: 500 },
          }),
        ),
      )
    ).config;
  const runs = (name: string) => readFile(join(dir.path, `runs-${name}`), 'utf8').then((text) => text.trim().split('\n'), () => [] as string[]);
  const runner = async (config: OrchestraConfig, nc: NatsConnection) => {
    const started = await startPaneRunner({ agentId: 'codegen-1', role: 'codegen', config, nc, logger: silent, print: () => undefined });
    runners.push(started);
    return started;
  };
  const connection = async (name: string) => {
    const nc = await connect({ servers: cluster.urls, name });
    connections.push(nc);
    return nc;
  };

  beforeAll(async () => {
    cluster = await startNatsCluster();
    dir = await tempDir('miyabi-answers-across-nodes-');
    await mkdir(join(dir.path, 'repo'));
    await gitRepo(join(dir.path, 'repo'));
    // The orchestrator's part: the streams, the buckets and the role's consumer, made before any runner starts.
    const config = await nodeConfig('a');
    orchestrator = new Bus(await connection('orchestrator'), { sender: 'orchestrator', logger: silent, topology: busTopologyOf(config) });
    await orchestrator.ensureTopology();
    await orchestrator.backlog(taskConsumer('codegen', config.bus));
    // What the workflow reads: every task result on the role's subject.
    connections[0]!.subscribe('miyabi.events.task.codegen.>', {
      callback: (error, message) => {
        if (error) return;
        const decoded = decodeEnvelope(message.data, taskResultSchema);
        if (decoded.ok && decoded.envelope.type === TASK_RESULT) results.push(decoded.envelope.payload);
      },
    });
  }, 60_000);

  afterAll(async () => {
    await Promise.all(runners.map((started) => started.stop()));
    await orchestrator?.close();
    await Promise.all(connections.map((nc) => nc.close()));
    await cluster?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  it('is not run again on the other node: its answer is published from there and the task acked', async () => {
    const [configA, configB] = [await nodeConfig('a'), await nodeConfig('b')];
    const nodeA = await runner(configA, withoutResults(await connection('node-a')));
    const taskId = 'issue-1.g1.codegen.r0.a1';
    const task: TaskMessage = { taskId, role: 'codegen', stage: 'codegen', attempt: 1, branch: 'miyabi/issue-1', previous: {}, issue: issue(1) };
    await orchestrator.publish(taskSubject('codegen'), TASK_DISPATCHED, task, { msgId: `dispatch:${taskId}` });

    // Node A's agent answered; its runner kept the answer, and its result cannot get out.
    await waitFor(async () => (await runs('a')).length === 1, { what: "node A's agent answering", timeoutMs: 30_000 });
    await waitFor(async () => (await readFile(join(configA.dataDir, 'tasks', taskId, 'finished.json'), 'utf8').catch(() => '')) !== '', { what: 'the answer kept on node A' });
    expect(results).toEqual([]);
    // Node A goes; the task, never acked, comes to node B.
    await nodeA.stop();
    await runner(configB, await connection('node-b'));

    await waitFor(() => results.some((result) => result.taskId === taskId), { what: "node A's answer published by node B", timeoutMs: 30_000 });
    await waitFor(async () => {
      const { pending, ackPending } = await orchestrator.backlog(taskConsumer('codegen', configB.bus));
      return pending === 0 && ackPending === 0;
    }, { what: 'the task acked by node B', timeoutMs: 30_000 });
    // The agents' own records: node A's ran it once, node B's never.
    expect(await runs('a')).toEqual([`${taskId} 1`]);
    expect(await runs('b')).toEqual([]);
    expect(results.filter((result) => result.taskId === taskId)).toEqual([expect.objectContaining({ status: 'success', summary: 'answered on a', attempt: 1 })]);
  }, 120_000);

  it('keeps answers as long as the tasks stream keeps a task, on every replica, read from the leader, the oldest dropped when full', async () => {
    const jsm = await jetstreamManager(connections[0]!);
    const tasks = (await jsm.streams.info(orchestrator.topology.streams.tasks)).config;
    const answers = (await jsm.streams.info(`KV_${orchestrator.topology.answersBucket}`)).config;
    expect(answers.max_age).toBe(tasks.max_age);
    expect(answers.max_age).toBeGreaterThan(0);
    expect(answers).toMatchObject({ num_replicas: 3, max_msgs_per_subject: 1, allow_direct: false, discard: DiscardPolicy.Old, max_bytes: orchestrator.topology.maxBytes.answers });
  });
});
