/**
 * The soak at CI size: a steady stream of issues with recurring faults; nothing grows without
 * bound, nothing is lost, duplicated or leaked, and the plan's KPIs are read for the run. Full
 * size: `npm run soak -- --duration 1h` (docs/SOAK.md). The seed is random and printed.
 */
import { describe, expect, it } from 'vitest';
import { describeSoak, runSoak } from './soak.ts';

const seed = Number(process.env.MIYABI_SOAK_SEED ?? Math.floor(Math.random() * 2 ** 31));
// Five minutes of feed, as the issue asks of CI (npm run test:ci-long, a step of .ci/run of its own).
const DURATION_MS = 300_000;

describe(`soak, seed ${seed}`, () => {
  it('a steady stream of issues under recurring faults: every resource bounded, every issue done, nothing leaked', async () => {
    console.log(`soak seed ${seed} (MIYABI_SOAK_SEED=${seed} to replay)`);
    const result = await runSoak({ seed, durationMs: DURATION_MS, issueEveryMs: 10_000, faultEveryMs: 30_000, sampleEveryMs: 5_000, drainMs: 120_000 });
    const report = describeSoak(result);
    console.log(report);
    expect(result.verdicts.filter((verdict) => !verdict.ok), report).toEqual([]);
    expect(result.kpis, 'the KPIs of the run').toBeDefined();
    expect(report.split('\n').at(-1)).toBe(`soak: ${result.issues}/${result.issues} done, 0 growing, 0 lost, 0 duplicated, 0 leaked`);
  }, DURATION_MS + 240_000);
});
