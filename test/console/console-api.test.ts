/**
 * The console's APIs on a real orchestra working a small backlog (an in-process orchestra, the
 * embedded nats-server, a real agent), bound off loopback so that every request needs the token:
 * the tree is `status --json`'s, the machines are the definitions', an issue's history lists its
 * transitions in order from the MIYABI_INSPECT stream (and `inspect --issue` prints them), the
 * live stream shows an agent going idle → busy when a task arrives, a slow client gets a drop
 * marker, an unknown issue is a 404 and a deleted history stream a clear error with the live state.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { request, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InspectionEvent } from 'xstate';
import type { InspectionRecord } from '../../src/actors/inspection.ts';
import { consoleRefusal } from '../../src/actors/console-api.ts';
import { CONTROL_SUBJECTS, type StatusReply } from '../../src/actors/control-subjects.ts';
import { flattenTree } from '../../src/supervisor/index.ts';
import { repoRoot, tempDir, type TempDir } from '../support/cli.ts';
import { startTestOrchestra, type TestOrchestra } from '../support/orchestra.ts';
import { waitFor } from '../support/wait.ts';
import { issueFile, waitForState } from '../support/workflow-run.ts';

const TOKEN = `console-token-${process.pid}-${Math.random().toString(36).slice(2)}`;
const AGENT_PATH = 'root/agents/pool.codegen/codegen-1';

interface SseEvent {
  event: string;
  data: string;
}

/** An /api/events client that reads as fast as events come. */
class EventClient {
  readonly events: SseEvent[] = [];
  readonly #abort = new AbortController();
  readonly opened: Promise<void>;

  constructor(url: string) {
    this.opened = fetch(url, { signal: this.#abort.signal }).then((response) => {
      expect(response.status).toBe(200);
      void this.#read(response.body!.getReader());
    });
  }

  async #read(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        buffer = takeEvents(buffer, this.events);
      }
    } catch {
      // Aborted by close().
    }
  }

  inspection(): InspectionRecord[] {
    return this.events.filter((event) => event.event === 'inspection').map((event) => JSON.parse(event.data) as InspectionRecord);
  }

  close(): void {
    this.#abort.abort();
  }
}

/** Moves every complete event of `buffer` into `into`; returns the incomplete rest. */
function takeEvents(buffer: string, into: SseEvent[]): string {
  let at: number;
  while ((at = buffer.indexOf('\n\n')) >= 0) {
    const block = buffer.slice(0, at);
    buffer = buffer.slice(at + 2);
    const event = /^event: (.*)$/m.exec(block)?.[1];
    const data = /^data: (.*)$/m.exec(block)?.[1];
    if (event !== undefined && data !== undefined) into.push({ event, data });
  }
  return buffer;
}

let test: TestOrchestra;
let base: string;
let holdDir: string;
const withToken = (path: string) => `${base}${path}${path.includes('?') ? '&' : '?'}token=${TOKEN}`;
const get = (path: string) => fetch(`${base}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });

let holdTemp: TempDir;

beforeAll(async () => {
  process.env.MIYABI_TEST_CONSOLE_TOKEN = TOKEN;
  holdTemp = await tempDir('miyabi-console-hold-');
  holdDir = holdTemp.path;
  test = await startTestOrchestra({
    backend: 'process',
    agents: { codegen: { command: ['node', join(repoRoot, 'test/support/agents/codegen.mjs'), 'hold', holdDir], min: 1, max: 1 } },
    config: {
      http: { enabled: true, host: '0.0.0.0', port: 0 },
      console: { tokenEnv: 'MIYABI_TEST_CONSOLE_TOKEN', clientQueue: 4 },
      workflow: { defaultRoute: ['codegen'] },
    },
  });
  base = `http://127.0.0.1:${new URL(test.orchestra.resources.httpUrl!).port}`;
}, 60_000);

afterAll(async () => {
  await test?.stop();
  await holdTemp?.[Symbol.asyncDispose]();
  delete process.env.MIYABI_TEST_CONSOLE_TOKEN;
});

describe('who may see the console', () => {
  it('is open on loopback, and asks for the token anywhere else (403 for all when none is configured)', () => {
    const req = { headers: {} } as IncomingMessage;
    const url = new URL('http://x/api/tree');
    expect(consoleRefusal('127.0.0.1', undefined, req, url)).toBeUndefined();
    expect(consoleRefusal('::1', undefined, req, url)).toBeUndefined();
    expect(consoleRefusal('0.0.0.0', undefined, req, url)?.status).toBe(403);
    expect(consoleRefusal('0.0.0.0', 'secret', req, url)?.status).toBe(401);
    expect(consoleRefusal('0.0.0.0', 'secret', { headers: { authorization: 'Bearer secret' } } as IncomingMessage, url)).toBeUndefined();
  });

  it('refuses every page and API without the token when bound off loopback', async () => {
    for (const path of ['/', '/api/tree', '/api/machines', '/api/dag', '/api/events', '/api/issues/1/history', '/api/queues', '/api/logs', '/api/agents/codegen-1/output']) {
      expect((await fetch(`${base}${path}`)).status, path).toBe(401);
      expect((await fetch(`${base}${path}`, { headers: { authorization: 'Bearer wrong' } })).status, path).toBe(401);
      // Another loopback address reaches a server bound everywhere: still refused.
      expect((await fetch(`${base.replace('127.0.0.1', '127.0.0.2')}${path}?token=nope`)).status, path).toBe(401);
    }
    expect((await fetch(withToken('/'))).status).toBe(200);
    expect((await get('/api/machines')).status).toBe(200);
  });
});

describe('the console on a running orchestra', { timeout: 120_000 }, () => {
  it('serves the tree /status --json shows: every actor, with state, restarts, uptime and strategy', async () => {
    // What `status --json` prints: the control actor's answer on miyabi.control.status.
    const status = (await test.orchestra.resources.nc!.request(CONTROL_SUBJECTS.status, undefined, { timeout: 5_000 })).json<StatusReply>();
    const response = await get('/api/tree');
    expect(response.status).toBe(200);
    const tree = (await response.json()) as StatusReply;
    const paths = (reply: StatusReply) => flattenTree(reply.tree).map((node) => node.path).sort();
    expect(paths(tree)).toEqual(paths(status));
    expect(paths(tree)).toContain(AGENT_PATH);
    const root = tree.tree;
    expect(root).toMatchObject({ id: 'root', strategy: 'rest_for_one', status: 'running' });
    for (const node of flattenTree(root)) {
      expect(typeof node.state, node.path).toBe('string');
      expect(typeof node.restarts, node.path).toBe('number');
      expect(typeof node.uptimeMs, node.path).toBe('number');
    }
  });

  it('serves every machine as a definition, with its graph for the page to lay out', async () => {
    const body = (await (await get('/api/machines')).json()) as { machines: Array<{ id: string; root: { states: unknown[] } }>; graphs: Record<string, { children: unknown[]; edges: unknown[] }> };
    expect(body.machines.map((machine) => machine.id).sort()).toEqual(['agent-pane', 'health-monitor', 'issue-lifecycle', 'issue-watcher']);
    expect(Object.keys(body.graphs).sort()).toEqual(body.machines.map((machine) => machine.id).sort());
    expect(body.graphs['agent-pane']!.edges.length).toBeGreaterThan(5);
  });

  it('serves the page with its script and style inlined, under a policy that allows no other host', async () => {
    const response = await fetch(withToken('/'));
    expect(response.status).toBe(200);
    const csp = response.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'/);
    const html = await response.text();
    expect(html).toMatch(/<script>[^]{100000,}<\/script>/);
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=/);
  });

  it('streams an agent going idle → busy when a task arrives, and back', async () => {
    await waitFor(() => flattenTree(test.orchestra.inspect()).find((node) => node.path === AGENT_PATH)?.state === 'alive.ready.idle' || undefined, {
      what: 'codegen-1 idle',
    });
    const client = new EventClient(withToken('/api/events?actor=codegen-1'));
    try {
      await client.opened;
      await waitFor(() => client.events.find((event) => event.event === 'tree'), { what: 'the tree first' });
      const tree = JSON.parse(client.events.find((event) => event.event === 'tree')!.data) as StatusReply;
      expect(flattenTree(tree.tree).find((node) => node.path === AGENT_PATH)?.state).toBe('alive.ready.idle');
      await writeFile(join(test.dir.path, 'issues', '1.md'), issueFile({ number: 1 }));
      const busy = await waitFor(() => client.inspection().find((record) => record.state === 'alive.ready.busy'), { timeoutMs: 30_000, what: 'codegen-1 busy' });
      expect(busy).toMatchObject({ kind: 'snapshot', actor: AGENT_PATH, machine: 'agent-pane', value: { alive: { ready: 'busy' } } });
      await waitFor(() => existsSync(join(holdDir, 'held-1')) || undefined, { what: 'the agent holding #1' });
      // The queues say who works on what; the agent's output is tailed from its pane log.
      const queues = (await (await get('/api/queues')).json()) as { roles: Array<{ role: string; running: Array<{ issue: number; agent?: string }>; agents: Array<{ id: string; busy: boolean }> }> };
      expect(queues.roles).toEqual([expect.objectContaining({ role: 'codegen', capacity: 1, waiting: [], running: [expect.objectContaining({ issue: 1, agent: 'codegen-1', stage: 'codegen' })], agents: [expect.objectContaining({ id: 'codegen-1', busy: true })] })]);
      const tail = (await (await get('/api/agents/codegen-1/output?lines=50')).json()) as { file: string; offset: number; lines: string[] };
      expect(tail.lines.some((line) => line.startsWith('=== miyabi task start') && line.includes('"issue":1'))).toBe(true);
      await writeFile(join(holdDir, 'release-1'), '');
      await waitFor(() => client.inspection().find((record) => record.seq > busy.seq && record.state === 'alive.ready.idle'), { timeoutMs: 30_000, what: 'codegen-1 idle again' });
      // Followed from where the tail ended: only what came since, the task's end among it.
      const since = (await (await get(`/api/agents/codegen-1/output?file=${tail.file}&offset=${tail.offset}`)).json()) as { lines: string[] };
      expect(since.lines.some((line) => line.startsWith('=== miyabi task start'))).toBe(false);
      expect(since.lines.some((line) => line.startsWith('=== miyabi task end') && line.includes('"issue":1'))).toBe(true);
      // Only codegen-1's records (and what it invoked) came through the filter.
      for (const record of client.inspection()) expect(record.actor.startsWith(AGENT_PATH), record.actor).toBe(true);
    } finally {
      client.close();
    }
    await waitForState(test, [1], 'done');
  });

  it("lists an issue's transitions in order, from the history stream", async () => {
    const response = await get('/api/issues/1/history');
    expect(response.status, await response.clone().text()).toBe(200);
    const body = (await response.json()) as { issue: number; transitions: InspectionRecord[]; live: { state: string } };
    expect(body.live.state).toBe('done');
    const steps = body.transitions.map((record) => `${record.from} -${record.event}-> ${record.state}`);
    expect(steps).toEqual(['discovered -deps.ready-> queued', 'queued -stage.dispatch-> running', 'running -stage.result-> done']);
    const times = body.transitions.map((record) => record.time);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    const result = body.transitions[2]!;
    expect(result.issue).toMatchObject({ number: 1, stage: 'codegen', role: 'codegen', attempt: 1, agent: 'codegen-1' });
    expect(result.context).toMatchObject({ number: 1, history: [expect.objectContaining({ stage: 'codegen', status: 'success' })] });
  });

  it('searches the log index as `logs search --json` does, and refuses what the command refuses', async () => {
    const response = await get('/api/logs?issue=1&limit=5');
    expect(response.status, await response.clone().text()).toBe(200);
    const body = (await response.json()) as { query: string; hits: Array<{ issue?: number; file: string }>; ranked: number; windowFull: boolean; indexed: unknown };
    expect(Object.keys(body).sort()).toEqual(['hits', 'indexed', 'query', 'ranked', 'windowFull']);
    expect(body.hits.length).toBeGreaterThan(0);
    expect(body.hits.length).toBeLessThanOrEqual(5);
    for (const hit of body.hits) expect(hit.issue).toBe(1);
    expect(body.hits.some((hit) => hit.file.startsWith('agents/codegen-1/'))).toBe(true);
    const words = (await (await get('/api/logs?q=held')).json()) as { query: string; hits: unknown[] };
    expect(words.query).toBe('held');
    for (const [query, flag] of [['', 'QUERY'], ['q=x&limit=0', '--limit'], ['q=x&since=yesterday', '--since'], ['q=x&agent=a%20b', '--agent']] as const) {
      const refused = await get(`/api/logs?${query}`);
      expect(refused.status, query).toBe(400);
      expect(await refused.json()).toMatchObject({ error: 'invalid_search', message: expect.stringContaining(flag) });
    }
  });

  it("refuses an agent id that is not one for the agent's output", async () => {
    expect((await get('/api/agents/..%2F..%2Fetc/output')).status).toBe(400);
    expect(await (await get('/api/agents/nobody/output')).json()).toEqual({ agent: 'nobody', file: null, offset: 0, lines: [] });
  });

  it('serves the dependency graph as `dag show --format json`', async () => {
    const body = (await (await get('/api/dag')).json()) as { nodes: Array<{ id: number; label: string }> };
    expect(body.nodes).toContainEqual(expect.objectContaining({ id: 1, label: 'Issue 1 (done)' }));
  });

  it('answers 404 with a message for an unknown issue, 400 for a bad number', async () => {
    const unknown = await get('/api/issues/99/history');
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: 'unknown_issue', message: expect.stringContaining('#99') });
    expect((await get('/api/issues/abc/history')).status).toBe(400);
  });

  it('drops events for a slow client, with a marker, instead of buffering them', async () => {
    const chunks: string[] = [];
    let response!: IncomingMessage;
    await new Promise<void>((resolve, reject) => {
      const req = request(withToken('/api/events?actor=flood'), (res) => {
        response = res;
        res.pause();
        resolve();
      });
      req.on('error', reject);
      req.end();
    });
    // A client that reads nothing while 2,000 events of 8 KiB each go by (16 MiB: more than the sockets hold).
    const inspection = test.orchestra.resources.inspection;
    for (let i = 0; i < 2_000; i += 1) {
      const event = {
        type: '@xstate.snapshot',
        rootId: 'flood',
        actorRef: { sessionId: 'flood', id: 'flood' },
        event: { type: 'flood.tick' },
        snapshot: { status: 'active', value: `s${i}-${'x'.repeat(8_192)}` },
      } as unknown as InspectionEvent;
      inspection.inspector('root/flood', event);
    }
    const events: SseEvent[] = [];
    let buffer = '';
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      chunks.push(chunk);
      buffer = takeEvents(buffer + chunk, events);
    });
    response.resume();
    const marker = await waitFor(() => events.find((event) => event.event === 'dropped'), { timeoutMs: 30_000, what: 'a dropped marker' });
    const { dropped } = JSON.parse(marker.data) as { dropped: number };
    const delivered = events.filter((event) => event.event === 'inspection').length;
    expect(dropped).toBeGreaterThan(0);
    // Nothing lost without being counted: delivered (so far) and dropped never exceed what was sent.
    expect(delivered + dropped).toBeLessThanOrEqual(2_000);
    response.destroy();
    const metrics = await (await fetch(`${base}/metrics`)).text();
    const counted = Number(/^miyabi_inspection_dropped_total\{where="client"\} (\d+)/m.exec(metrics)?.[1]);
    expect(counted).toBeGreaterThanOrEqual(dropped);
  });

  it('says so when the history stream was deleted, with the live state', async () => {
    const jsm = await jetstreamManager(test.orchestra.resources.nc!);
    await jsm.streams.delete(test.orchestra.resources.inspection.stream);
    const response = await get('/api/issues/1/history');
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({
      error: 'inspection_history_missing',
      message: expect.stringContaining('MIYABI_INSPECT'),
      issue: 1,
      live: { state: 'done' },
    });
  });
});
