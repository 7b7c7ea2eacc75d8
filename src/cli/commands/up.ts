/** `up`: run the orchestra in the foreground until SIGTERM or SIGINT, then stop it in order. */
import { ConfigInvalidError } from '../../config/problems.ts';
import { describeError, ErrorCodes, MiyabiError } from '../../errors.ts';
import { startOrchestra } from '../../orchestra/orchestra.ts';
import { loadConfigOrExit } from '../connect.ts';
import { CliExit, ExitCode, printProblems } from '../output.ts';

export async function up(flags: { config?: string }): Promise<number> {
  const loaded = await loadConfigOrExit(flags.config);
  let orchestra;
  try {
    orchestra = await startOrchestra(loaded);
  } catch (error) {
    if (error instanceof ConfigInvalidError) {
      printProblems(error.source, error.problems);
      return ExitCode.invalid;
    }
    if (error instanceof MiyabiError && error.code === ErrorCodes.NatsServerMissing) {
      throw new CliExit(ExitCode.failure, error.message);
    }
    throw new CliExit(ExitCode.failure, `orchestra failed to start: ${describeError(error)}`);
  }
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      // A second signal means the operator will not wait: leave now, children die with us.
      process.stderr.write(`${signal} again: exiting without waiting\n`);
      process.exit(130);
    }
    void orchestra.stop(signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  const { error } = await orchestra.finished;
  await orchestra.stop(error ? 'root supervisor failed' : 'stopped');
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  if (error) {
    process.stderr.write(`orchestra stopped after a failure: ${describeError(error)}\n`);
    return ExitCode.failure;
  }
  return ExitCode.ok;
}
