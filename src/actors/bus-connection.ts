/**
 * The bus connection: connects to NATS as the orchestrator (its nkey; or the configured
 * credentials of an external NATS), retrying until the configured deadline, makes sure the
 * streams, the KV bucket and each role's task consumer exist, and publishes the connection and the Bus to the shared
 * resources. It fails (and is restarted, with everything started after it) if the connection
 * closes for good; ordinary reconnects are the client's job and do not restart anything.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { busTopologyOf } from '../config/bus-topology.ts';
import { ErrorCodes, MiyabiError, describeError } from '../errors.ts';
import { Bus } from '../infra/bus/bus.ts';
import { connectNats } from '../infra/nats/connection.ts';
import { inboxPrefixOf } from '../infra/nats/identities.ts';
import { taskConsumer } from '../runner/task-message.ts';
import { actorLogger } from '../infra/observe/logger.ts';
import { fromRuntime, type ChildSpec } from '../supervisor/index.ts';
import type { OrchestraResources } from './resources.ts';

export interface BusConnectionInput {
  resources: OrchestraResources;
}

export const busConnectionLogic = fromRuntime<BusConnectionInput>(({ resources }, controls) => {
  const { config, secrets } = resources;
  const logger = actorLogger(resources.logger, 'bus');
  let stopping = false;
  let nc: NatsConnection | undefined;
  let bus: Bus | undefined;

  const release = async () => {
    resources.inspection.disconnect(nc);
    if (resources.bus === bus) resources.bus = undefined;
    if (resources.nc === nc) resources.nc = undefined;
    await bus?.close().catch((error: unknown) => logger.warn({ err: describeError(error) }, 'bus close failed'));
    await nc?.drain().catch(() => nc?.close());
  };

  void (async () => {
    const identity = resources.natsIdentities?.get('orchestrator');
    nc = await connectNats({
      servers: resources.natsServers,
      name: config.nats.name,
      auth: identity
        ? { nkeySeed: identity.seed }
        : { user: secrets.nats.user, pass: secrets.nats.password, token: secrets.nats.token, credsFile: secrets.nats.credsFile },
      ...(identity ? { inboxPrefix: inboxPrefixOf(identity.name) } : {}),
      tls: config.nats.tls,
      connectDeadlineMs: config.nats.connectDeadlineMs,
      logger,
    });
    if (stopping) {
      await nc.close();
      return;
    }
    bus = new Bus(nc, {
      sender: 'orchestra',
      logger,
      observer: resources.busObserver,
      topology: busTopologyOf(config),
    });
    await bus.ensureTopology();
    // The console's history is not worth failing the bus for: without it, only live events.
    await resources.inspection.connect(nc).catch((error: unknown) => logger.warn({ err: describeError(error) }, 'no inspection history stream; the console shows live events only'));
    // The runners' consumers, made here: a runner may look its own up and pull, not create one.
    for (const role of Object.keys(config.agents)) {
      if (role !== 'conductor') await bus.backlog(taskConsumer(role, config.bus));
    }
    resources.nc = nc;
    resources.bus = bus;
    serverVersion(nc, resources);
    controls.setState('connected', { ready: true, detail: { server: nc.getServer() } });
    void watchStatus(nc, controls, () => serverVersion(nc!, resources));
    const error = await nc.closed();
    resources.inspection.disconnect(nc);
    if (!stopping) {
      resources.bus = undefined;
      resources.nc = undefined;
      controls.fail(new MiyabiError(ErrorCodes.NatsUnreachable, `NATS connection closed: ${describeError(error ?? 'closed')}`));
    }
  })().catch((error: unknown) => {
    if (!stopping) controls.fail(error);
  });

  return {
    shutdown: () => {
      stopping = true;
      void release().then(() => controls.done());
    },
    kill: () => {
      stopping = true;
      void release();
    },
  };
});

async function watchStatus(nc: NatsConnection, controls: { setState: (state: string) => void }, onReconnect: () => void): Promise<void> {
  for await (const status of nc.status()) {
    if (status.type === 'disconnect') controls.setState('reconnecting');
    if (status.type === 'reconnect') {
      controls.setState('connected');
      onReconnect();
    }
  }
}

/** The server's version as it announced it (INFO), in `miyabi_build_info`. */
function serverVersion(nc: NatsConnection, resources: OrchestraResources): void {
  const version = nc.info?.version;
  if (version !== undefined) resources.metrics.natsServerVersion(version);
}

export function busConnectionChild(resources: OrchestraResources): ChildSpec<typeof busConnectionLogic> {
  return {
    id: 'bus',
    logic: busConnectionLogic,
    input: { resources },
    restart: 'permanent',
    shutdown: 10_000,
    startTimeoutMs: resources.config.nats.connectDeadlineMs + 10_000,
  };
}
