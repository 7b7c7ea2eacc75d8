/** The agent watchdog decides from heartbeats and runner exits alone; time is simulated. */
import { agentState } from '../../src/actors/metrics-collectors.ts';
import { describeActorState } from '../../src/supervisor/tree.ts';
import { describe, expect, it } from 'vitest';
import { createActor, fromCallback, fromPromise, SimulatedClock } from 'xstate';
import { agentPaneMachine, type AgentPaneEvent, type AgentStatusLine, type Heartbeat } from '../../src/machines/agent-pane.ts';

const input = {
  agentId: 'codegen-1',
  role: 'codegen',
  displayName: 'カエデ Kaede',
  heartbeatIntervalMs: 1_000,
  missedHeartbeats: 3,
  taskTimeoutMs: 10_000,
  taskGraceMs: 2_000,
  spawnTimeoutMs: 5_000,
};

/** Lets the broker check (a promise) settle. */
const settled = () => new Promise((resolve) => setImmediate(resolve));

/** `broker.answers`: what the broker check says; `broker.back()`: the broker answers again. */
function harness() {
  const clock = new SimulatedClock();
  const broker = { answers: true, asked: 0, back: () => {} };
  const shown: AgentStatusLine[] = [];
  const log: string[] = [];
  let sendBack!: (event: AgentPaneEvent) => void;
  const machine = agentPaneMachine.provide({
    actors: {
      runner: fromCallback<AgentPaneEvent, { agentId: string }>(({ sendBack: send, input: { agentId } }) => {
        sendBack = send;
        log.push(`spawn ${agentId}`);
        return () => log.push('runner stopped');
      }),
      heartbeats: fromCallback(() => () => {}),
      brokerAnswers: fromPromise(async () => {
        broker.asked += 1;
        return broker.answers;
      }),
      brokerBack: fromPromise(() => new Promise<void>((resolve) => (broker.back = resolve))),
    },
    actions: {
      show: (_, status) => shown.push(status),
      terminateRunner: () => log.push('terminate'),
    },
  });
  const errors: unknown[] = [];
  const actor = createActor(machine, { input, clock });
  actor.subscribe({ error: (error) => errors.push(error) });
  actor.start();
  const beat = (heartbeat: Partial<Heartbeat> = {}) =>
    actor.send({ type: 'agent.heartbeat', heartbeat: { agentId: 'codegen-1', state: 'idle', pid: 42, ...heartbeat } });
  return { clock, broker, shown, log, errors, actor, beat, exit: (code: number | null) => sendBack({ type: 'runner.exited', code, signal: null }) };
}

describe('agent pane watchdog', () => {
  it('goes spawning → idle → busy → idle with the issue shown', () => {
    const h = harness();
    expect(h.actor.getSnapshot().value).toEqual({ alive: 'spawning' });
    expect(h.actor.getSnapshot().hasTag('starting')).toBe(true);
    h.beat();
    expect(h.actor.getSnapshot().value).toEqual({ alive: { ready: 'idle' } });
    h.beat({ state: 'busy', taskId: 't1', issue: 12 });
    expect(h.actor.getSnapshot().value).toEqual({ alive: { ready: 'busy' } });
    expect(h.shown.at(-1)).toMatchObject({ state: 'busy', issue: 12, displayName: 'カエデ Kaede' });
    h.beat();
    expect(h.shown.at(-1)).toMatchObject({ state: 'idle', issue: undefined });
    expect(h.errors).toEqual([]);
    h.actor.stop();
  });

  it('fails as unresponsive after the missed heartbeats (the broker answering), and stops its runner', async () => {
    const h = harness();
    h.beat();
    for (let second = 0; second < 10; second += 1) {
      h.clock.increment(999);
      h.beat();
    }
    expect(h.errors).toEqual([]);
    h.clock.increment(2_999);
    expect(h.errors).toEqual([]);
    h.clock.increment(1);
    await settled();
    expect(h.broker.asked).toBe(1);
    expect(h.log).toContain('runner stopped');
    h.clock.increment(0);
    expect(h.errors).toHaveLength(1);
    expect(String(h.errors[0])).toContain('unresponsive: no heartbeat for 3 × 1000 ms');
    expect(h.shown.at(-1)!.state).toBe('unresponsive');
    expect(h.log).toContain('runner stopped');
  });

  it('does not count a silence while its own bus is down; the reconnect starts a fresh deadline', async () => {
    const h = harness();
    h.beat();
    h.actor.send({ type: 'bus.disconnected' });
    h.clock.increment(30_000);
    expect(h.errors).toEqual([]);
    expect(h.actor.getSnapshot().value).toEqual({ alive: { ready: 'idle' } });
    h.actor.send({ type: 'bus.reconnected' });
    h.clock.increment(2_999);
    expect(h.errors).toEqual([]);
    // Back on the bus and still silent: that silence is the runner's.
    h.clock.increment(1);
    await settled();
    h.clock.increment(0);
    expect(String(h.errors[0])).toContain('unresponsive: no heartbeat for 3 × 1000 ms');
  });

  it('does not blame the runner for a silence while the broker does not answer (a stalled broker, issue #15); once it answers, a fresh deadline', async () => {
    const h = harness();
    h.beat();
    h.broker.answers = false;
    h.clock.increment(3_000);
    await settled();
    expect(h.broker.asked).toBe(1);
    expect(h.actor.getSnapshot().value).toEqual({ alive: 'waitingForBroker' });
    expect(h.shown.at(-1)!.state).toBe('waiting for the broker');
    // Counted as such by miyabi_agents, not as failed.
    const node = { id: 'codegen-1', type: 'worker', status: 'running', state: describeActorState(h.actor.getSnapshot()), restarts: 0, uptimeMs: 0 } as const;
    expect(agentState(node)).toBe('waiting_for_broker');
    h.clock.increment(60_000);
    expect(h.errors).toEqual([]);
    // The broker serves again: the runner has its full deadline to be heard.
    h.broker.answers = true;
    h.broker.back();
    await settled();
    expect(h.actor.getSnapshot().value).toEqual({ alive: { ready: 'idle' } });
    h.clock.increment(2_999);
    expect(h.errors).toEqual([]);
    h.clock.increment(1);
    await settled();
    h.clock.increment(0);
    expect(String(h.errors[0])).toContain('unresponsive: no heartbeat for 3 × 1000 ms');
  });

  it('a heartbeat while it waits for the broker puts the agent back to ready', async () => {
    const h = harness();
    h.beat();
    h.broker.answers = false;
    h.clock.increment(3_000);
    await settled();
    h.beat({ state: 'busy', taskId: 't1', issue: 4 });
    expect(h.actor.getSnapshot().value).toEqual({ alive: { ready: 'busy' } });
    expect(h.errors).toEqual([]);
    h.actor.stop();
  });

  it('fails a task overdue past timeout + grace even while heartbeats keep coming', () => {
    const h = harness();
    h.beat({ state: 'busy', taskId: 't1', issue: 3 });
    for (let elapsed = 0; elapsed < 11_000; elapsed += 1_000) {
      h.clock.increment(1_000);
      h.beat({ state: 'busy', taskId: 't1', issue: 3 });
    }
    expect(h.errors).toEqual([]);
    h.clock.increment(1_000);
    h.clock.increment(0);
    expect(String(h.errors[0])).toContain('task t1 still running past its 10000 ms timeout');
  });

  it('does not count a finished task against the next one', () => {
    const h = harness();
    h.beat({ state: 'busy', taskId: 't1' });
    for (let elapsed = 0; elapsed < 9_000; elapsed += 1_000) {
      h.clock.increment(1_000);
      h.beat({ state: 'busy', taskId: 't1' });
    }
    h.beat();
    h.clock.increment(500);
    h.beat({ state: 'busy', taskId: 't2' });
    for (let elapsed = 0; elapsed < 11_000; elapsed += 1_000) {
      h.clock.increment(1_000);
      h.beat({ state: 'busy', taskId: 't2' });
    }
    expect(h.errors).toEqual([]);
    h.actor.stop();
  });

  it('fails when the runner exits, and when no first heartbeat comes', () => {
    const exited = harness();
    exited.beat();
    exited.exit(137);
    exited.clock.increment(0);
    expect(String(exited.errors[0])).toContain('runner exited (code 137');
    expect(exited.log).toEqual(['spawn codegen-1', 'runner stopped']);
    const silent = harness();
    silent.clock.increment(5_000);
    silent.clock.increment(0);
    expect(String(silent.errors[0])).toContain('no heartbeat within 5000 ms');
  });

  it('on shutdown asks the runner to stop and finishes when it has exited', () => {
    const h = harness();
    h.beat();
    h.actor.send({ type: 'supervisor.shutdown' });
    expect(h.log).toContain('terminate');
    expect(h.actor.getSnapshot().status).toBe('active');
    h.clock.increment(60_000);
    expect(h.errors).toEqual([]);
    h.exit(0);
    expect(h.actor.getSnapshot().status).toBe('done');
    expect(h.errors).toEqual([]);
  });
});
