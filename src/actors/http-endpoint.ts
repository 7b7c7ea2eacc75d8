/**
 * The HTTP endpoint: /metrics, /healthz, /readyz and the console (`/`, `/api/*`:
 * ./console-api.ts), bound to 127.0.0.1 unless configured otherwise. Healthy while the tree runs; ready while the bus is connected and every
 * infrastructure and workflow actor runs — or is stopping because its supervisor asked it to (a
 * crashed actor shows `stopped` or `backoff` until it runs again). Agents are not its business:
 * one agent restarting is the health monitor's finding (src/machines/health-judge.ts), not a
 * reason to take the orchestra out of a load balancer.
 */
import { describeError } from '../errors.ts';
import type { Logger } from 'pino';
import { startHttpServer, type RouteHandler } from '../infra/observe/http-server.ts';
import { GitHubIssueSource } from '../issues/github-source.ts';
import { createGitHubWebhookHandler } from '../issues/webhook.ts';
import { deliverWebhookEvent } from '../workflow/watcher.ts';
import { onceLedger } from './once-ledger.ts';
import { actorLogger } from '../infra/observe/logger.ts';
import { flattenTree, fromRuntime, type ChildSpec } from '../supervisor/index.ts';
import type { OrchestraResources } from './resources.ts';
import { isInfrastructure } from './health-checks.ts';
import { consoleHandler } from './console-api.ts';

export function readiness(resources: OrchestraResources): { ok: boolean; detail: Record<string, unknown> } {
  const notRunning = flattenTree(resources.inspect())
    .filter((node) => node.type === 'worker' && isInfrastructure(node.path) && node.status !== 'running' && node.status !== 'stopping')
    .map((node) => `${node.path}: ${node.status}`);
  const busConnected = resources.bus !== undefined && resources.nc !== undefined && !resources.nc.isClosed();
  return { ok: busConnected && notRunning.length === 0, detail: { busConnected, notRunning } };
}

export function liveness(resources: OrchestraResources): { ok: boolean; detail: Record<string, unknown> } {
  const root = resources.inspect();
  const ok = root.status === 'running' || root.status === 'starting';
  return { ok, detail: { root: root.status, uptimeMs: root.uptimeMs } };
}

export const httpEndpointLogic = fromRuntime<{ resources: OrchestraResources }>(({ resources }, controls) => {
  const logger = actorLogger(resources.logger, 'http');
  const { host, port } = resources.config.http;
  let stopping = false;
  const listen = (at: number) =>
    startHttpServer({
      host,
      port: at,
      metrics: resources.metrics,
      health: () => liveness(resources),
      ready: () => readiness(resources),
      logger,
      routes: webhookRoutes(resources, logger),
      ...(resources.config.console.enabled ? { fallback: consoleHandler(resources, logger) } : {}),
    });
  // Batch mode is not where Prometheus looks: a port taken (by a running orchestra, say) is no reason to fail.
  const started = listen(port).catch((error: unknown) => {
    if (!resources.batch || port === 0 || !addressInUse(error)) throw error;
    logger.warn({ host, port }, `port ${port} is taken; batch mode listens on a free port instead (the run file records it)`);
    return listen(0);
  });
  started.then(
    (server) => {
      if (stopping) return void server.close();
      resources.httpUrl = server.url;
      logger.info({ url: server.url }, 'http listening');
      controls.setState('listening', { ready: true, detail: { url: server.url } });
    },
    (error: unknown) => controls.fail(error),
  );
  const close = () =>
    started
      .then((server) => server.close())
      .catch((error: unknown) => logger.warn({ err: describeError(error) }, 'http close failed'));
  return {
    shutdown: () => {
      stopping = true;
      void close().then(() => controls.done());
    },
    kill: () => {
      stopping = true;
      void close();
    },
  };
});

function addressInUse(error: unknown): boolean {
  const cause = (error as { cause?: { code?: unknown } } | undefined)?.cause;
  return cause?.code === 'EADDRINUSE';
}

/** The GitHub webhook receiver, when configured: verified deliveries go to the issue watcher. */
function webhookRoutes(resources: OrchestraResources, logger: Logger): Record<string, RouteHandler> {
  const github = resources.config.issues.source === 'github' ? resources.config.issues.github : undefined;
  const secret = resources.secrets.webhookSecret;
  if (!github?.webhook || !secret) return {};
  const source = resources.issueSource;
  const handler = createGitHubWebhookHandler({
    secret,
    owner: github.owner,
    repo: github.repo,
    maxBodyBytes: github.webhook.maxBodyBytes,
    deliveries: onceLedger(resources),
    logger: logger.child({ route: github.webhook.path }),
    ...(source instanceof GitHubIssueSource ? { ownComment: (issue, author, key, signature) => source.ownsComment(issue, author, key, signature) } : {}),
    onEvent: async (event) => {
      const watcher = resources.watcher;
      // Not running yet (or restarting): a 5xx makes GitHub redeliver, and polling catches up anyway.
      if (!watcher) throw new Error('the issue watcher is not running');
      await deliverWebhookEvent(watcher, event);
    },
  });
  return { [github.webhook.path]: handler };
}

export function httpEndpointChild(resources: OrchestraResources): ChildSpec<typeof httpEndpointLogic> {
  return { id: 'http', logic: httpEndpointLogic, input: { resources }, restart: 'permanent', shutdown: 5_000 };
}
