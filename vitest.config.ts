import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The long suites' extra runs: `npm run test:long` and `npm run test:ci-long` (the soak at CI
    // size, chaos on a random seed and with a full disk, a local cluster of three nodes worked end
    // to end). The default suite keeps chaos on
    // its fixed seed, the cluster's in-process tests, and every unit test of them.
    exclude: ['**/node_modules/**', ...(process.env.MIYABI_LONG === '1' ? [] : ['test/soak/soak.test.ts', 'test/chaos/chaos-random.test.ts', 'test/chaos/chaos-full-disk.test.ts', 'test/cluster/cluster-up.test.ts'])],
    setupFiles: ['test/support/setup.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    // Suites start real nats-server, tmux and child processes; a generous default avoids flakes
    // on a shared 2-core machine without hiding hangs (each wait in a test has its own deadline).
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Vitest fails the run on any unhandled error or rejection; keep that on deliberately.
    dangerouslyIgnoreUnhandledErrors: false,
    pool: 'forks',
    // Suites mostly wait on processes they started (nats-server, tmux, agents, the CLI), so they
    // overlap well: more files at once than cores (vitest's default on 2 cores is one at a time).
    maxWorkers: 2,
  },
});
