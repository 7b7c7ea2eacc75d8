import { spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, MiyabiError } from '../../src/errors.ts';
import { startHttpServer, type HttpServer, type Probe } from '../../src/infra/observe/http-server.ts';
import { createLogger } from '../../src/infra/observe/logger.ts';
import { OrchestraMetrics } from '../../src/infra/observe/metrics.ts';

const logger = createLogger({ level: 'silent', stdout: false });
const servers: HttpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(probes: { health?: () => Probe | Promise<Probe>; ready?: () => Probe | Promise<Probe> } = {}) {
  const metrics = new OrchestraMetrics();
  const server = await startHttpServer({
    port: 0,
    metrics,
    health: probes.health ?? (() => ({ ok: true, detail: { root: 'running' } })),
    ready: probes.ready ?? (() => ({ ok: true })),
    logger,
    routes: { '/hook': (req, res) => void res.writeHead(202, { 'x-method': req.method ?? '' }).end() },
  });
  servers.push(server);
  return { server, metrics };
}

const promtool = spawnSync('promtool', ['--version']).status === 0;

/** Every line of the text exposition format, and a TYPE before the samples of each metric. */
function checkExposition(text: string): void {
  const typed = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE ([a-zA-Z_:][\w:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      typed.add(type[1]!);
      continue;
    }
    if (/^# HELP [a-zA-Z_:][\w:]* .*$/.test(line)) continue;
    const sample = /^([a-zA-Z_:][\w:]*)(\{([a-zA-Z_]\w*="(?:[^"\\\n]|\\.)*",?)*\})? (-?[\d.e+-]+|[Nn][Aa][Nn]|[+-]Inf)( \d+)?$/.exec(line);
    expect(sample, `not a valid exposition line: ${line}`).not.toBeNull();
    const name = sample![1]!;
    const family = [...typed].some((t) => name === t || /_(bucket|sum|count|total|created)$/.test(name) && name.startsWith(t));
    expect(family, `sample before its TYPE: ${line}`).toBe(true);
  }
}

describe('startHttpServer', () => {
  it('serves /metrics in the Prometheus text format', async () => {
    const { server, metrics } = await start();
    metrics.childRestarted('root', 'bus');
    metrics.actorState('agent.codegen.1', 'busy');
    metrics.busPublished('miyabi.tasks.codegen.42');
    metrics.busDeadLettered('miyabi.tasks.codegen.42', 'max_deliver');
    const response = await fetch(`${server.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await response.text();
    checkExposition(text);
    expect(text).toContain('miyabi_supervisor_restarts_total{supervisor="root",child="bus"} 1');
    expect(text).toContain('miyabi_actor_state{actor="agent.codegen.1",state="busy"} 1');
    expect(text).toContain('miyabi_bus_published_total{subject="miyabi.tasks.codegen"} 1');
    expect(text).toContain('miyabi_bus_dead_lettered_total{subject="miyabi.tasks.codegen",reason="max_deliver"} 1');
    expect(text).toContain('process_resident_memory_bytes');
  });

  it.skipIf(!promtool)(
    `/metrics passes promtool check metrics${promtool ? '' : ' (SKIPPED: promtool not installed; the structural check above still ran)'}`,
    async () => {
      const { server, metrics } = await start();
      metrics.childRestarted('root', 'bus');
      metrics.actorState('codegen-1', 'idle');
      metrics.busPublished('miyabi.events.health');
      metrics.busDeadLettered('miyabi.tasks.codegen', 'malformed');
      metrics.busSequenceGap('scheduler');
      metrics.healthy(true);
      const text = await (await fetch(`${server.url}/metrics`)).text();
      const result = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
      const problems = `${result.stdout}${result.stderr}`.split('\n').filter(Boolean);
      // prom-client's own default gauges are named nodejs_active_*_total; promtool lints that
      // naming, which is prom-client's to change. Everything else must be clean, parse errors
      // above all.
      const ours = problems.filter((line) => !/^nodejs_active_\w+_total non-counter metrics should not have "_total" suffix$/.test(line));
      expect(ours).toEqual([]);
    },
  );

  it('answers /healthz and /readyz with 200 or 503 and the detail', async () => {
    let ready = false;
    const { server } = await start({
      health: () => ({ ok: true, detail: { root: 'running' } }),
      ready: async () => ({ ok: ready, detail: { busConnected: ready } }),
    });
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    expect(health.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await health.json()).toEqual({ status: 'ok', detail: { root: 'running' } });
    const notReady = await fetch(`${server.url}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ status: 'unavailable', detail: { busConnected: false } });
    ready = true;
    expect((await fetch(`${server.url}/readyz?verbose=1`)).status).toBe(200);
  });

  it('answers 503 when a probe throws', async () => {
    const { server } = await start({
      health: () => {
        throw new Error('tree inspection failed');
      },
    });
    const response = await fetch(`${server.url}/healthz`);
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({ status: 'unavailable', detail: { error: 'tree inspection failed' } });
  });

  it('answers 404 for an unknown path and 405 for another method', async () => {
    const { server } = await start();
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
    const post = await fetch(`${server.url}/metrics`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect((await fetch(`${server.url}/healthz`, { method: 'DELETE' })).status).toBe(405);
    const head = await fetch(`${server.url}/healthz`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it('mounts extra routes that see every method', async () => {
    const { server } = await start();
    const response = await fetch(`${server.url}/hook`, { method: 'POST', body: '{}' });
    expect(response.status).toBe(202);
    expect(response.headers.get('x-method')).toBe('POST');
  });

  // Another address of this host is tried even where there is no interface but loopback: all of
  // 127.0.0.0/8 is loopback on Linux, so 127.0.0.2 reaches a server that listens on every
  // address (shown first) and is refused by one bound to 127.0.0.1 alone.
  it('binds 127.0.0.1 by default, unreachable from other addresses', async () => {
    const { server } = await start();
    expect(server.host).toBe('127.0.0.1');
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
    const everywhere = await startHttpServer({
      port: 0,
      host: '0.0.0.0',
      metrics: new OrchestraMetrics({ defaultMetrics: false }),
      health: () => ({ ok: true }),
      ready: () => ({ ok: true }),
      logger,
    });
    servers.push(everywhere);
    expect((await fetch(`http://127.0.0.2:${everywhere.port}/healthz`)).status).toBe(200);

    const external = Object.values(networkInterfaces())
      .flat()
      .filter((a) => a !== undefined && a.family === 'IPv4' && !a.internal)
      .map((a) => a!.address);
    for (const address of ['127.0.0.2', ...external]) {
      const error = await fetch(`http://${address}:${server.port}/healthz`).catch((e: unknown) => e);
      expect(error, address).toBeInstanceOf(Error);
      expect(((error as Error).cause as NodeJS.ErrnoException).code, address).toBe('ECONNREFUSED');
    }
  });

  it('fails with http_listen_failed when the port is taken', async () => {
    const { server } = await start();
    const error = await startHttpServer({
      port: server.port,
      metrics: new OrchestraMetrics({ defaultMetrics: false }),
      health: () => ({ ok: true }),
      ready: () => ({ ok: true }),
      logger,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MiyabiError);
    expect((error as MiyabiError).code).toBe(ErrorCodes.HttpListenFailed);
    expect((error as MiyabiError).message).toContain('EADDRINUSE');
  });

  it('closes at once with a client stalled mid-request, and twice without harm', async () => {
    const { server } = await start();
    // A client that sent half a request and stalls: a plain close would wait for it until the
    // headers timeout (60 s), past this test's deadline. The server must end it itself.
    const socket = connect(server.port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const socketClosed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n', () => resolve()));
    await server.close();
    await socketClosed;
    await server.close();
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
  });
});
