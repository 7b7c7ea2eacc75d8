/** `stop`: ask the running orchestra to stop gracefully, and wait until its process is gone. */
import { CONTROL_SUBJECTS } from '../../actors/control-subjects.ts';
import { clusterNodeOf } from '../../config/sections/cluster.ts';
import { processAlive } from '../../infra/os/process.ts';
import { liveRunFile, loadConfigOrExit } from '../connect.ts';
import { CliExit, ExitCode } from '../output.ts';
import { requestControl } from './status.ts';

export async function stop(flags: { config?: string; timeout?: string }): Promise<number> {
  const loaded = await loadConfigOrExit(flags.config);
  const { pid } = await liveRunFile(loaded);
  try {
    // On a cluster every node hears the request: it names this config's node, which alone stops.
    const node = clusterNodeOf(loaded.config);
    await requestControl(flags, CONTROL_SUBJECTS.stop, 5_000, node === undefined ? undefined : { node });
  } catch (error) {
    // The bus may be the broken part: a signal asks for the same graceful stop.
    process.stderr.write(`${(error as Error).message}; sending SIGTERM to pid ${pid}\n`);
    process.kill(pid, 'SIGTERM');
  }
  const timeoutMs = Number(flags.timeout ?? 60) * 1000;
  const deadline = Date.now() + timeoutMs;
  while (processAlive(pid)) {
    if (Date.now() > deadline) throw new CliExit(ExitCode.failure, `orchestra pid ${pid} still running after ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  process.stdout.write(`orchestra pid ${pid} stopped\n`);
  return ExitCode.ok;
}
