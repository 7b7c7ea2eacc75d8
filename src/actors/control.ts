/**
 * Control: answers the CLI over NATS request/reply. `status` returns the supervisor tree,
 * `stop` asks the orchestra to stop gracefully. Core NATS (not JetStream): a request to a
 * stopped orchestra should fail fast with "no responders", not wait in a stream.
 */
import type { Subscription } from '@nats-io/transport-node';
import { describeError } from '../errors.ts';
import { actorLogger } from '../infra/observe/logger.ts';
import { fromRuntime, type ChildSpec } from '../supervisor/index.ts';
import { CONTROL_SUBJECTS, type StatusReply } from './control-subjects.ts';
import type { OrchestraResources } from './resources.ts';

export { CONTROL_SUBJECTS, type StatusReply } from './control-subjects.ts';

export const controlLogic = fromRuntime<{ resources: OrchestraResources }>(({ resources }, controls) => {
  const logger = actorLogger(resources.logger, 'control');
  const nc = resources.nc;
  if (!nc) throw new Error('control started without a NATS connection');
  const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
  const subscriptions: Subscription[] = [
    nc.subscribe(CONTROL_SUBJECTS.status, {
      callback: (error, message) => {
        if (error) return logger.warn({ err: describeError(error) }, 'status subscription error');
        const reply: StatusReply = {
          pid: process.pid,
          startedAt: resources.startedAt.toISOString(),
          uptimeMs: Date.now() - resources.startedAt.getTime(),
          natsUrl: resources.natsServers[0]!,
          httpUrl: resources.httpUrl,
          tree: resources.inspect(),
        };
        message.respond(encode(reply));
      },
    }),
    nc.subscribe(CONTROL_SUBJECTS.stop, {
      callback: (error, message) => {
        if (error) return logger.warn({ err: describeError(error) }, 'stop subscription error');
        logger.info('stop requested over NATS');
        message.respond(encode({ ok: true, pid: process.pid }));
        resources.requestStop('stop requested');
      },
    }),
  ];
  void nc.flush().then(
    () => controls.setState('listening', { ready: true }),
    (error: unknown) => controls.fail(error),
  );
  const unsubscribe = () => {
    for (const subscription of subscriptions) subscription.unsubscribe();
  };
  return {
    shutdown: () => {
      unsubscribe();
      controls.done();
    },
    kill: unsubscribe,
  };
});

export function controlChild(resources: OrchestraResources): ChildSpec<typeof controlLogic> {
  return { id: 'control', logic: controlLogic, input: { resources }, restart: 'permanent', shutdown: 2_000 };
}
