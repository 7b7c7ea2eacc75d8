import { describe, expect, it } from 'vitest';
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
});
