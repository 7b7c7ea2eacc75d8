/**
 * Import rules for src/: no circles, and the layers of docs/ARCHITECTURE.md pointing one way.
 * Checked by test/architecture/imports.test.ts; by hand: `npx depcruise src`.
 *
 * `layers` below is the Layers table of docs/ARCHITECTURE.md, lowest first: each entry names the
 * files it covers and what of ours they may import besides their own folder (for the root
 * modules: each other). Everything else under src/ is forbidden to them. The interface is not
 * listed: `src/cli/`, and `src/runner/main.ts` (the runner bundle's entry), may import anything.
 * The test also fails on a module no layer covers, so a new folder needs its row here.
 * test/architecture/layers-doc.test.ts checks that these rows and the doc's tables agree.
 */
'use strict';

/** The root modules every layer shares: src/errors.ts, src/package-root.ts, … */
const ROOT = '^src/[^/]+\\.ts$';
const dir = (name) => `^src/${name}/`;
/** The helpers at the top of src/infra that its packages share (none of them a package). */
const INFRA_SHARED = '^src/infra/[^/]+\\.ts$';
const infra = (name) => dir(`infra/${name}`);
const RUNNER_ENTRY = '^src/runner/main\\.ts$';

const workflowMay = [ROOT, dir('infra'), dir('agents'), dir('config'), dir('machines'), dir('issues'), dir('runner')];
const actorsMay = [...workflowMay, dir('supervisor'), dir('workflow'), dir('logs'), dir('cluster')];

const layers = [
  { name: 'root', from: ROOT, may: [] },
  { name: 'supervisor', from: dir('supervisor'), may: [ROOT] },
  // Inside src/infra: os lowest; nats ← bus ← observe; panes ← tmux; git alone.
  { name: 'infra-shared', from: INFRA_SHARED, may: [ROOT] },
  { name: 'infra-os', from: infra('os'), may: [ROOT] },
  { name: 'infra-nats', from: infra('nats'), may: [ROOT, INFRA_SHARED, infra('os')] },
  { name: 'infra-bus', from: infra('bus'), may: [ROOT, INFRA_SHARED, infra('os'), infra('nats')] },
  { name: 'infra-observe', from: infra('observe'), may: [ROOT, INFRA_SHARED, infra('os'), infra('nats'), infra('bus')] },
  { name: 'infra-panes', from: infra('panes'), may: [ROOT, INFRA_SHARED, infra('os')] },
  { name: 'infra-tmux', from: infra('tmux'), may: [ROOT, INFRA_SHARED, infra('os'), infra('panes')] },
  { name: 'infra-git', from: infra('git'), may: [ROOT, INFRA_SHARED, infra('os')] },
  { name: 'agents', from: dir('agents'), may: [ROOT] },
  { name: 'config', from: dir('config'), may: [ROOT, dir('agents')] },
  { name: 'machines', from: dir('machines'), may: [ROOT, dir('agents'), dir('config')] },
  { name: 'issues', from: dir('issues'), may: [ROOT, dir('config')] },
  { name: 'logs', from: dir('logs'), may: [ROOT, dir('infra')] },
  { name: 'runner', from: dir('runner'), except: RUNNER_ENTRY, may: [ROOT, dir('infra'), dir('agents'), dir('config')] },
  // The leader lease of a cluster: decisions from machines, the KV from the bus; nothing of issues or the workflow.
  { name: 'cluster', from: dir('cluster'), may: [ROOT, dir('infra'), dir('config'), dir('machines')] },
  { name: 'workflow', from: dir('workflow'), may: workflowMay },
  { name: 'actors', from: dir('actors'), may: actorsMay },
  { name: 'orchestra', from: dir('orchestra'), may: [...actorsMay, dir('actors')] },
  // The web console runs in a browser (bundled alone into dist/console.js): nothing of the server's.
  { name: 'console', from: dir('console'), may: [] },
];

const layerRules = layers.map((layer) => ({
  name: `layer-${layer.name}`,
  severity: 'error',
  comment: `${layer.from} may import only ${layer.may.length === 0 ? 'nothing else of ours' : layer.may.join(', ')} (docs/ARCHITECTURE.md, Layers)`,
  from: { path: layer.from, ...(layer.except ? { pathNot: layer.except } : {}) },
  // Its own folder (for the root modules: the other root modules) is always allowed.
  to: { path: '^src/', pathNot: [layer.from, ...layer.may] },
}));

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import circle is a seam in the wrong place: move the shared type or helper down to the layer both use.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'no-import-of-entry',
      severity: 'error',
      comment: 'src/cli/main.ts and src/runner/main.ts are entry points (the CLI, the runner bundle): nothing imports them.',
      from: { path: '^src/' },
      to: { path: ['^src/cli/main\\.ts$', RUNNER_ENTRY] },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that does not resolve cannot be checked against the layers.',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
    ...layerRules,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports count: a circle through `import type` is still a circle.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    // How Node resolves packages (ESM `exports`), so an import of a package resolves as it runs.
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
