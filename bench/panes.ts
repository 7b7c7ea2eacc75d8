/**
 * MTTR of an agent: `kill -9` of a pane runner in the middle of a task, until that task runs again
 * in the replacement runner. A real orchestra in-process (tmux backend on a private socket, the
 * embedded nats-server, a temp git repository), one role whose agent records each attempt and
 * hangs. Beside it, the floor measured in the same run, round for round: tmux respawning a pane
 * whose node process imports the NATS client, connects and publishes one message.
 *
 * Each recovery is also taken apart, in milliseconds after the kill at which each step was first
 * seen: the agent actor failed (the pane watcher reported the death), a fresh actor exists (the
 * pool restarted it), its runner has a pid (tmux respawned the pane), the runner's first heartbeat
 * (connected and consuming), its first heartbeat busy with the task (redelivered), the one naming
 * the agent's pid (worktree and task files ready, agent spawned), the agent's `started-<n>` file
 * (the task runs again).
 */
import { execa } from 'execa';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { AnyActorRef } from 'xstate';
import { TmuxServer } from '../src/infra/tmux/client.ts';
import type { AgentPaneContext } from '../src/machines/agent-pane.ts';
import { processAlive } from '../src/infra/os/process.ts';
import { inboxPrefixOf } from '../src/infra/nats/identities.ts';
import { decodeHeartbeat, heartbeatSubject, spareReadySubject, type HeartbeatMessage } from '../src/runner/heartbeat.ts';
import { runnerIdentity } from '../src/runner/task-message.ts';
import { issue, startTestOrchestra, type TestOrchestra } from '../test/support/orchestra.ts';
import { waitFor } from '../test/support/wait.ts';
import type { BenchRow } from './types.ts';

const ROLE = 'mttr';
const AGENT = `${ROLE}-1`;
const KILLS = 20;
/** Kills before the measured ones: the first restart also warms up the orchestra's code paths. */
const WARMUP_KILLS = 1;
const PANE_POLL_MS = 50;
/** Quiet time before each kill and each floor round, so neither pays for the other's tail. */
const SETTLE_MS = 250;
const SOCKET = `miyabi-bench-${process.pid}`;
const FLOOR_SOCKET = `miyabi-bench-floor-${process.pid}`;

const fixture = (name: string) => resolve(import.meta.dirname, 'fixtures', name);

const STEPS = ['noticed', 'restarted', 'spawned', 'heartbeat', 'busy', 'agent', 'running'] as const;
type Step = (typeof STEPS)[number];
/** Milliseconds after the kill at which each step was first seen; `ready` is the actor's state. */
type Recovery = Record<Step | 'ready', number>;

const STEP_NAMES: Record<Step, string> = {
  noticed: 'kill → pane death noticed (agent actor failed)',
  restarted: 'noticed → fresh agent actor (pool restart)',
  spawned: 'restart → runner pid known (the role\'s spare claimed over NATS; else a respawned pane)',
  heartbeat: 'runner pid → first heartbeat (a claimed spare: start as the agent, consume; else node start too)',
  busy: 'first heartbeat → busy with the task (redelivery)',
  agent: 'busy → agent process spawned (worktree, task files)',
  running: 'agent spawned → its started file written (the agent\'s own start: node)',
};

const settle = () => new Promise((done) => setTimeout(done, SETTLE_MS));

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** The floor, one round: `start` makes a node process publish on `subject`; ms until it arrives. */
async function floorRound(nc: NatsConnection, subject: string, start: () => Promise<unknown>): Promise<number> {
  let subscription: Subscription | undefined;
  const arrived = new Promise<void>((done) => {
    subscription = nc.subscribe(subject, { max: 1, callback: () => done() });
  });
  await nc.flush();
  const began = performance.now();
  await start();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('floor: no message within 10 s')), 10_000);
  });
  try {
    await Promise.race([arrived, timeout]);
  } finally {
    clearTimeout(timer);
    subscription?.unsubscribe();
  }
  return performance.now() - began;
}

export async function benchPanes(): Promise<BenchRow[]> {
  let test: TestOrchestra | undefined;
  const floorServer = new TmuxServer({ socketName: FLOOR_SOCKET });
  let heartbeats: Subscription | undefined;
  const agentPids: number[] = [];
  try {
    test = await startTestOrchestra({
      backend: 'tmux',
      agents: {
        [ROLE]: {
          command: ['node', fixture('hang.mjs')],
          min: 1,
          max: 1,
          graceMs: 1_000,
          // A role of the bench's own has no shipped template: it borrows codegen's.
          prompt: resolve(import.meta.dirname, '../config/prompts/codegen.md'),
        },
      },
      config: {
        log: { level: 'info', file: true },
        // Redelivery must come from the orchestra's nak of the dead runner's task, never from the
        // ack wait; every kill is a delivery, so the limit is well above the kills.
        bus: { ackWaitMs: 30_000, maxDeliver: 50 },
        // Restart backoff off: the pool's default starts at 500 ms, which would be most of the MTTR.
        supervisor: { restartIntensity: 1_000, restartPeriodMs: 60_000, backoff: { minMs: 1, maxMs: 1, randomFactor: 0 } },
        panes: { backend: 'tmux', socket: SOCKET, session: 'miyabi-bench', pollIntervalMs: PANE_POLL_MS },
      },
    });
    const { orchestra, dataDir } = test;
    const nc = orchestra.resources.nc as NatsConnection;
    const agentActor = (): AnyActorRef | undefined =>
      orchestra.root()?.childSupervisor('agents')?.childSupervisor(`pool.${ROLE}`)?.childActor(AGENT);
    const contextOf = (actor: AnyActorRef) => (actor.getSnapshot() as { context: AgentPaneContext }).context;

    let last: HeartbeatMessage | undefined;
    let onHeartbeat: ((heartbeat: HeartbeatMessage) => void) | undefined;
    heartbeats = nc.subscribe(heartbeatSubject(ROLE, AGENT), {
      callback: (_error, message) => {
        const heartbeat = decodeHeartbeat(message.data);
        if (!heartbeat) return;
        last = heartbeat;
        onHeartbeat?.(heartbeat);
      },
    });
    await nc.flush();

    const taskId = await test.dispatch(ROLE, { issue: issue(1) });
    const started = (attempt: number) => join(dataDir, 'tasks', taskId, `started-${attempt}`);

    /** Waits until attempt `n` runs and the orchestra knows it (busy, with the agent's pid). */
    const running = (attempt: number) =>
      waitFor(
        () => {
          const actor = agentActor();
          if (!actor || !existsSync(started(attempt))) return undefined;
          const agentPid = Number(readFileSync(started(attempt), 'utf8'));
          const { pid, taskId: busyWith } = contextOf(actor);
          const known = last !== undefined && last.pid === pid && last.state === 'busy' && last.agentPid === agentPid;
          const busy = known && busyWith === taskId && actor.getSnapshot().matches({ alive: { ready: 'busy' } });
          return busy ? { actor, pid: pid!, agentPid } : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 5, what: `attempt ${attempt} running` },
      );

    const recover = async (attempt: number): Promise<Recovery> => {
      const { actor: old, pid: runnerPid, agentPid } = await running(attempt);
      agentPids.push(agentPid);
      await settle();
      const marks: Partial<Recovery> = {};
      let killedAt = 0;
      const mark = (step: keyof Recovery) => {
        marks[step] ??= performance.now() - killedAt;
      };
      const watching = old.subscribe({
        next: (snapshot: { matches(state: string): boolean }) => {
          if (snapshot.matches('failed')) mark('noticed');
        },
        error: () => mark('noticed'),
      });
      onHeartbeat = (heartbeat) => {
        if (heartbeat.pid === runnerPid) return;
        mark('heartbeat');
        if (heartbeat.state !== 'busy' || heartbeat.taskId !== taskId) return;
        mark('busy');
        if (heartbeat.agentPid !== undefined) mark('agent');
      };
      killedAt = performance.now();
      process.kill(runnerPid, 'SIGKILL');
      try {
        await waitFor(
          () => {
            const actor = agentActor();
            if (actor && actor !== old) {
              mark('restarted');
              if (contextOf(actor).pid !== undefined) mark('spawned');
              if (actor.getSnapshot().matches({ alive: 'ready' })) mark('ready');
            }
            if (!existsSync(started(attempt + 1))) return false;
            mark('running');
            return true;
          },
          { timeoutMs: 30_000, intervalMs: 1, what: `attempt ${attempt + 1} running after the kill` },
        );
      } finally {
        watching.unsubscribe();
        onHeartbeat = undefined;
      }
      for (const step of [...STEPS, 'ready'] as const) {
        if (marks[step] === undefined) throw new Error(`kill ${attempt}: step ${step} was never seen`);
      }
      return marks as Recovery;
    };

    // The floor pane: the session's placeholder taken over once, then respawned in place.
    // As a runner starts: with a runner's identity (the bus is locked), on a subject runners may publish.
    const natsUrl = orchestra.resources.natsServers[0]!;
    const floorSubject = spareReadySubject(ROLE, `bench-floor-${process.pid}`);
    const runnerSeed = orchestra.resources.natsIdentities!.get(runnerIdentity(ROLE, 'spare', undefined))!.file;
    const floorArgv = [process.execPath, fixture('nats-publish.mjs'), natsUrl, floorSubject, runnerSeed, inboxPrefixOf(runnerIdentity(ROLE, 'spare', undefined))];
    await floorServer.ensureSession('floor', { cwd: test.dir.path });
    let floorPane = '';
    await floorRound(nc, floorSubject, async () => {
      floorPane = (await floorServer.spawnPane('floor', { argv: floorArgv, cwd: test!.dir.path, title: 'floor' })).paneId;
    });

    const recoveries: Recovery[] = [];
    const floor: number[] = [];
    for (let kill = 1; kill <= WARMUP_KILLS + KILLS; kill += 1) {
      const recovery = await recover(kill);
      if (kill <= WARMUP_KILLS) continue;
      recoveries.push(recovery);
      // Interleaved, so the floor and the MTTR see the same machine at the same time.
      await settle();
      floor.push(await floorRound(nc, floorSubject, () => floorServer.respawnPane(floorPane, { argv: floorArgv, cwd: test!.dir.path })));
    }

    const mttr = recoveries.map((recovery) => recovery.running);
    const ready = recoveries.map((recovery) => recovery.ready);
    const setting =
      `${KILLS} kills after ${WARMUP_KILLS} warm-up, tmux backend; restart backoff off (the pool's default starts at 500 ms); ` +
      `pane watcher polls every ${PANE_POLL_MS} ms (default 250)`;
    const floorNote = `same run, ${KILLS} rounds interleaved with the kills, ${SETTLE_MS} ms quiet before each round and each kill`;
    const steps = STEPS.map((step, index): BenchRow => {
      const previous = index === 0 ? undefined : STEPS[index - 1]!;
      const spans = recoveries.map((recovery) => recovery[step] - (previous === undefined ? 0 : recovery[previous]));
      return { name: `panes: MTTR step, ${STEP_NAMES[step]}, median`, value: percentile(spans, 50), unit: 'ms' };
    });
    return [
      { name: 'panes: MTTR kill -9 of a busy runner → task running again, median', value: percentile(mttr, 50), unit: 'ms', note: `goal < 500 ms; ${setting}` },
      { name: 'panes: MTTR kill -9 of a busy runner → task running again, p99', value: percentile(mttr, 99), unit: 'ms', note: `goal < 1500 ms; of ${KILLS}: the slowest` },
      { name: 'panes: kill -9 of a busy runner → replacement agent ready, median', value: percentile(ready, 50), unit: 'ms', note: 'first heartbeat of the new runner' },
      ...steps,
      { name: 'panes: floor (tmux respawn → node + NATS client connected → publish), median', value: percentile(floor, 50), unit: 'ms', note: floorNote },
      { name: 'panes: floor (tmux respawn → node + NATS client connected → publish), p99', value: percentile(floor, 99), unit: 'ms' },
      { name: 'panes: MTTR / floor (median)', value: percentile(mttr, 50) / percentile(floor, 50), unit: '×' },
    ];
  } finally {
    heartbeats?.unsubscribe();
    await floorServer.killServer().catch(() => {});
    if (test) {
      const { dir } = test;
      await test.stop().catch(async (error: unknown) => {
        process.stderr.write(`panes bench: orchestra stop failed: ${String(error)}\n`);
        await dir[Symbol.asyncDispose]();
      });
    }
    await execa('tmux', ['-L', SOCKET, 'kill-server'], { reject: false });
    // The orchestra stops the agent a dead runner leaves behind; one still alive is a leak.
    const left = agentPids.filter((pid) => processAlive(pid));
    for (const pid of left) process.kill(pid, 'SIGKILL');
    if (left.length > 0) process.stderr.write(`panes bench: agents left behind by dead runners, killed: ${left.join(' ')}\n`);
  }
}
