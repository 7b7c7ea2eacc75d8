import { describe, expect, it } from 'vitest';
import { healthSection } from '../../src/config/sections/runtime.ts';
import { DEFAULT_HEALTH_LIMITS, EMPTY_HEALTH_MEMORY, judgeHealth, type AgentObservation, type HealthObservation } from '../../src/machines/health-judge.ts';

const agent = (id: string, extra: Partial<AgentObservation> = {}): AgentObservation => ({ id, role: 'codegen', status: 'running', state: 'alive.ready.idle', restarts: 0, ...extra });
const healthy = (extra: Partial<HealthObservation> = {}): HealthObservation => ({
  busConnected: true,
  actorsDown: [],
  agents: [agent('codegen-1')],
  deadLetters: 0,
  trackerDegraded: false,
  diskFreeRatio: 0.5,
  eventLoopLagMs: 5,
  rssBytes: 100 * 1024 ** 2,
  ...extra,
});

describe('judgeHealth', () => {
  it('finds nothing wrong with a healthy orchestra', () => {
    expect(judgeHealth(healthy(), EMPTY_HEALTH_MEMORY).problems).toEqual([]);
  });

  it('notices an agent that died and was restarted between two checks', () => {
    const first = judgeHealth(healthy(), EMPTY_HEALTH_MEMORY);
    const second = judgeHealth(healthy({ agents: [agent('codegen-1', { restarts: 1 })] }), first.memory);
    expect(second.problems).toEqual([{ kind: 'agent_restarted', severity: 'warning', subject: 'codegen-1', message: 'agent codegen-1 (codegen) restarted 1 time(s) since the last check' }]);
    expect(judgeHealth(healthy({ agents: [agent('codegen-1', { restarts: 1 })] }), second.memory).problems).toEqual([]);
  });

  it('reports agents down or unhealthy as warnings, and leaves alone one its pool is stopping', () => {
    const problems = judgeHealth(
      healthy({ agents: [agent('a', { status: 'backoff' }), agent('b', { state: 'alive.unresponsive' }), agent('c', { status: 'stopping', state: 'stopping' })] }),
      EMPTY_HEALTH_MEMORY,
    ).problems;
    expect(problems.map((problem) => [problem.kind, problem.severity, problem.subject])).toEqual([
      ['agent_down', 'warning', 'a'],
      ['agent_down', 'warning', 'b'],
    ]);
  });

  it('reports the infrastructure as critical, and dead letters growing, the tracker, the disk, the event loop and memory', () => {
    const first = judgeHealth(healthy(), EMPTY_HEALTH_MEMORY);
    const problems = judgeHealth(
      healthy({ busConnected: false, actorsDown: ['root/core/workflow/dag: backoff'], deadLetters: 2, trackerDegraded: true, diskFreeRatio: 0.04, eventLoopLagMs: 1_500, rssBytes: 3 * 1024 ** 3 }),
      first.memory,
    ).problems;
    expect(problems.map((problem) => `${problem.kind}:${problem.severity}:${problem.subject}`)).toEqual([
      'bus_disconnected:critical:bus',
      'actor_down:critical:root/core/workflow/dag',
      'dead_letters_growing:warning:MIYABI_DLQ',
      'tracker_degraded:warning:tracker',
      'disk_low:critical:dataDir',
      'event_loop_lag:warning:orchestrator',
      'memory_high:warning:orchestrator',
    ]);
    expect(judgeHealth(healthy({ diskFreeRatio: 0.08 }), EMPTY_HEALTH_MEMORY).problems[0]).toMatchObject({ kind: 'disk_low', severity: 'warning' });
  });

  it('reports disk_full, critical, under minFreeDiskBytes free, and nothing at or above it', () => {
    const limits = { ...DEFAULT_HEALTH_LIMITS, minFreeDiskBytes: 100 * 1024 ** 2 };
    expect(judgeHealth(healthy({ diskFreeBytes: 99 * 1024 ** 2 }), EMPTY_HEALTH_MEMORY, limits).problems).toEqual([
      expect.objectContaining({ kind: 'disk_full', severity: 'critical', subject: 'dataDir', message: expect.stringContaining('no new work is dispatched') }),
    ]);
    expect(judgeHealth(healthy({ diskFreeBytes: 100 * 1024 ** 2 }), EMPTY_HEALTH_MEMORY, limits).problems).toEqual([]);
    expect(judgeHealth(healthy({ diskFreeBytes: undefined }), EMPTY_HEALTH_MEMORY, limits).problems).toEqual([]);
  });

  it('reports a role whose tasks got slower as a warning, and keeps it flagged through the memory', () => {
    const durations = [...Array.from({ length: 30 }, () => 60), ...Array.from({ length: 5 }, () => 200)];
    const roles = { codegen: { durations, failures: durations.map(() => false) } };
    const judged = judgeHealth(healthy({ roles }), EMPTY_HEALTH_MEMORY);
    expect(judged.problems).toMatchObject([{ kind: 'slow_tasks', severity: 'warning', subject: 'codegen' }]);
    expect([...(judged.memory.anomalies ?? [])]).toEqual(['slow_tasks:codegen']);
  });

  it('reports a task with no result past its role\'s limit as stuck, not one within it', () => {
    const task = { issue: 7, taskId: 't-7', role: 'codegen', limitMs: 60_000 };
    const problems = judgeHealth(healthy({ tasks: [{ ...task, ageMs: 59_000 }, { ...task, issue: 8, taskId: 't-8', ageMs: 61_000 }] }), EMPTY_HEALTH_MEMORY).problems;
    expect(problems).toEqual([
      { kind: 'task_stuck', severity: 'warning', subject: '#8', message: 'task t-8 of issue #8 (codegen) has had no result for 61 s, past the 60 s its role allows' },
    ]);
  });

  it('reports a ready agent whose heartbeat is late, not one spawning or on time', () => {
    const limits = { ...DEFAULT_HEALTH_LIMITS, heartbeatLateMs: 4_000 };
    const agents = [
      agent('a', { heartbeatAgeMs: 1_000 }),
      agent('b', { state: 'alive.ready.busy', heartbeatAgeMs: 9_000 }),
      agent('c', { state: 'alive.spawning', heartbeatAgeMs: 9_000 }),
    ];
    expect(judgeHealth(healthy({ agents }), EMPTY_HEALTH_MEMORY, limits).problems).toEqual([
      { kind: 'heartbeat_late', severity: 'warning', subject: 'b', message: 'agent b (codegen): last heartbeat 9 s ago' },
    ]);
  });

  it('reports the JetStream store past its share of the limit, critical from 95 %', () => {
    const store = (mib: number) => healthy({ natsStore: { bytes: mib * 1024 ** 2, limitBytes: 100 * 1024 ** 2, limitOf: "the account's JetStream limit" } });
    expect(judgeHealth(store(80), EMPTY_HEALTH_MEMORY).problems).toEqual([]);
    expect(judgeHealth(store(81), EMPTY_HEALTH_MEMORY).problems).toEqual([
      { kind: 'nats_store_full', severity: 'warning', subject: 'nats', message: "the JetStream store holds 81.0 MiB, 81.0 % of the account's JetStream limit (100.0 MiB)" },
    ]);
    expect(judgeHealth(store(96), EMPTY_HEALTH_MEMORY).problems[0]).toMatchObject({ kind: 'nats_store_full', severity: 'critical' });
    expect(judgeHealth(store(60), EMPTY_HEALTH_MEMORY, { ...DEFAULT_HEALTH_LIMITS, maxStoreShare: 0.5 }).problems[0]).toMatchObject({ kind: 'nats_store_full', severity: 'warning' });
  });

  it('reports stuck issues among its findings, with the configured bounds (test/machines/health-stuck.test.ts has the rest)', () => {
    const judged = judgeHealth(
      healthy({ issues: [{ issue: 3, state: 'blocked', ageMs: 7_200_000 }, { issue: 4, state: 'queued', ageMs: 300_000, role: 'codegen' }], idleForMs: { codegen: 300_000 } }),
      EMPTY_HEALTH_MEMORY,
      { ...DEFAULT_HEALTH_LIMITS, stuckIssues: healthSection.parse({}).stuckIssues },
    );
    expect(judged.problems.map((problem) => `${problem.kind}:${problem.subject}`)).toEqual(['issue_stuck:#3', 'dispatch_stalled:#4']);
    // Without bounds (a caller that judges no issues), none.
    expect(judgeHealth(healthy({ issues: [{ issue: 3, state: 'blocked', ageMs: 7_200_000 }] }), EMPTY_HEALTH_MEMORY).problems).toEqual([]);
  });
});
