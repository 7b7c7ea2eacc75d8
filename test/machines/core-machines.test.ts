/** The core machines decide without I/O: effects are injected, time is simulated. */
import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, SimulatedClock, waitFor } from 'xstate';
import { healthMonitorMachine, type HealthReport } from '../../src/machines/health-monitor.ts';
import { issueWatcherMachine } from '../../src/machines/issue-watcher.ts';

describe('health monitor', () => {
  it('checks at once, then every interval, and reports each result', async () => {
    const clock = new SimulatedClock();
    const reports: HealthReport[] = [];
    let healthy = true;
    const machine = healthMonitorMachine.provide({
      actors: {
        check: fromPromise(async () => ({ ok: healthy, problems: healthy ? [] : ['bus down'], checkedAt: 't' })),
      },
      actions: { report: (_, report) => reports.push(report) },
    });
    const actor = createActor(machine, { input: { checkIntervalMs: 1_000 }, clock }).start();
    await waitFor(actor, (snapshot) => snapshot.context.checks === 1);
    healthy = false;
    clock.increment(999);
    expect(actor.getSnapshot().value).toBe('waiting');
    clock.increment(1);
    await waitFor(actor, (snapshot) => snapshot.context.checks === 2);
    expect(reports.map((report) => report.ok)).toEqual([true, false]);
    expect(reports[1]!.problems).toEqual(['bus down']);
    actor.send({ type: 'supervisor.shutdown' });
    expect(actor.getSnapshot().status).toBe('done');
  });

  it('reports a check that throws as unhealthy instead of crashing', async () => {
    const reports: HealthReport[] = [];
    const machine = healthMonitorMachine.provide({
      actors: { check: fromPromise<HealthReport>(async () => Promise.reject(new Error('probe broke'))) },
      actions: { report: (_, report) => reports.push(report) },
    });
    const actor = createActor(machine, { input: { checkIntervalMs: 60_000 } }).start();
    await waitFor(actor, (snapshot) => snapshot.context.checks === 1);
    expect(reports[0]).toMatchObject({ ok: false });
    expect(reports[0]!.problems[0]).toContain('probe broke');
    actor.stop();
  });
});

describe('issue watcher', () => {
  it('polls on start and on demand, hands issues over, and survives a failing tracker', async () => {
    const found: unknown[] = [];
    const failures: unknown[] = [];
    let fail = false;
    const machine = issueWatcherMachine.provide({
      actors: {
        poll: fromPromise<unknown>(async () => {
          if (fail) throw new Error('tracker down');
          return { observed: 1 };
        }),
      },
      actions: { polled: (_, outcome) => found.push(outcome), pollFailed: (_, error) => failures.push(error) },
    });
    const actor = createActor(machine, { input: { pollIntervalMs: 60_000 } }).start();
    await waitFor(actor, (snapshot) => snapshot.context.polls === 1);
    fail = true;
    actor.send({ type: 'watcher.poll' });
    await waitFor(actor, (snapshot) => snapshot.context.lastError !== undefined);
    expect(found).toEqual([{ observed: 1 }]);
    expect(failures).toHaveLength(1);
    expect(actor.getSnapshot().status).toBe('active');
    actor.stop();
  });
});
