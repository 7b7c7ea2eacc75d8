/** `status [--json]`: ask the running orchestra for its supervisor tree. */
import { describeError } from '../../errors.ts';
import { CONTROL_SUBJECTS, type StatusReply } from '../../actors/control-subjects.ts';
import { clusterStatus } from './cluster-status.ts';
import { connectCli, liveRunFile, loadConfigOrExit } from '../connect.ts';
import { CliExit, ExitCode, countActors, formatBudget, formatDuration, renderTree } from '../output.ts';

export async function requestControl<T>(flags: { config?: string }, subject: string, timeoutMs = 5_000, body?: unknown): Promise<T> {
  const loaded = await loadConfigOrExit(flags.config);
  const runFile = await liveRunFile(loaded);
  const nc = await connectCli(loaded, [runFile.natsUrl]);
  try {
    const reply = await nc.request(subject, body === undefined ? undefined : JSON.stringify(body), { timeout: timeoutMs });
    return reply.json<T>();
  } catch (error) {
    throw new CliExit(ExitCode.failure, `orchestra pid ${runFile.pid} did not answer on ${subject}: ${describeError(error)}`);
  } finally {
    await nc.close();
  }
}

export async function status(flags: { config?: string; json?: boolean }): Promise<number> {
  const loaded = await loadConfigOrExit(flags.config);
  if (loaded.config.cluster) return clusterStatus(loaded, flags);
  const reply = await requestControl<StatusReply>(flags, CONTROL_SUBJECTS.status);
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(reply, null, 2)}\n`);
    return ExitCode.ok;
  }
  process.stdout.write(
    `orchestra pid ${reply.pid}, up ${formatDuration(reply.uptimeMs)}, NATS ${reply.natsUrl}` +
      `${reply.httpUrl ? `, HTTP ${reply.httpUrl}` : ''}, ${countActors(reply.tree)} actors\n\n`,
  );
  process.stdout.write(`${renderTree(reply.tree)}\n`);
  if (reply.budget) process.stdout.write(`\n${formatBudget(reply.budget)}\n`);
  return ExitCode.ok;
}
