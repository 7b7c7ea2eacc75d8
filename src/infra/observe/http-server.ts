/**
 * The HTTP endpoint for operators and Prometheus, on node:http:
 *
 *   GET /metrics  Prometheus text exposition of OrchestraMetrics
 *   GET /healthz  200 {"status":"ok",…} while the orchestra is alive, 503 otherwise (liveness)
 *   GET /readyz   200 while it can do work (bus connected, actors running), 503 otherwise
 *
 * HEAD is answered like GET without a body; any other method gets 405 with `Allow`, any other
 * path 404. Extra routes (a webhook receiver, say) can be mounted by exact path; they see every
 * method. A `fallback` (the console) is asked about every other path, and answers it or not. Binds 127.0.0.1 unless told otherwise. `close()` also drops keep-alive connections,
 * so it never waits on an idle client.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { ErrorCodes, MiyabiError, describeError } from '../../errors.ts';
import type { OrchestraMetrics } from './metrics.ts';

export interface Probe {
  ok: boolean;
  detail?: unknown;
}

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface HttpServerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 9464; 0 picks a free port (read it back from the result). */
  port?: number;
  metrics: OrchestraMetrics;
  health: () => Probe | Promise<Probe>;
  ready: () => Probe | Promise<Probe>;
  logger: Logger;
  /** Extra handlers by exact path, e.g. `{ '/webhooks/github': handler }`. */
  routes?: Readonly<Record<string, RouteHandler>>;
  /** Asked about any other path before the 404: resolves true when it answered the request. */
  fallback?: (req: IncomingMessage, res: ServerResponse, path: string) => boolean | Promise<boolean>;
}

export interface HttpServer {
  readonly host: string;
  readonly port: number;
  /** `http://127.0.0.1:9464` */
  readonly url: string;
  /** Stops listening and closes every connection; safe to call twice. */
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, contentType: string, body: string, headers = {}): void {
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(body);
}

const sendJson = (res: ServerResponse, status: number, value: unknown, headers = {}) =>
  send(res, status, 'application/json; charset=utf-8', `${JSON.stringify(value)}\n`, headers);

async function probe(res: ServerResponse, check: () => Probe | Promise<Probe>): Promise<void> {
  let result: Probe;
  try {
    result = await check();
  } catch (error) {
    result = { ok: false, detail: { error: describeError(error) } };
  }
  sendJson(res, result.ok ? 200 : 503, { status: result.ok ? 'ok' : 'unavailable', detail: result.detail ?? null });
}

export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const { metrics, logger } = options;
  const host = options.host ?? '127.0.0.1';
  const builtIn: Record<string, (res: ServerResponse) => Promise<void>> = {
    '/metrics': async (res) => send(res, 200, metrics.contentType, await metrics.render()),
    '/healthz': (res) => probe(res, options.health),
    '/readyz': (res) => probe(res, options.ready),
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const route = options.routes?.[path];
    if (route !== undefined) return route(req, res);
    const handler = builtIn[path];
    if (handler === undefined && options.fallback && (await options.fallback(req, res, path))) return;
    if (handler === undefined) return sendJson(res, 404, { error: 'not found', path });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return sendJson(res, 405, { error: 'method not allowed', method: req.method }, { allow: 'GET, HEAD' });
    }
    return handler(res);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      logger.error({ err: describeError(error), url: req.url, method: req.method }, 'http request failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (error: unknown) =>
      reject(
        new MiyabiError(
          ErrorCodes.HttpListenFailed,
          `cannot listen on ${host}:${options.port ?? 9464}: ${describeError(error)}`,
          { cause: error },
        ),
      );
    server.once('error', onError);
    server.listen(options.port ?? 9464, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (error) => logger.error({ err: describeError(error) }, 'http server error'));

  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  let closing: Promise<void> | undefined;
  return {
    host,
    port,
    url,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
