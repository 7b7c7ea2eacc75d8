import { describe, expect, it } from 'vitest';
import { OrchestraMetrics, OTHER_LABEL, subjectLabel } from '../../src/infra/observe/metrics.ts';

async function series(metrics: OrchestraMetrics, name: string): Promise<string[]> {
  const text = await metrics.render();
  return text.split('\n').filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `));
}

describe('OrchestraMetrics', () => {
  it('keeps a series per state an actor has been in (and running, stopped), 1 on its current one, all gone when it stops', async () => {
    const metrics = new OrchestraMetrics({ defaultMetrics: false });
    metrics.actorState('agent.codegen.1', 'spawning');
    metrics.actorState('agent.codegen.1', 'ready');
    metrics.actorState('scheduler', 'running');
    expect(await series(metrics, 'miyabi_actor_state')).toEqual([
      'miyabi_actor_state{actor="agent.codegen.1",state="running"} 0',
      'miyabi_actor_state{actor="agent.codegen.1",state="stopped"} 0',
      'miyabi_actor_state{actor="agent.codegen.1",state="spawning"} 0',
      'miyabi_actor_state{actor="agent.codegen.1",state="ready"} 1',
      'miyabi_actor_state{actor="scheduler",state="running"} 1',
      'miyabi_actor_state{actor="scheduler",state="stopped"} 0',
    ]);
    metrics.actorStopped('agent.codegen.1');
    expect(await series(metrics, 'miyabi_actor_state')).toEqual([
      'miyabi_actor_state{actor="scheduler",state="running"} 1',
      'miyabi_actor_state{actor="scheduler",state="stopped"} 0',
    ]);
  });

  it('observes the time from a fault to the recovery, once per fault', async () => {
    const metrics = new OrchestraMetrics({ defaultMetrics: false });
    metrics.faultNoticed('codegen-1', 'pane_died', 1_000);
    metrics.faultNoticed('codegen-1', 'heartbeat_lost', 1_500);
    metrics.recovered('codegen-1', 3_500);
    metrics.recovered('codegen-1', 9_000);
    expect(await series(metrics, 'miyabi_recovery_seconds_sum')).toContain('miyabi_recovery_seconds_sum{fault="pane_died"} 2.5');
    expect(await series(metrics, 'miyabi_recovery_seconds_count')).toContain('miyabi_recovery_seconds_count{fault="pane_died"} 1');
    expect(await series(metrics, 'miyabi_recovery_seconds_count')).toContain('miyabi_recovery_seconds_count{fault="heartbeat_lost"} 0');
  });

  it('counts restarts, escalations and health', async () => {
    const metrics = new OrchestraMetrics({ defaultMetrics: false });
    metrics.childRestarted('agents.codegen', 'agent.codegen.1');
    metrics.childRestarted('agents.codegen', 'agent.codegen.1');
    metrics.supervisorEscalated('agents.codegen');
    metrics.healthy(false);
    expect(await series(metrics, 'miyabi_supervisor_restarts_total')).toEqual([
      'miyabi_supervisor_restarts_total{supervisor="agents.codegen",child="agent.codegen.1"} 2',
    ]);
    expect(await series(metrics, 'miyabi_supervisor_escalations_total')).toEqual([
      'miyabi_supervisor_escalations_total{supervisor="agents.codegen"} 1',
    ]);
    expect(await series(metrics, 'miyabi_healthy')).toEqual(['miyabi_healthy 0']);
  });

  it('serves as the bus observer, with subjects cut to three tokens', async () => {
    const metrics = new OrchestraMetrics({ defaultMetrics: false });
    const observer = metrics.busObserver();
    observer.published('miyabi.tasks.codegen.1');
    observer.published('miyabi.tasks.codegen.2');
    observer.acked('miyabi.tasks.codegen.1');
    observer.redelivered('miyabi.tasks.review.9');
    observer.deadLettered('miyabi.tasks.review.9', 'malformed');
    observer.sequenceGap('agent.codegen.1', 3);
    observer.duplicate('agent.codegen.1');
    expect(await series(metrics, 'miyabi_bus_published_total')).toEqual([
      'miyabi_bus_published_total{subject="miyabi.tasks.codegen"} 2',
    ]);
    expect(await series(metrics, 'miyabi_bus_acked_total')).toHaveLength(1);
    expect(await series(metrics, 'miyabi_bus_redelivered_total')).toEqual([
      'miyabi_bus_redelivered_total{subject="miyabi.tasks.review"} 1',
    ]);
    expect(await series(metrics, 'miyabi_bus_dead_lettered_total')).toEqual([
      'miyabi_bus_dead_lettered_total{subject="miyabi.tasks.review",reason="malformed"} 1',
    ]);
    expect(await series(metrics, 'miyabi_bus_sequence_gaps_total')).toEqual([
      'miyabi_bus_sequence_gaps_total{sender="agent.codegen.1"} 1',
    ]);
    expect(await series(metrics, 'miyabi_bus_duplicates_total')).toEqual([
      'miyabi_bus_duplicates_total{sender="agent.codegen.1"} 1',
    ]);
    expect(subjectLabel('miyabi.events')).toBe('miyabi.events');
  });

  it('has the counters of a subject a consumer reads from 0, dead letters by every reason; none for a wildcard label', async () => {
    const metrics = new OrchestraMetrics({ defaultMetrics: false });
    const observer = metrics.busObserver();
    observer.consuming('miyabi.events.task.>');
    observer.consuming('miyabi.events.>');
    expect(await series(metrics, 'miyabi_bus_dead_lettered_total')).toEqual([
      'miyabi_bus_dead_lettered_total{subject="miyabi.events.task",reason="malformed"} 0',
      'miyabi_bus_dead_lettered_total{subject="miyabi.events.task",reason="delivery_limit"} 0',
    ]);
    expect(await series(metrics, 'miyabi_bus_acked_total')).toEqual(['miyabi_bus_acked_total{subject="miyabi.events.task"} 0']);
  });

  it('names the NATS server\'s version in miyabi_build_info once connected, and keeps it when the build is told again', async () => {
    const metrics = new OrchestraMetrics({ defaultMetrics: false });
    metrics.buildInfo({ version: '1.2.3', nodejs: 'v20.0.0', natsMode: 'embedded' });
    expect(await series(metrics, 'miyabi_build_info')).toEqual(['miyabi_build_info{version="1.2.3",nodejs="v20.0.0",nats_server="unknown",nats_mode="embedded"} 1']);
    metrics.natsServerVersion('2.10.24');
    metrics.buildInfo({ version: '1.2.3', nodejs: 'v20.0.0', natsMode: 'embedded' });
    expect(await series(metrics, 'miyabi_build_info')).toEqual(['miyabi_build_info{version="1.2.3",nodejs="v20.0.0",nats_server="2.10.24",nats_mode="embedded"} 1']);
  });

  it('bounds the distinct values of a label', async () => {
    const metrics = new OrchestraMetrics({ defaultMetrics: false, maxLabelValues: 2 });
    for (const sender of ['a', 'b', 'c', 'd', 'a']) metrics.busDuplicate(sender);
    expect(await series(metrics, 'miyabi_bus_duplicates_total')).toEqual([
      'miyabi_bus_duplicates_total{sender="a"} 2',
      'miyabi_bus_duplicates_total{sender="b"} 1',
      `miyabi_bus_duplicates_total{sender="${OTHER_LABEL}"} 2`,
    ]);
  });

  it('lets many instances live side by side, each with the process metrics', async () => {
    const first = new OrchestraMetrics();
    const second = new OrchestraMetrics();
    first.healthy(true);
    expect(await series(second, 'miyabi_healthy')).toEqual(['miyabi_healthy 0']);
    expect(await first.render()).toContain('nodejs_eventloop_lag_seconds');
    expect(await second.render()).toContain('process_cpu_seconds_total');
  });
});
