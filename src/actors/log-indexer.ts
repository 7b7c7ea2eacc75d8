/**
 * The log indexer: keeps `<dataDir>/logs/index.sqlite` (src/logs) up to date with the log files,
 * `log.index.intervalMs` after start and then after each update ends, so `logs search` and the
 * console find a line written a minute ago without indexing it first.
 *
 * The indexing runs in a process of its own, the CLI's `logs index`, one at a time: it is
 * synchronous SQLite work that takes minutes for a gigabyte never indexed, and in the daemon it
 * would hold up the event loop (and with it the bus, the watchdogs and systemd's pings). An
 * update that fails is logged with its reason and tried again at the next interval: the files
 * are still there, and every update carries on from where the index is. Stopping kills a running
 * update, which is safe: each batch is one transaction with its file's offset.
 */
import { execa, type ResultPromise } from 'execa';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describeError } from '../errors.ts';
import { actorLogger } from '../infra/observe/logger.ts';
import { packageRoot } from '../package-root.ts';
import { fromRuntime, type ChildSpec } from '../supervisor/index.ts';
import type { OrchestraResources } from './resources.ts';

/** A command of the CLI (`logs index`, `logs search …`) through its bundle, or through tsx in a checkout never built. */
export function cliArgv(configPath: string | undefined, command: readonly string[], positionals: readonly string[] = []): string[] {
  const root = packageRoot();
  const bundle = join(root, 'dist', 'miyabi-orchestra.mjs');
  const entry = existsSync(bundle)
    ? [bundle]
    : ['--import', pathToFileURL(join(root, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href, join(root, 'src', 'cli', 'main.ts')];
  // After `--`, a positional that starts with a dash is not read as a flag.
  return [process.execPath, ...entry, ...command, ...(configPath === undefined ? [] : ['--config', configPath]), ...(positionals.length > 0 ? ['--', ...positionals] : [])];
}

export function logsIndexArgv(configPath: string | undefined): string[] {
  return cliArgv(configPath, ['logs', 'index']);
}

export const logIndexerLogic = fromRuntime<{ resources: OrchestraResources }>(({ resources }, controls) => {
  const logger = actorLogger(resources.logger, 'log-indexer');
  const { intervalMs } = resources.config.log.index;
  const [node, ...args] = logsIndexArgv(resources.configPath);
  let running: ResultPromise | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopping = false;
  let updates = 0;

  const update = async () => {
    timer = undefined;
    if (stopping) return;
    controls.setState('indexing');
    running = execa(node!, args, { reject: false, stdin: 'ignore', cleanup: true });
    const result = await running;
    running = undefined;
    if (stopping) return;
    if (result.exitCode === 0) {
      updates += 1;
      const report = lastJsonLine(String(result.stdout));
      if (report && Number(report.lines) > 0) logger.debug({ ...report }, 'log index updated');
    } else {
      logger.warn({ exitCode: result.exitCode, signal: result.signal, stderr: String(result.stderr).slice(-500) }, 'log index update failed; tried again at the next interval');
    }
    controls.setState('idle', { detail: { updates } });
    schedule();
  };
  const schedule = () => {
    timer = setTimeout(() => void update().catch((error: unknown) => logger.warn({ err: describeError(error) }, 'log index update failed')), intervalMs);
  };

  controls.setState('idle', { ready: true });
  // The first update one interval after start, not during it: the start (NATS, the runners) has
  // the machine's attention, and a search meanwhile updates the index itself.
  schedule();
  const stop = async () => {
    stopping = true;
    clearTimeout(timer);
    running?.kill('SIGTERM');
    await running;
  };
  return {
    shutdown: () => void stop().then(() => controls.done()),
    kill: () => void stop(),
  };
});

function lastJsonLine(text: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(text.trim().split('\n').at(-1) ?? '') as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

export function logIndexerChild(resources: OrchestraResources): ChildSpec<typeof logIndexerLogic> {
  return { id: 'log-indexer', logic: logIndexerLogic, input: { resources }, restart: 'permanent', shutdown: 5_000 };
}
