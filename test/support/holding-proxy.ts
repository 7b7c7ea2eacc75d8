/**
 * A relay in front of the fake GitHub that can hold answers: every request goes through to the
 * fake as it is (so a write is applied there), and the answer of one that matches `hold` is kept
 * back until `release()` — what lets a test `kill -9` the orchestrator after GitHub did a write
 * and before the orchestrator heard of it. The fake stays the only GitHub; this is only wire.
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HoldingProxy {
  /** `http://127.0.0.1:port`: the client's `baseUrl`. */
  url: string;
  /** Answers held so far (their requests were applied by the fake). */
  readonly held: number;
  /** Sends the held answers on, and holds no more. */
  release(): void;
  close(): Promise<void>;
}

export async function startHoldingProxy(target: string, hold: (method: string, path: string) => boolean): Promise<HoldingProxy> {
  const waiting: Array<() => void> = [];
  let holding = true;
  let held = 0;
  const relay = (req: IncomingMessage, res: ServerResponse) => {
    const upstream = httpRequest(new URL(req.url ?? '/', target), { method: req.method, headers: req.headers }, (answer) => {
      const chunks: Buffer[] = [];
      answer.on('data', (chunk: Buffer) => chunks.push(chunk));
      answer.on('end', () => {
        const send = () => {
          if (res.destroyed) return;
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          res.end(Buffer.concat(chunks));
        };
        if (holding && hold(req.method ?? 'GET', new URL(req.url ?? '/', target).pathname)) {
          held += 1;
          waiting.push(send);
        } else {
          send();
        }
      });
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  };
  const server = createServer(relay);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get held() {
      return held;
    },
    release() {
      holding = false;
      for (const send of waiting.splice(0)) send();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
