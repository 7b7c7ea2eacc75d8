/**
 * Panes: owns where agent runners run — a tmux session (when tmux is there, or asked for) or
 * headless processes — and publishes the driver to the shared resources. Stopping it ends the
 * session and every runner in it.
 */
import { execa } from 'execa';
import { describeError } from '../errors.ts';
import { actorLogger } from '../infra/observe/logger.ts';
import { processPaneDriver, type PaneDriver } from '../infra/panes/driver.ts';
import { tmuxPaneDriver } from '../infra/tmux/pane-driver.ts';
import { stopOrphanedRunners } from '../runner/pid-file.ts';
import { runnerBaseEnv } from './runner-command.ts';
import { SpareRunners } from './spare-runners.ts';
import { fromRuntime, type ChildSpec } from '../supervisor/index.ts';
import type { OrchestraResources } from './resources.ts';

async function tmuxAvailable(): Promise<boolean> {
  const result = await execa('tmux', ['-V'], { reject: false });
  return result.exitCode === 0;
}

export const panesLogic = fromRuntime<{ resources: OrchestraResources }>(({ resources }, controls) => {
  const logger = actorLogger(resources.logger, 'panes');
  const { panes } = resources.config;
  let driver: PaneDriver | undefined;
  let stopping = false;
  const opened = (async () => {
    const orphans = await stopOrphanedRunners(resources.config.dataDir);
    if (orphans.length > 0) logger.warn({ pids: orphans }, 'stopped runners left by an earlier run');
    const useTmux = panes.backend === 'tmux' || (panes.backend === 'auto' && (await tmuxAvailable()));
    const created = useTmux
      ? await tmuxPaneDriver({
          socketName: panes.socket,
          session: panes.session,
          cwd: process.cwd(),
          pollIntervalMs: panes.pollIntervalMs,
          logger,
          env: runnerBaseEnv(resources),
        })
      : processPaneDriver({
          onOutput: (id, line, stream) => logger[stream === 'stderr' ? 'warn' : 'debug']({ agent: id, line }, 'runner output'),
        });
    if (stopping) return void (await created.close());
    driver = created;
    resources.paneDriver = created;
    if (panes.spareRunners) {
      const roles = Object.entries(resources.config.agents)
        .filter(([role, agent]) => role !== 'conductor' && agent.max > 0)
        .map(([role]) => role);
      resources.spares = new SpareRunners(resources, created, roles, logger);
    }
    const attach = useTmux ? `tmux -L ${panes.socket} attach -t ${panes.session}` : undefined;
    logger.info({ backend: created.kind, attach }, 'panes ready');
    controls.setState(created.kind, { ready: true, detail: { backend: created.kind, ...(attach ? { attach } : {}) } });
  })();
  opened.catch((error: unknown) => controls.fail(error));
  const close = async () => {
    resources.spares?.close();
    resources.spares = undefined;
    if (resources.paneDriver === driver) resources.paneDriver = undefined;
    await driver?.close().catch((error: unknown) => logger.warn({ err: describeError(error) }, 'closing panes failed'));
  };
  return {
    shutdown: () => {
      stopping = true;
      void opened.catch(() => undefined).then(close).then(() => controls.done());
    },
    kill: () => {
      stopping = true;
      void opened.catch(() => undefined).then(close);
    },
  };
});

export function panesChild(resources: OrchestraResources): ChildSpec<typeof panesLogic> {
  return { id: 'panes', logic: panesLogic, input: { resources }, restart: 'permanent', shutdown: 10_000 };
}
