/**
 * The pane runner as plain JavaScript: bundled once per start with esbuild (which tsx already
 * brings) from src/runner/main.ts into `<package>/dist/miyabi-runner.mjs`. A runner started through the TypeScript
 * loader spends about half a second more before its first heartbeat, and runner start-up is the
 * largest part of the time to replace a dead agent. If the package directory is read-only, the
 * runners use tsx.
 */
import { build } from 'esbuild';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { describeError } from '../errors.ts';
import { packageRoot } from '../package-root.ts';

export function runnerBundlePath(): string {
  return join(packageRoot(), 'dist', 'miyabi-runner.mjs');
}

/** Builds the bundle; resolves with its path, or undefined (logged) when it cannot be built. */
export async function buildRunnerBundle(logger: Logger): Promise<string | undefined> {
  const outfile = runnerBundlePath();
  const started = performance.now();
  try {
    const result = await build({
      entryPoints: [join(packageRoot(), 'src', 'runner', 'main.ts')],
      outfile,
      write: false,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      // Dependencies bundled too: resolving and loading them one by one from node_modules costs
      // about 80 ms more. CommonJS dependencies get a real `require` for node's own modules.
      banner: { js: "import { createRequire as __miyabiCreateRequire } from 'node:module'; const require = __miyabiCreateRequire(import.meta.url);" },
      // Whitespace and syntax minified (names kept, so stack traces stay readable): less to parse.
      minifyWhitespace: true,
      minifySyntax: true,
      logLevel: 'silent',
    });
    // Written aside and renamed into place: several orchestras (tests) may build at once while
    // runners are starting from the file.
    await mkdir(dirname(outfile), { recursive: true });
    const temporary = `${outfile}.${process.pid}.${Date.now()}.tmp`;
    const [bundle] = result.outputFiles;
    if (!bundle) throw new Error('esbuild produced no output');
    await writeFile(temporary, bundle.contents);
    await rename(temporary, outfile);
    logger.debug({ outfile, ms: Math.round(performance.now() - started) }, 'runner bundle built');
    return outfile;
  } catch (error) {
    logger.warn({ err: describeError(error) }, 'runner bundle not built; runners start through tsx');
    return undefined;
  }
}
