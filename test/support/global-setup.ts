/**
 * Once before the suite: the CLI and runner bundles (`npm run build`), so every orchestra the
 * tests start runs what an installed one runs, plain JavaScript from dist/, and never a stale
 * bundle of older sources.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

export default async function setup(): Promise<void> {
  const root = join(import.meta.dirname, '..', '..');
  await promisify(execFile)(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root });
}
