/**
 * The pane runner as plain JavaScript: `dist/miyabi-runner.mjs`, bundled by `npm run build`
 * (scripts/build.mjs; `prepare` and `./bootstrap` run it). A runner started through the
 * TypeScript loader spends about half a second more before its first heartbeat, and runner
 * start-up is the largest part of the time to replace a dead agent. A checkout that was never
 * built (a developer's) starts its runners through tsx, and says so.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { packageRoot } from '../package-root.ts';

export function runnerBundlePath(): string {
  return join(packageRoot(), 'dist', 'miyabi-runner.mjs');
}

/** The bundle's path, or undefined (logged) when it was not built. */
export async function findRunnerBundle(logger: Logger): Promise<string | undefined> {
  const file = runnerBundlePath();
  if (await stat(file).then((entry) => entry.isFile(), () => false)) return file;
  logger.warn({ file }, 'runner bundle not built (npm run build); runners start through tsx');
  return undefined;
}
