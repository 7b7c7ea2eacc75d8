// @ts-check
/**
 * Mutation testing (`npm run mutation`, not part of `npm test`): StrykerJS changes the pure
 * modules below one small way at a time (a `<` to `<=`, a branch removed, a string emptied) and
 * runs their unit tests (vitest.mutation.config.ts); a change no test notices is a survivor.
 * Scores per module are in docs/MUTATION.md. One module: `npm run mutation -- --mutate src/issues/trust.ts`.
 * CPU heavy: one test runner at a time, so it shares a small machine.
 *
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  packageManager: 'npm',
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts', related: false },
  checkers: ['typescript'],
  // The checker compiles only the mutated modules and what they import (tsconfig.mutation.json),
  // not the 500 files of src, test and bench: against the whole project every mutant cost seconds
  // of type checking while the test runner waited.
  tsconfigFile: 'tsconfig.mutation.json',
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  coverageAnalysis: 'perTest',
  concurrency: 1,
  // Static mutants (module-level constants: the zod schemas, the machines' definitions) rerun
  // every test for each mutant: hours on a small machine. They are reported as ignored.
  ignoreStatic: true,
  mutate: [
    'src/supervisor/restart-policy.ts',
    'src/infra/bus/delivery-policy.ts',
    'src/issues/trust.ts',
    'src/issues/routing.ts',
    'src/machines/dag.ts',
    'src/machines/dag/*.ts',
    'src/machines/scheduler.ts',
    'src/machines/issue-lifecycle.ts',
    'src/machines/issue-lifecycle-setup.ts',
    'src/machines/issue-lifecycle-merge.ts',
    'src/infra/observe/redact.ts',
    'src/infra/observe/logger.ts',
    'src/infra/bus/envelope.ts',
  ],
  // A drop below 85 % fails the run; scripts/mutation.mjs applies it to each file too.
  thresholds: { high: 90, low: 85, break: 85 },
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
  // The sandbox needs the sources, the tests and the configs, not the data of earlier runs.
  ignorePatterns: ['dist', 'reports', '.miyabi', '.miyabi-cycle', 'coverage', 'docs', 'examples/**/node_modules'],
};
