/**
 * Chaos with a full disk in the schedule (`npm run chaos -- --full-disk`), at CI size on a fixed
 * seed (31: a kill -9 of the nats-server and of a runner, the data directory's disk filled for a
 * while, the orchestrator killed and started again). A long run: in `npm run test:ci-long`, not in
 * `npm test`, which has the full disk alone (test/chaos/full-disk.test.ts). Needs root or
 * CAP_SYS_ADMIN to mount the data directory's tmpfs: without it the run fails, saying so.
 */
import { describe, expect, it } from 'vitest';
import { describeResult, runChaos } from './chaos.ts';

describe('chaos with a full disk, fixed seed', () => {
  it('every issue done, nothing lost, duplicated or leaked, the full disk struck and recovered from', async () => {
    const result = await runChaos({ seed: 31, issues: 6, faults: 4, durationMs: 180_000, fullDisk: true });
    const report = describeResult(result);
    console.log(report);
    expect(report.split('\n').at(-1)).toBe('chaos: 4 faults, 6/6 done, 0 lost, 0 duplicated, 0 leaked');
    const disk = result.faults.find((fault) => fault.kind === 'full_disk');
    expect(disk?.target).toMatch(/^data directory: \d+ MiB of ballast, \d+ bytes left/);
    // Work went on after it: a task answered once the disk had room again.
    expect(disk?.workAgainMs).toBeGreaterThan(0);
  }, 240_000);
});
