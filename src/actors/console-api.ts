/**
 * The console's APIs on the orchestra's HTTP endpoint (docs/CONSOLE.md):
 *
 *   GET /api/tree                the supervisor tree, as `status --json`
 *   GET /api/machines            every machine of src/machines as a JSON definition
 *   GET /api/issues/<n>/history  the issue's transitions, oldest first, from MIYABI_INSPECT
 *   GET /api/dag                 the dependency graph, as `dag show --format json`
 *   GET /api/events              Server-Sent Events: live inspection records (`?issue=N`, `?actor=ID`)
 *   GET /api/queues, /api/agents/<id>/output   waiting and running tasks, agents, an agent's output (./console-data.ts)
 *   GET /api/logs                the log index searched, as `logs search --json` (./console-logs.ts)
 *   GET /                        the console itself (./console-page.ts, the views in src/console)
 *
 * Bound to a loopback address (the default) they are open to the machine's users, as /metrics
 * is. Bound to any other address, every console page and API asks for the token of
 * `console.tokenEnv` (`Authorization: Bearer <token>` or `?token=`, for EventSource, which
 * cannot send headers): 401 without it, and 403 for all when no token is configured.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { describeError, MiyabiError, ErrorCodes } from '../errors.ts';
import { readSubjectHistory } from '../infra/bus/inspection-stream.ts';
import { SseStream } from '../infra/observe/sse.ts';
import { machineDefinitions } from '../machines/catalog.ts';
import { toGraph } from '../machines/diagram.ts';
import { renderGraph } from '../machines/dag.ts';
import { statusReply } from './control.ts';
import { INSPECT_SUBJECTS, type InspectionRecord } from './inspection.ts';
import type { OrchestraResources } from './resources.ts';
import { agentOutput, queues } from './console-data.ts';
import { logsSearchAnswer } from './console-logs.ts';
import { consolePage } from './console-page.ts';

type Answer = { status: number; body: unknown };

const json = (res: ServerResponse, { status, body }: Answer): void => {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
};

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host) || /^::ffff:127\./.test(host);
}

/** Whether this request may see the console: undefined when it may, else the refusal. */
export function consoleRefusal(host: string, token: string | undefined, req: IncomingMessage, url: URL): Answer | undefined {
  if (isLoopback(host)) return undefined;
  if (token === undefined) {
    return { status: 403, body: { error: 'console_token_missing', message: `the console is bound to ${host}, not loopback: set console.tokenEnv to the name of an environment variable holding its token` } };
  }
  const header = req.headers.authorization;
  const given = header?.startsWith('Bearer ') ? header.slice('Bearer '.length) : (url.searchParams.get('token') ?? '');
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  if (a.length === b.length && timingSafeEqual(a, b)) return undefined;
  return { status: 401, body: { error: 'unauthorized', message: 'this console needs its token: Authorization: Bearer <token>, or ?token=<token>' } };
}

/** The HTTP server's fallback: true when the path was the console's (answered, refused or not). */
export function consoleHandler(resources: OrchestraResources, logger: Logger) {
  return async (req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> => {
    if (path !== '/' && path !== '/api' && !path.startsWith('/api/')) return false;
    const url = new URL(req.url ?? '/', 'http://localhost');
    const refusal = consoleRefusal(resources.config.http.host, resources.secrets.consoleToken, req, url);
    if (refusal) {
      json(res, refusal);
      return true;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json; charset=utf-8' });
      res.end(`${JSON.stringify({ error: 'method not allowed', method: req.method })}\n`);
      return true;
    }
    if (path === '/') {
      const { html, headers } = consolePage();
      res.writeHead(200, { ...headers, 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html), 'cache-control': 'no-store' });
      res.end(html);
      return true;
    }
    if (path === '/api/events') {
      events(resources, req, res, url);
      return true;
    }
    const history = /^\/api\/issues\/([^/]+)\/history$/.exec(path);
    const output = /^\/api\/agents\/([^/]+)\/output$/.exec(path);
    const answer: Answer | undefined =
      path === '/api/tree'
        ? { status: 200, body: statusReply(resources) }
        : path === '/api/machines'
          ? { status: 200, body: machinesBody() }
          : path === '/api/dag'
            ? dag(resources)
            : path === '/api/queues'
              ? queues(resources)
              : path === '/api/logs'
                ? await logsSearchAnswer(resources, url)
                : output
                  ? await agentOutput(resources, decodedSegment(output[1]!), url)
                  : history
                    ? await issueHistory(resources, history[1]!, logger)
                    : undefined;
    json(res, answer ?? { status: 404, body: { error: 'not found', path } });
    return true;
  };
}

/** A path segment decoded; a malformed escape stays as it was (and fails the id's check). */
function decodedSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** The definitions, and each machine's ELK graph (src/machines/diagram.ts) for the page to lay out. */
function machinesBody(): { machines: ReturnType<typeof machineDefinitions>; graphs: Record<string, ReturnType<typeof toGraph>> } {
  const machines = machineDefinitions();
  return { machines, graphs: Object.fromEntries(machines.map((machine) => [machine.id, toGraph(machine)])) };
}

function dag(resources: OrchestraResources): Answer {
  const workflow = resources.workflow;
  if (!workflow) return { status: 503, body: { error: 'workflow_not_running', message: 'the workflow is not running (starting, or restarting): try again' } };
  const states = workflow.states();
  const label = (id: number) => {
    const title = workflow.records.get(id)?.issue.title ?? workflow.finished.get(id)?.row.title;
    const state = states.get(id) ?? workflow.dag.graph.state(id) ?? 'unknown';
    return title === undefined ? state : `${title} (${state})`;
  };
  return { status: 200, body: JSON.parse(renderGraph(workflow.dag.graph, 'json', label)) };
}

/** The issue's state now, from the workflow: what the page shows beside (or instead of) its history. */
function liveState(resources: OrchestraResources, number: number): { state: string; context: unknown } | undefined {
  const workflow = resources.workflow;
  const finished = workflow?.finished.get(number);
  // Finished before the last restart: its summary is what the workflow holds (the history has the rest).
  if (finished) return { state: finished.state, context: JSON.parse(resources.redact(JSON.stringify(finished))) };
  if (!workflow?.records.has(number)) return undefined;
  const snapshot = workflow.snapshot(number);
  return { state: String(snapshot.value), context: JSON.parse(resources.redact(JSON.stringify(snapshot.context))) };
}

async function issueHistory(resources: OrchestraResources, text: string, logger: Logger): Promise<Answer> {
  const number = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(number) || number <= 0) {
    return { status: 400, body: { error: 'invalid_issue', message: `expected an issue number, got "${text}"` } };
  }
  const live = liveState(resources, number);
  const nc = resources.nc;
  if (!nc) return { status: 503, body: { error: 'bus_down', message: 'the bus is not connected: the history cannot be read now', issue: number, live: live ?? null } };
  try {
    const { records, total } = await readSubjectHistory<InspectionRecord>(nc, resources.inspection.stream, INSPECT_SUBJECTS.issue(number));
    if (total === 0 && !live) {
      return { status: 404, body: { error: 'unknown_issue', message: `issue #${number} is not known to this orchestra and has no recorded history` } };
    }
    return { status: 200, body: { issue: number, total, transitions: records, live: live ?? null } };
  } catch (error) {
    const missing = error instanceof MiyabiError && error.code === ErrorCodes.InspectionHistoryMissing;
    if (!missing) logger.warn({ issue: number, err: describeError(error) }, 'issue history read failed');
    return {
      status: 503,
      body: { error: missing ? error.code : 'history_unreadable', message: describeError(error), issue: number, live: live ?? null },
    };
  }
}

function events(resources: OrchestraResources, req: IncomingMessage, res: ServerResponse, url: URL): void {
  const issue = url.searchParams.get('issue');
  const actor = url.searchParams.get('actor');
  const wanted = (record: InspectionRecord) =>
    (issue === null || record.issue?.number === Number(issue)) &&
    (actor === null || record.actor === actor || record.actor.endsWith(`/${actor}`) || record.actor.includes(`/${actor}/`));
  const stream = new SseStream(res, { capacity: resources.config.console.clientQueue, onDrop: (count) => resources.inspection.clientDropped(count) });
  // First what is, then what changes: the tree as `status --json` shows it.
  stream.send('tree', JSON.stringify(statusReply(resources)));
  const unsubscribe = resources.inspection.subscribe((record, text) => {
    if (wanted(record)) stream.send('inspection', text);
  });
  req.on('close', () => {
    unsubscribe();
    stream.close();
  });
}
