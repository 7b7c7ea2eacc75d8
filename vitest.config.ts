import { defineConfig } from 'vitest/config';

/** Run only with MIYABI_LONG=1 (package.json `test:ci-long`, `test:long`). */
const LONG_SUITES = [
  'test/soak/soak.test.ts',
  'test/chaos/chaos-fixed.test.ts',
  'test/chaos/chaos-github.test.ts',
  'test/chaos/chaos-random.test.ts',
  'test/chaos/chaos-full-disk.test.ts',
  'test/workflow/fd-limit-volume.test.ts',
  'test/chaos/full-disk.test.ts',
  'test/cluster/leader-work.test.ts',
  'test/cluster/replicas.test.ts',
  'test/cluster/leader-lease.test.ts',
  'test/cluster/nats-cluster.test.ts',
  'test/cluster/agent-ids.test.ts',
  'test/cluster/cluster-status.test.ts',
  'test/cluster/cluster-config.test.ts',
  'test/cluster/answers-across-nodes.test.ts',
  'test/cluster/cluster-up.test.ts',
];

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The long suites (`npm run test:ci-long`, the last step of .ci/run, and `npm run test:long`):
    // the soak at CI size, chaos on its fixed seeds and on a random one, chaos with a full disk,
    // the volume run, the clustered-nats tests, a local cluster of three nodes worked end to end.
    // They run in CI all the same, after the default suite, which keeps its 10 minutes on a 2-core
    // machine; the default suite keeps every unit test of them.
    exclude: ['**/node_modules/**', ...(process.env.MIYABI_LONG === '1' ? [] : LONG_SUITES)],
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
