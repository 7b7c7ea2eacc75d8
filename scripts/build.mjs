#!/usr/bin/env node
// `npm run build` (also `prepare`, so `npm ci`, `npm install -g .` and `npm pack` build it): the
// CLI and the pane runner as two plain JavaScript bundles in dist/, so the daemon runs no
// TypeScript at run time and no build tool stays alive beside it. Written aside and renamed into
// place: an orchestra (or a test) may be starting from the old files meanwhile.
import { build } from 'esbuild';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const bundles = [
  { entry: 'src/cli/main.ts', out: 'dist/miyabi-orchestra.mjs' },
  { entry: 'src/runner/main.ts', out: 'dist/miyabi-runner.mjs' },
];

const started = performance.now();
const results = await Promise.all(
  bundles.map(({ entry }) =>
    build({
      entryPoints: [join(root, entry)],
      write: false,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      // Dependencies bundled too: resolving and loading them one by one from node_modules costs
      // about 80 ms more at each start. CommonJS dependencies get a real `require`.
      banner: { js: "import { createRequire as __miyabiCreateRequire } from 'node:module'; const require = __miyabiCreateRequire(import.meta.url);" },
      // Whitespace and syntax minified (names kept, so stack traces stay readable).
      minifyWhitespace: true,
      minifySyntax: true,
      // Native addons cannot be bundled: loaded from node_modules at run time.
      external: ['better-sqlite3'],
      logLevel: 'warning',
    }),
  ),
);
for (const [index, { out }] of bundles.entries()) {
  const file = join(root, out);
  const [bundle] = results[index].outputFiles;
  await mkdir(dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, bundle.contents);
  await rename(temporary, file);
}
process.stderr.write(`built ${bundles.map(({ out }) => out).join(', ')} in ${Math.round(performance.now() - started)} ms\n`);
