/**
 * `up`: run the orchestra in the foreground until SIGTERM or SIGINT, then stop it in order.
 * `up --once`: batch mode: run until no issue can move any more, print the summary, stop, and
 * exit 0 when every issue is done, 1 when any failed or is blocked, a tracker write keeps
 * failing, or the tracker could not be read in full (polls that failed and never recovered:
 * named after the summary). Batch mode's HTTP endpoint moves to a free port when its own is
 * taken (another orchestra's, say): a batch run is not where Prometheus looks.
 */
import { ConfigInvalidError } from '../../config/problems.ts';
import { inert } from '../../inert-text.ts';
import { describeError, ErrorCodes, MiyabiError } from '../../errors.ts';
import { startOrchestra } from '../../orchestra/orchestra.ts';
import { OrchestraService } from '../../orchestra/service.ts';
import { cliRedactor, loadConfigOrExit } from '../connect.ts';
import { waitUntilSettled } from '../../orchestra/settle.ts';
import { CliExit, ExitCode, printProblems, renderSummary } from '../output.ts';

export async function up(flags: { config?: string; once?: boolean }): Promise<number> {
  // Under systemd (Type=notify): taken from the environment before anything is started.
  const service = new OrchestraService();
  service.progress('reading the configuration');
  const loaded = await loadConfigOrExit(flags.config).catch(async (error: unknown) => {
    await service.close('the configuration is invalid: see the journal');
    throw error;
  });
  // What `up` itself prints (an upstream error quoting a token, an agent's reason) is redacted
  // like the log: every value known to be secret.
  const redact = cliRedactor(loaded.config);
  let orchestra;
  try {
    // Batch mode shows progress, one line per step of an issue; the full log is in the log file.
    orchestra = await startOrchestra(loaded, {
      ...(flags.once ? { logStream: progressStream(process.stderr), batch: true } : {}),
      onProgress: service.progress,
      onSupervisorEvent: service.observe,
      onStopRequested: (reason) => void service.stopping(reason),
    });
  } catch (error) {
    await service.close(`failed to start: ${redact(describeError(error))}`);
    if (error instanceof ConfigInvalidError) {
      printProblems(error.source, error.problems);
      return ExitCode.invalid;
    }
    if (error instanceof MiyabiError && error.code === ErrorCodes.NatsServerMissing) {
      throw new CliExit(ExitCode.failure, redact(error.message));
    }
    throw new CliExit(ExitCode.failure, redact(`orchestra failed to start: ${describeError(error)}`));
  }
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      // A second signal means the operator will not wait: leave now, children die with us.
      process.stderr.write(`${signal} again: exiting without waiting\n`);
      process.exit(130);
    }
    void service.stopping(signal);
    void orchestra.stop(signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  const { logger } = orchestra;
  await service.ready(`running: pid ${process.pid}, ${orchestra.resources.httpUrl ?? 'no HTTP endpoint'}`, orchestra.root, {
    onWatchdog: (tick) => {
      if (!tick.alive) logger.warn({ actorId: 'orchestra', reason: tick.reason }, 'watchdog ping withheld');
    },
  });
  if (service.enabled) logger.info({ actorId: 'orchestra', watchdogMs: service.notifier.environment.watchdogMs }, 'service manager notified: ready');
  let batch: number | undefined;
  if (flags.once) {
    const stopped = new AbortController();
    void orchestra.finished.then(() => stopped.abort(new Error('the orchestra stopped before the backlog settled')));
    try {
      const end = await waitUntilSettled(orchestra.resources, { signal: stopped.signal });
      const rows = orchestra.resources.workflow?.summary() ?? [];
      const failedWrites = orchestra.resources.workflow?.failedWrites() ?? [];
      process.stdout.write(redact(renderSummary(rows)));
      for (const write of failedWrites) {
        process.stdout.write(`#${write.issue}: a write-back to the tracker (${write.effect}) failed ${write.failures} times; see the log\n`);
      }
      if (end.kind === 'tracker') {
        process.stdout.write(`the issue source could not be read in full (${end.failures} polls in a row): ${end.problem}\n`);
      }
      const allDone = rows.every((row) => row.state === 'done' || row.state === 'released');
      batch = allDone && failedWrites.length === 0 && end.kind === 'settled' ? ExitCode.ok : ExitCode.failure;
      void service.stopping('backlog settled (--once)');
      void orchestra.stop('backlog settled (--once)');
    } catch {
      // Stopped by a signal or a failure: reported below.
    }
  }
  const { error } = await orchestra.finished;
  if (error) await service.stopping('the root supervisor failed');
  await orchestra.stop(error ? 'root supervisor failed' : 'stopped');
  await service.close(error ? `stopped after a failure: ${redact(describeError(error))}` : 'stopped');
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  if (error) {
    process.stderr.write(redact(`orchestra stopped after a failure: ${describeError(error)}\n`));
    return ExitCode.failure;
  }
  return batch ?? ExitCode.ok;
}

const PROGRESS = new Set([
  'issue discovered',
  'stage dispatched',
  'stage redelivered',
  'issue done',
  'issue failed',
  'issue released',
  'pull request opened',
  'merge recorded',
  'conflict for the agent to resolve',
  'CI failed; back to the first stage',
  'merge conflict; back to the first stage',
  'question answered',
  'issue rerouted by its labels',
  'orchestra running',
]);

/** A pino destination that prints the workflow's steps (and every warning) as short lines. */
export function progressStream(out: NodeJS.WritableStream): { write(line: string): void } {
  return {
    write(line: string) {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      const message = String(entry.msg ?? '');
      const level = String(entry.level ?? '');
      if (!PROGRESS.has(message) && level !== 'warn' && level !== 'error' && level !== 'fatal') return;
      const time = String(entry.time ?? '').slice(11, 19);
      const issue = entry.issue === undefined ? '' : ` #${String(entry.issue)}`;
      const detail = ['stage', 'role', 'attempt', 'reason', 'pullRequest', 'sha', 'check', 'files', 'route']
        .filter((key) => entry[key] !== undefined)
        .map((key) => `${key}=${Array.isArray(entry[key]) ? (entry[key] as unknown[]).join('→') : String(entry[key])}`)
        .join(' ');
      // One line per step, whatever the reason or a file name holds (an agent's or an issue's text).
      const shown = `${time}${issue} ${level === 'info' ? '' : `${level.toUpperCase()} `}${message}${detail ? ` (${detail})` : ''}`;
      out.write(`${inert(shown)}\n`);
    },
  };
}
