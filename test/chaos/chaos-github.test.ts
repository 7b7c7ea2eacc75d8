/**
 * The chaos suite at CI size on the fake GitHub, on a fixed seed (53: a chain #1 → #2 → #3, and
 * every tracker fault — 502s, a secondary rate limit's window, connections dropped before and
 * after a write was applied, slow answers — beside a kill -9 of the orchestrator). GitHub's own
 * record must show each side effect once: a comment per key, one pull request and one merge per
 * issue, `miyabi:done` applied once. Full size: `npm run chaos -- --tracker github`.
 */
import { describe, expect, it } from 'vitest';
import { describeResult, runChaos } from './chaos.ts';
import { TRACKER_FAULT_KINDS } from './plan.ts';

describe('chaos on the fake GitHub, fixed seed', () => {
  it('every issue done, no side effect twice on GitHub, nothing lost or leaked, every tracker fault struck', async () => {
    const result = await runChaos({ seed: 53, issues: 5, faults: 6, durationMs: 150_000, tracker: 'github' });
    const report = describeResult(result);
    console.log(report);
    expect(report.split('\n').at(-1)).toBe('chaos: 6 faults, 5/5 done, 0 lost, 0 duplicated, 0 leaked');
    expect(new Set(result.faults.map((fault) => fault.kind))).toEqual(new Set([...TRACKER_FAULT_KINDS, 'kill_orchestrator']));
    expect(result.orchestratorRestarts, result.orchestratorExits.join('\n')).toBe(1);
  }, 200_000);
});
