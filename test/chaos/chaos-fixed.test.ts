/**
 * The chaos suite at CI size, on a fixed seed (51: a chain of dependencies, every fault kind
 * once — an agent program, a runner and the nats-server killed, a runner silenced, the
 * orchestrator killed and started again). Full size: `npm run chaos` (test/chaos/run.ts).
 */
import { describe, expect, it } from 'vitest';
import { describeResult, runChaos } from './chaos.ts';
import { FAULT_KINDS } from './plan.ts';
import { NO_TARGET } from './supervised-up.ts';

describe('chaos, fixed seed', () => {
  it('every issue done, nothing lost, duplicated or leaked, every fault kind recovered from', async () => {
    const result = await runChaos({ seed: 51, issues: 6, faults: 5, durationMs: 150_000 });
    const report = describeResult(result);
    console.log(report);
    expect(report.split('\n').at(-1)).toBe(`chaos: ${result.faults.length} faults, 6/6 done, 0 lost, 0 duplicated, 0 leaked`);
    expect(new Set(result.faults.map((fault) => fault.kind))).toEqual(new Set(FAULT_KINDS));
    expect(result.faults.filter((fault) => fault.target === NO_TARGET).map((fault) => fault.kind)).toEqual([]);
    expect(result.orchestratorRestarts, result.orchestratorExits.join('\n')).toBe(1);
    // The orchestra's own MTTR saw its restart.
    expect(result.kpis?.mttr.byFault.orchestra_down?.count).toBe(1);
    // The five KPIs, throughput included, are in the report.
    expect(report).toMatch(/^throughput 6 finished \(6 done, 0 failed\); autonomy [\d.]+ %, success [\d.]+ %, utilization [\d.]+ %$/m);
  }, 200_000);
});
