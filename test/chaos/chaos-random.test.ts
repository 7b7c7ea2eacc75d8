/**
 * The chaos suite at CI size on a random seed, printed first (and on failure) so a failing run
 * can be replayed: MIYABI_CHAOS_SEED=<seed>, or `npm run chaos -- --seed <seed> --issues 6 --faults 5`.
 */
import { describe, expect, it } from 'vitest';
import { describeResult, runChaos } from './chaos.ts';

const seed = Number(process.env.MIYABI_CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));

describe(`chaos, random seed ${seed}`, () => {
  it('every issue done, nothing lost, duplicated or leaked', async () => {
    console.log(`chaos seed ${seed} (MIYABI_CHAOS_SEED=${seed} to replay)`);
    const result = await runChaos({ seed, issues: 6, faults: 5, durationMs: 150_000 });
    const report = describeResult(result);
    console.log(report);
    expect(report.split('\n').at(-1), `seed ${seed}`).toMatch(/^chaos: \d+ faults, 6\/6 done, 0 lost, 0 duplicated, 0 leaked$/);
  }, 200_000);
});
