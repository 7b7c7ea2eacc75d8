/**
 * How the fake answers: the shape of an answer, GitHub's error bodies (404, 422), pagination as
 * GitHub does it (`per_page`, `page`, a `Link` header with next/last/first/prev), and the request
 * as the resource modules see it.
 */
import type { IncomingMessage } from 'node:http';
import type { FakeRepo } from './repo.ts';

export const docs = 'https://docs.github.com/rest';

export type Answer = { status: number; body?: unknown; headers?: Record<string, string | number> };

/** A request under `/repos/{owner}/{repo}`: `parts` is the rest of the path, decoded. */
export interface FakeRequest {
  method: string;
  url: URL;
  parts: string[];
  /** The JSON body; `{}` when there is none. */
  body(): Promise<Record<string, unknown>>;
}

/** What a resource module answers; undefined when the request is not one of its own. */
export type Route = (fake: FakeRepo, request: FakeRequest) => Answer | undefined | Promise<Answer | undefined>;

export const notFound = (): Answer => ({ status: 404, body: { message: 'Not Found', documentation_url: docs, status: '404' } });

export const invalid = (errors: unknown[]): Answer => ({
  status: 422,
  body: { message: 'Validation Failed', errors, documentation_url: docs, status: '422' },
});

export const paginate = (fake: FakeRepo, url: URL, items: unknown[]): Answer => {
  const perPage = Math.min(100, Math.max(1, Number(url.searchParams.get('per_page') ?? 30) || 30));
  const page = Math.max(1, Number(url.searchParams.get('page') ?? 1) || 1);
  const last = Math.max(1, Math.ceil(items.length / perPage));
  const link = (n: number, rel: string) => {
    const target = new URL(url.pathname + url.search, fake.base);
    target.searchParams.set('page', String(n));
    return `<${target.href}>; rel="${rel}"`;
  };
  const links: string[] = [];
  if (page > 1) links.push(link(page - 1, 'prev'));
  if (page < last) links.push(link(page + 1, 'next'), link(last, 'last'));
  if (page > 1) links.push(link(1, 'first'));
  return {
    status: 200,
    body: items.slice((page - 1) * perPage, page * perPage),
    headers: links.length > 0 ? { link: links.join(', ') } : {},
  };
};

export const readBody = async (req: IncomingMessage): Promise<Record<string, unknown>> => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  if (chunks.length === 0) return {};
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
};
