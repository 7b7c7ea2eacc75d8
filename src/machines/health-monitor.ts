/**
 * Health monitor: every `checkIntervalMs` it runs the injected `check` and reports the result
 * through the injected `report` action. It decides nothing about what "healthy" means; the check
 * (`healthMonitorChild` in src/actors/core.ts) does.
 */
import { assign, fromPromise, setup } from 'xstate';
import { shutdownTransition, stoppedState } from './shutdown.ts';
import type { HealthProblem } from './health-judge.ts';

export interface HealthReport {
  ok: boolean;
  /** The findings' messages. */
  problems: string[];
  /** Each finding, typed, with its severity (src/machines/health-judge.ts). */
  findings?: HealthProblem[];
  checkedAt: string;
}

/**
 * Whether a report goes on the bus: when what it says (healthy or not, and which findings)
 * differs from the last one published, or `heartbeatMs` after it (a slow heartbeat, so a
 * listener knows the monitor still runs). Reports that only repeat the last one stay off the
 * events stream, which would otherwise grow by one every check.
 */
export function reportToPublish(
  last: { gist: string; at: number } | undefined,
  report: HealthReport,
  now: number,
  heartbeatMs: number,
  also: unknown = null,
): { gist: string; at: number } | undefined {
  const gist = JSON.stringify([report.ok, [...report.problems].sort(), also]);
  if (last !== undefined && last.gist === gist && now - last.at < heartbeatMs) return undefined;
  return { gist, at: now };
}

export interface HealthMonitorInput {
  checkIntervalMs: number;
}

export const healthMonitorMachine = setup({
  types: {
    input: {} as HealthMonitorInput,
    context: {} as HealthMonitorInput & { last: HealthReport | undefined; checks: number },
  },
  actors: {
    check: fromPromise<HealthReport>(async () => ({ ok: true, problems: [], checkedAt: new Date().toISOString() })),
  },
  actions: {
    report: (_, _report: HealthReport) => {},
  },
  delays: {
    interval: ({ context }) => context.checkIntervalMs,
  },
}).createMachine({
  id: 'health-monitor',
  context: ({ input }) => ({ ...input, last: undefined, checks: 0 }),
  initial: 'checking',
  on: shutdownTransition,
  states: {
    checking: {
      invoke: {
        src: 'check',
        onDone: {
          target: 'waiting',
          actions: [
            assign({ last: ({ event }) => event.output, checks: ({ context }) => context.checks + 1 }),
            { type: 'report', params: ({ event }) => event.output },
          ],
        },
        onError: {
          target: 'waiting',
          actions: [
            assign({
              last: ({ event }) => ({ ok: false, problems: [`health check failed: ${String(event.error)}`], checkedAt: new Date().toISOString() }),
              checks: ({ context }) => context.checks + 1,
            }),
            { type: 'report', params: ({ context }) => context.last! },
          ],
        },
      },
    },
    waiting: { after: { interval: 'checking' }, on: { 'health.check': 'checking' } },
    ...stoppedState,
  },
});
