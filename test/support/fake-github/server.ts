/**
 * The HTTP side of the fake: every request recorded (when it arrived, what it was answered, and
 * whether that counted against the rate limit), the token checked (401 "Bad credentials" without
 * it), a rate limit in force refused (403, not counted), a fault answered when one matches (an
 * `answer_lost` one after the route has applied the request), else the route; then the weak
 * `ETag` of every GET 200 (a matching `If-None-Match` answers 304, which does not count against
 * the rate limit), the rate-limit headers, and raw bodies spliced in as bytes.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { faultAnswer, limitInForce, rateHeaders, takeFault } from './faults.ts';
import { docs, type Answer } from './http.ts';
import type { FakeRepo } from './repo.ts';
import type { RecordedRequest } from './types.ts';

/** Listens on 127.0.0.1, a free port, and sets `fake.base`. */
export async function serve(
  fake: FakeRepo,
  token: string | undefined,
  route: (req: IncomingMessage, url: URL) => Promise<Answer>,
): Promise<Server> {
  const { state, raw } = fake;
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', fake.base);
    const method = req.method ?? 'GET';
    const record: RecordedRequest = { method, path: url.pathname, query: url.search, status: 0, counted: false, at: Date.now() };
    state.requests.push(record);

    let answer: Answer;
    const authorization = req.headers.authorization ?? '';
    const authorized = token === undefined || new RegExp(`^(token|bearer) ${escape(token)}$`, 'i').test(authorization);
    const limited = authorized ? limitInForce(state) : undefined;
    const fault = authorized && limited === undefined ? takeFault(state, method, url.pathname, url.search) : undefined;
    if (!authorized) {
      answer = { status: 401, body: { message: 'Bad credentials', documentation_url: docs, status: '401' } };
    } else if (fault?.kind === 'network') {
      req.socket.destroy();
      return;
    } else if (fault?.kind === 'answer_lost') {
      // Applied, then the answer is lost: the write happened, the client cannot know it.
      const applied = await route(req, url);
      record.appliedStatus = applied.status;
      if (fault.status === undefined) {
        req.socket.destroy();
        return;
      }
      answer = faultAnswer(state, { ...fault, kind: 'server_error' });
    } else if (fault?.kind === 'slow') {
      // Late, not lost: the route answers (and applies the request) after the wait.
      await new Promise((resolve) => setTimeout(resolve, fault.delayMs ?? 1000));
      answer = await route(req, url);
    } else if (limited !== undefined) {
      answer = faultAnswer(state, limited);
    } else if (fault !== undefined) {
      answer = faultAnswer(state, fault);
    } else {
      answer = await route(req, url);
    }

    let payload: Buffer = answer.body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(answer.body), 'utf8');
    if (raw.size > 0) payload = splice(payload, raw);
    const etag = method === 'GET' && answer.status === 200 ? `W/"${createHash('sha256').update(payload).digest('hex').slice(0, 32)}"` : undefined;
    const notModified = etag !== undefined && req.headers['if-none-match'] === etag;
    // A 304 does not count against the rate limit, nor a refusal while a limit is in force; every
    // other answer does, and says so.
    record.counted = !notModified && limited === undefined;
    if (record.counted && state.rateLimit.remaining > 0) state.rateLimit.remaining -= 1;
    const headers: Record<string, string | number> = {
      'x-github-request-id': `FAKE:${state.requests.length}`,
      'x-github-api-version-selected': '2022-11-28',
      ...rateHeaders(state),
      ...(etag !== undefined ? { etag } : {}),
      ...answer.headers,
    };
    record.status = notModified ? 304 : answer.status;
    if (notModified) {
      res.writeHead(304, headers).end();
      return;
    }
    res.writeHead(answer.status, { 'content-type': 'application/json; charset=utf-8', ...headers, 'content-length': payload.length });
    res.end(payload);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: `fake GitHub failed: ${String(error)}` }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return server;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Replaces each `"token"` placeholder's token with its raw bytes. */
function splice(payload: Buffer, raw: Map<string, Buffer>): Buffer {
  const parts: Buffer[] = [];
  let rest = payload;
  for (;;) {
    let first: { at: number; token: string } | undefined;
    for (const token of raw.keys()) {
      const at = rest.indexOf(token);
      if (at >= 0 && (first === undefined || at < first.at)) first = { at, token };
    }
    if (first === undefined) break;
    parts.push(rest.subarray(0, first.at), raw.get(first.token)!);
    rest = rest.subarray(first.at + Buffer.byteLength(first.token));
  }
  parts.push(rest);
  return Buffer.concat(parts);
}
