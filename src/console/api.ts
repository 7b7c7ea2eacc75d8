/**
 * The console's calls to the orchestra's APIs (their answers' shapes: ./api-types.ts).
 *
 * Off loopback every API wants the token: the page was opened as `/?token=…`, and every fetch
 * and the EventSource carry that same `token` parameter.
 */
import type { InspectionRecord, StatusReply } from './api-types.ts';

export type * from './api-types.ts';

/** An API's refusal or failure: `{ error, message }` and whatever else it said. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: { error?: string; message?: string; [key: string]: unknown },
  ) {
    super(body.message ?? body.error ?? `HTTP ${status}`);
  }
}

const token = new URLSearchParams(location.search).get('token');

/** `path` with the page's token, when it has one. */
export function withToken(path: string): string {
  if (token === null) return path;
  return `${path}${path.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
}

export async function getJson<T>(path: string): Promise<T> {
  const response = await fetch(withToken(path), { headers: { accept: 'application/json' } });
  const body = (await response.json().catch(() => ({}))) as T & { error?: string };
  if (!response.ok) throw new ApiError(response.status, body as ApiError['body']);
  return body;
}

export type LiveHandlers = {
  tree(reply: StatusReply): void;
  inspection(record: InspectionRecord): void;
  dropped(count: number): void;
  connected(open: boolean): void;
};

/** The live events (/api/events): the tree first, then every inspection record. EventSource reconnects by itself. */
export function followEvents(handlers: LiveHandlers): EventSource {
  const source = new EventSource(withToken('/api/events'));
  source.addEventListener('open', () => handlers.connected(true));
  source.addEventListener('error', () => handlers.connected(false));
  source.addEventListener('tree', (event) => handlers.tree(JSON.parse((event as MessageEvent<string>).data) as StatusReply));
  source.addEventListener('inspection', (event) => handlers.inspection(JSON.parse((event as MessageEvent<string>).data) as InspectionRecord));
  source.addEventListener('dropped', (event) => handlers.dropped((JSON.parse((event as MessageEvent<string>).data) as { dropped: number }).dropped));
  return source;
}
