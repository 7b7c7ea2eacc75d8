/**
 * Losing the embedded nats-server mid-backlog (issue #15, problem 3): it hangs, an agent answers
 * meanwhile, then it is killed with `kill -9`. The broker comes back alone at the same URL with
 * its store, the agents go on working without being restarted, the backlog completes, and the
 * task whose agent answered during the outage is not run again. The recovery (kill → the new
 * server ready, every agent heartbeating again, a task finished) is printed; the test waits for
 * the events, with generous deadlines, and asserts no timing (`npm run bench -- broker-loss`).
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnyActorRef } from 'xstate';
import type { TaskMarker } from '../../src/infra/panes/log.ts';
import { processAlive } from '../../src/infra/os/process.ts';
import { repoRoot, tempDir } from '../support/cli.ts';
import { startTestOrchestra, type TestOrchestra } from '../support/orchestra.ts';
import { taskMarkers } from '../support/run-records.ts';
import { waitFor } from '../support/wait.ts';

const ISSUES = 4;
const issueFile = (n: number) =>
  `---\nnumber: ${n}\ntitle: Note ${n}\nlabels: [miyabi, type:docs${n % 2 === 0 ? ', demo:slow' : ''}]\nauthor: aiko\n---\nWrite note ${n} down.\n`;

/** Runs of a task started after one of its runs had ended with an answer (not `retry`): finished work run again. */
function rerunsOfFinishedTasks(markers: TaskMarker[]): string[] {
  const finished = new Set<string>();
  const reruns: string[] = [];
  for (const marker of [...markers].sort((a, b) => a.at.localeCompare(b.at))) {
    if (marker.kind === 'start' && finished.has(marker.taskId)) reruns.push(`${marker.taskId} attempt ${marker.attempt}`);
    if (marker.kind === 'end' && marker.status !== 'retry') finished.add(marker.taskId);
  }
  return reruns;
}

async function doneIssues(dataDir: string): Promise<number> {
  let done = 0;
  for (let n = 1; n <= ISSUES; n++) {
    const record = await readFile(join(dataDir, 'tracker', `issue-${n}.json`), 'utf8').catch(() => '{}');
    if (((JSON.parse(record) as { labels?: { added?: string[] } }).labels?.added ?? []).includes('miyabi:done')) done++;
  }
  return done;
}

const heldDir = await tempDir('miyabi-broker-loss-');
// Where codegen holds #1 until the test releases it; every other issue goes on at once.
const held = join(heldDir.path, 'held');

describe('kill -9 of the embedded nats-server mid-backlog', { timeout: 120_000 }, () => {
  let test: TestOrchestra;
  beforeAll(async () => {
    await mkdir(held, { recursive: true });
    for (let n = 2; n <= ISSUES; n++) await writeFile(join(held, `release-${n}`), '');
    const hold = ['node', join(repoRoot, 'test/support/agents/codegen.mjs'), 'hold', held];
    const example = (role: string) => ['node', join(repoRoot, `examples/agents/${role}.mjs`)];
    const agent = (command: string[]) => ({ command, min: 1, max: 1, taskTimeoutMs: 30_000 });
    test = await startTestOrchestra({
      backend: 'process',
      agents: { codegen: agent(hold), pr: agent(example('pr')) },
      issues: Object.fromEntries(Array.from({ length: ISSUES }, (_, i) => [`${i + 1}.md`, issueFile(i + 1)])),
      // A short ack wait: what the server forgot in the crash comes again within the test.
      config: {
        bus: { ackWaitMs: 3_000, maxDeliver: 5 },
        // The hung server is silent too: the watchdog must not take that for the agents'.
        panes: { backend: 'process', heartbeatIntervalMs: 500, missedHeartbeats: 20 },
        workflow: { retry: { initialDelayMs: 200 } },
      },
    });
  }, 60_000);
  afterAll(async () => {
    await test?.stop();
    await heldDir[Symbol.asyncDispose]();
  });

  it('brings the broker back alone, every agent working again, the backlog done, and no finished task run again', async () => {
    const root = test.orchestra.root()!;
    const roles = ['codegen', 'pr'];
    const agentActor = (role: string): AnyActorRef | undefined => root.childSupervisor('agents')?.childSupervisor(`pool.${role}`)?.childActor(`${role}-1`);
    const heartbeatsOf = (role: string) => (agentActor(role)?.getSnapshot() as { context?: { heartbeats?: number } })?.context?.heartbeats ?? 0;
    const restartsOf = (role: string) => test.node(`root/agents/pool.${role}/${role}-1`)?.restarts;
    const natsPid = () => (root.childSupervisor('broker')?.childActor('nats-server')?.getSnapshot() as { context?: { detail?: { pid?: number } } })?.context?.detail?.pid;

    // #1's codegen finishes while the broker is gone: the server hangs (SIGSTOP), the agent
    // answers, and only then is the server killed. Its result and its ack are caught in the outage.
    await waitFor(() => existsSync(join(held, 'held-1')), { timeoutMs: 60_000, what: "#1's codegen running" });
    const before = Object.fromEntries(roles.map((role) => [role, { actor: agentActor(role), heartbeats: heartbeatsOf(role), restarts: restartsOf(role) }]));
    const bus = test.orchestra.resources.bus;
    const deadPid = natsPid()!;
    process.kill(deadPid, 'SIGSTOP');
    await writeFile(join(held, 'release-1'), '');
    await waitFor(async () => (await taskMarkers(test.dataDir)).some((m) => m.kind === 'end' && m.issue === 1), { timeoutMs: 30_000, what: "#1's codegen answered" });
    const killedAt = Date.now();
    process.kill(deadPid, 'SIGKILL');

    const elapsed = () => Date.now() - killedAt;
    const brokerBackMs = await waitFor(() => natsPid() !== deadPid && test.node('root/broker/nats-server')?.status === 'running' && elapsed(), {
      timeoutMs: 60_000,
      intervalMs: 5,
      what: 'a new nats-server ready',
    });
    // Two heartbeats more than at the kill: at least one sent after it.
    const agentsBackMs = await waitFor(
      () => roles.every((role) => (test.node(`root/agents/pool.${role}/${role}-1`)?.state ?? '').includes('ready.') && heartbeatsOf(role) > before[role]!.heartbeats + 1) && elapsed(),
      { timeoutMs: 60_000, intervalMs: 5, what: 'every agent heartbeating again' },
    );
    const workBackMs = await waitFor(
      async () => (await taskMarkers(test.dataDir)).some((m) => m.kind === 'end' && Date.parse(m.at) > killedAt) && elapsed(),
      { timeoutMs: 60_000, intervalMs: 5, what: 'a task finished after the kill' },
    );
    console.log(`broker loss: nats-server ready ${brokerBackMs} ms, every agent heartbeating ${agentsBackMs} ms, a task finished ${workBackMs} ms after kill -9`);
    expect(processAlive(deadPid)).toBe(false);

    await waitFor(async () => (await doneIssues(test.dataDir)) === ISSUES, { timeoutMs: 90_000, what: `all ${ISSUES} issues done` });
    expect(rerunsOfFinishedTasks(await taskMarkers(test.dataDir))).toEqual([]);
    // The server came back alone: the bus reconnected by itself and no agent was stopped.
    expect(test.orchestra.resources.bus).toBe(bus);
    for (const role of roles) {
      expect(agentActor(role), role).toBe(before[role]!.actor);
      expect(restartsOf(role), role).toBe(before[role]!.restarts);
    }
  });
});
