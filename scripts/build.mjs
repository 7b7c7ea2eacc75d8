#!/usr/bin/env node
// `npm run build` (also `prepare`, so `npm ci`, `npm install -g .` and `npm pack` build it): the
// CLI and the pane runner as two plain JavaScript bundles in dist/, so the daemon runs no
// TypeScript at run time and no build tool stays alive beside it; and the web console's script
// and style (src/console, elkjs included) as dist/console.js and dist/console.css, which the
// orchestra inlines into its page (docs/CONSOLE.md): nothing of the console is fetched from
// anywhere else. Written aside and renamed into place: an orchestra (or a test) may be starting
// from the old files meanwhile.
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
const nodeBundles = bundles.map(({ entry }) =>
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
);
// The console runs in a browser: one script, no module loader, no request for more. elkjs's
// bundled build asks for the optional `web-worker` package only when given a worker URL (never).
const consoleBundles = [
  { entry: 'src/console/main.ts', out: 'dist/console.js' },
  { entry: 'src/console/console.css', out: 'dist/console.css' },
];
const browserBundles = consoleBundles.map(({ entry }) =>
  build({
    entryPoints: [join(root, entry)],
    write: false,
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    minify: true,
    external: ['web-worker'],
    legalComments: 'eof',
    logLevel: 'warning',
  }),
);
bundles.push(...consoleBundles);
const results = await Promise.all([...nodeBundles, ...browserBundles]);
for (const [index, { out }] of bundles.entries()) {
  const file = join(root, out);
  const [bundle] = results[index].outputFiles;
  await mkdir(dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, bundle.contents);
  await rename(temporary, file);
}
process.stderr.write(`built ${bundles.map(({ out }) => out).join(', ')} in ${Math.round(performance.now() - started)} ms\n`);
