/**
 * The unit tests of the pure modules under mutation testing (`npm run mutation`,
 * stryker.config.mjs): fast, no servers, no bundle build (so no globalSetup). Each file here is
 * the test of a module in stryker's `mutate` list.
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'test/supervisor/restart-policy.test.ts',
      'test/bus/delivery-policy.test.ts',
      'test/bus/envelope.test.ts',
      'test/issues/trust-and-routing.test.ts',
      'test/machines/dag.test.ts',
      'test/machines/dag-corners.test.ts',
      'test/machines/dag-order.test.ts',
      'test/machines/scheduler.test.ts',
      'test/machines/issue-lifecycle.test.ts',
      'test/machines/issue-lifecycle-merge.test.ts',
      'test/machines/issue-lifecycle-effects.test.ts',
      'test/machines/issue-lifecycle-merge-effects.test.ts',
      'test/infra/redact.test.ts',
      'test/infra/logger.test.ts',
    ],
    setupFiles: ['test/support/setup.ts'],
    testTimeout: 30_000,
  },
});
