// @ts-check
/**
 * Mutation testing of the issue lifecycle machine, static mutants included.
 *
 * The machine is an XState definition held in module-level constants (`issueLifecycleMachine`,
 * `lifecycleSetup`, `mergeStates`): its targets, action and guard names, state labels, `reenter`
 * flags and action lists are evaluated once, when the module loads, so Stryker counts their
 * mutants as static — and `ignoreStatic: true` (stryker.config.mjs) would leave them out, scoring
 * only the arrow functions inside the definition. This config keeps them. A static mutant needs
 * every test rerun with the module reloaded, so the run is restricted to the lifecycle's files
 * and its four pure unit tests (about 200 ms together):
 *
 *   npm run mutation -- stryker.static.config.mjs
 *
 * docs/MUTATION.md has the scores.
 *
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
import base from './stryker.config.mjs';

export default {
  ...base,
  ignoreStatic: false,
  mutate: ['src/machines/issue-lifecycle.ts', 'src/machines/issue-lifecycle-setup.ts', 'src/machines/issue-lifecycle-merge.ts'],
  testFiles: [
    'test/machines/issue-lifecycle.test.ts',
    'test/machines/issue-lifecycle-merge.test.ts',
    'test/machines/issue-lifecycle-effects.test.ts',
    'test/machines/issue-lifecycle-merge-effects.test.ts',
  ],
  // Its own report: a run of the other modules does not overwrite it.
  htmlReporter: { fileName: 'reports/mutation/static/index.html' },
  jsonReporter: { fileName: 'reports/mutation/static/mutation.json' },
};
