/**
 * The GitHub webhook receiver: a request handler for the `routes` option of
 * src/infra/observe/http-server.ts (mounted by exact path; it sees every method).
 *
 *   not POST                                405 (`Allow: POST`)
 *   body over `maxBodyBytes` (1 MiB)        413: refused on `Content-Length` before reading, or as
 *                                           soon as a chunked body goes over
 *   no or bad `X-Hub-Signature-256`         401 and one warn line (HMAC-SHA256 of the raw body with
 *                                           the secret, compared in constant time; the secret is
 *                                           never logged)
 *   no `X-GitHub-Delivery`, body not JSON   400
 *   `ping`                                  200
 *   another repository (a fork, say)        202, ignored, logged
 *   events other than issues, issue_comment and label
 *                                           202, ignored
 *   a delivery id seen before               200, not handed on again: once a delivery was handled
 *                                           it is remembered in `deliveries` (durably: the KV
 *                                           ledger, with retention, so GitHub's "Redeliver" days
 *                                           later, after restarts, is a no-op) and in memory (the
 *                                           last `maxDeliveries` ids); a delivery whose handler
 *                                           failed is not remembered, so its redelivery is handled
 *   otherwise                               `onEvent(normalized)`; 200 when it resolves, 500 and an
 *                                           error line when it throws
 *
 * A comment that starts with the orchestra's hidden marker is taken for its own (its `key` set,
 * the marker left out) only when `ownComment` says so — the orchestra's login, the signature
 * verifying (src/issues/github/comments.ts); anyone can write a marker.
 *
 * The signature covers the body as bytes; GitHub sends JSON in UTF-8, which is verified as that
 * text (`@octokit/webhooks-methods`). A body in the form encoding (`payload=…`, a webhook
 * configured with `application/x-www-form-urlencoded`) is accepted too.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { verify } from '@octokit/webhooks-methods';
import type { Logger } from 'pino';
import { describeError } from '../errors.ts';
import { isBotUser, toTrackedIssue, type GitHubIssueJson } from './github-source.ts';
import { parseCommentMarker } from './github/comments.ts';
import { IssueErrorCodes } from './errors.ts';
import type { AuthorAssociation, TrackedIssue } from './source.ts';

export type GitHubWebhookEventName = 'issues' | 'issue_comment' | 'label';

export interface GitHubWebhookEvent {
  /** `X-GitHub-Delivery` */
  deliveryId: string;
  name: GitHubWebhookEventName;
  /** `opened`, `labeled`, `created` … as GitHub says. */
  action: string;
  /** issues and issue_comment events: the issue, mapped as the source maps it. */
  issue?: TrackedIssue;
  /** issue_comment on a pull request (GitHub sends those as comments on an issue). */
  isPullRequest?: boolean;
  sender: { login: string; isBot: boolean };
  /** The label of a `labeled`/`unlabeled` issues event, or of a label event. */
  label?: string;
  /** A label event's `edited` action: the name it had. */
  previousLabel?: string;
  comment?: {
    id: number;
    /** As written; without the hidden marker when it is the orchestra's own (`key`). */
    body: string;
    author: string;
    authorAssociation: AuthorAssociation;
    authorIsBot: boolean;
    /**
     * The orchestra's own comment: the key of its hidden marker (src/issues/github/comments.ts),
     * set only when `ownComment` says so (its author and signature): anyone can write a marker.
     */
    key?: string;
  };
}

/**
 * Remembers, durably and for a while, what was done once: here a webhook delivery handled
 * (`delivery.<id>` keys); the issue watcher keeps its comment commands obeyed in the same kind of
 * ledger (src/actors/once-ledger.ts serves both).
 */
export interface OnceLedger {
  has(key: string): Promise<boolean>;
  add(key: string): Promise<void>;
}

export interface GitHubWebhookOptions {
  secret: string;
  owner: string;
  repo: string;
  /** Default 1 MiB. */
  maxBodyBytes?: number;
  /** Delivery ids remembered in memory against replays; default 10 000. */
  maxDeliveries?: number;
  /** Delivery ids remembered durably; absent: in memory only (this process). */
  deliveries?: OnceLedger;
  logger: Logger;
  /**
   * Whether a comment that starts with the orchestra's hidden marker is its own (by its login,
   * the signature verifying: `GitHubIssueSource.ownsComment`). Absent: none is, and a marked
   * comment is handed on as anyone's, as written.
   */
  ownComment?: (issue: number, author: string, key: string, signature: string | undefined) => Promise<boolean>;
  onEvent: (event: GitHubWebhookEvent) => void | Promise<void>;
}

export type GitHubWebhookHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

const handled: ReadonlySet<string> = new Set<GitHubWebhookEventName>(['issues', 'issue_comment', 'label']);

function reply(res: ServerResponse, status: number, value: Record<string, unknown>, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  const body = `${JSON.stringify(value)}\n`;
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(body);
}

/**
 * The body, or undefined as soon as it goes over `max`; the rest is then left unread (not
 * `for await`, which would destroy the socket before the 413 could be sent).
 */
function readBody(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (value: Buffer | undefined, error?: unknown) => {
      req.off('data', onData).off('end', onEnd).off('error', onError);
      if (error !== undefined) reject(error);
      else resolve(value);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        req.pause();
        done(undefined);
      } else chunks.push(chunk);
    };
    const onEnd = () => done(Buffer.concat(chunks));
    const onError = (error: unknown) => done(undefined, error);
    req.on('data', onData).on('end', onEnd).on('error', onError);
  });
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

type Payload = Record<string, unknown> & {
  action?: unknown;
  repository?: { full_name?: unknown } | null;
  sender?: { login?: string | null; type?: string | null } | null;
  issue?: GitHubIssueJson | null;
  label?: { name?: unknown } | null;
  changes?: { name?: { from?: unknown } } | null;
  comment?: {
    id?: unknown;
    body?: unknown;
    user?: { login?: string | null; type?: string | null } | null;
    author_association?: unknown;
  } | null;
};

function parsePayload(body: Buffer, contentType: string | undefined): Payload | undefined {
  try {
    let text = body.toString('utf8');
    if (contentType?.startsWith('application/x-www-form-urlencoded')) text = new URLSearchParams(text).get('payload') ?? '';
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Payload) : undefined;
  } catch {
    return undefined;
  }
}

/** The payload as the orchestra's event; undefined when an issues/issue_comment event lacks its issue. */
export function normalizeWebhookEvent(name: GitHubWebhookEventName, deliveryId: string, payload: Payload): GitHubWebhookEvent | undefined {
  const event: GitHubWebhookEvent = {
    deliveryId,
    name,
    action: typeof payload.action === 'string' ? payload.action : '',
    sender: { login: payload.sender?.login ?? 'ghost', isBot: isBotUser(payload.sender) },
  };
  if (typeof payload.label?.name === 'string') event.label = payload.label.name;
  if (name === 'label' && typeof payload.changes?.name?.from === 'string') event.previousLabel = payload.changes.name.from;
  if (name === 'issues' || name === 'issue_comment') {
    const issue = payload.issue;
    if (typeof issue !== 'object' || issue === null || typeof issue.number !== 'number') return undefined;
    event.issue = toTrackedIssue(issue);
    if (issue.pull_request !== undefined && issue.pull_request !== null) event.isPullRequest = true;
  }
  if (name === 'issue_comment') {
    const comment = payload.comment;
    if (typeof comment !== 'object' || comment === null) return undefined;
    const association = typeof comment.author_association === 'string' ? comment.author_association : 'NONE';
    event.comment = {
      id: typeof comment.id === 'number' ? comment.id : 0,
      body: typeof comment.body === 'string' ? comment.body : '',
      author: comment.user?.login ?? 'ghost',
      authorAssociation: toTrackedIssue({ number: 0, author_association: association }).authorAssociation,
      authorIsBot: isBotUser(comment.user),
    };
  }
  return event;
}

/** A marked comment the orchestra owns gets its key and loses the marker; any other stays as written. */
async function recognizeOwnComment(event: GitHubWebhookEvent, ownComment: GitHubWebhookOptions['ownComment']): Promise<void> {
  const { comment, issue } = event;
  if (comment === undefined || issue === undefined || ownComment === undefined) return;
  const marker = parseCommentMarker(comment.body);
  if (marker.key === undefined || !(await ownComment(issue.number, comment.author, marker.key, marker.signature))) return;
  comment.body = marker.body;
  comment.key = marker.key;
}

export function createGitHubWebhookHandler(options: GitHubWebhookOptions): GitHubWebhookHandler {
  const { secret, logger, onEvent } = options;
  const repository = `${options.owner}/${options.repo}`.toLowerCase();
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  const maxDeliveries = options.maxDeliveries ?? 10_000;
  /** Delivery ids, oldest first (a Set keeps insertion order). */
  const deliveries = new Set<string>();
  const remember = (id: string) => {
    deliveries.add(id);
    while (deliveries.size > maxDeliveries) deliveries.delete(deliveries.values().next().value!);
  };

  const tooLarge = (res: ServerResponse, req: IncomingMessage, bytes: string) => {
    logger.warn({ webhook: { bytes, maxBodyBytes, event: header(req, 'x-github-event') } }, 'webhook delivery too large: refused');
    // `Connection: close`: the rest of the body is not read; the socket goes with the answer.
    reply(res, 413, { error: 'payload too large', code: IssueErrorCodes.WebhookPayloadTooLarge, maxBodyBytes }, { connection: 'close' });
    res.once('finish', () => req.destroy());
  };

  return async (req, res) => {
    if (req.method !== 'POST') {
      reply(res, 405, { error: 'method not allowed', method: req.method }, { allow: 'POST' });
      return;
    }
    const declared = Number(header(req, 'content-length') ?? Number.NaN);
    if (Number.isFinite(declared) && declared > maxBodyBytes) return tooLarge(res, req, String(declared));
    const body = await readBody(req, maxBodyBytes);
    if (body === undefined) return tooLarge(res, req, `> ${maxBodyBytes}`);

    const name = header(req, 'x-github-event') ?? '';
    const deliveryId = header(req, 'x-github-delivery') ?? '';
    const signature = header(req, 'x-hub-signature-256');
    const context = { deliveryId, event: name };
    let valid = false;
    if (signature !== undefined && signature !== '' && body.length > 0) {
      try {
        valid = await verify(secret, body.toString('utf8'), signature);
      } catch {
        valid = false;
      }
    }
    if (!valid) {
      logger.warn(
        { webhook: { ...context, code: IssueErrorCodes.WebhookSignatureInvalid, remote: req.socket.remoteAddress } },
        signature === undefined ? 'webhook delivery without X-Hub-Signature-256: refused' : 'webhook delivery with a bad signature: refused',
      );
      reply(res, 401, { error: 'invalid signature', code: IssueErrorCodes.WebhookSignatureInvalid });
      return;
    }

    const payload = parsePayload(body, header(req, 'content-type'));
    if (payload === undefined || deliveryId === '' || name === '') {
      logger.warn({ webhook: { ...context, code: IssueErrorCodes.WebhookPayloadInvalid } }, 'webhook delivery not understood');
      reply(res, 400, { error: 'not a GitHub webhook delivery', code: IssueErrorCodes.WebhookPayloadInvalid });
      return;
    }
    if (name === 'ping') {
      logger.info({ webhook: context }, 'webhook ping');
      reply(res, 200, { ok: true, event: 'ping' });
      return;
    }
    const from = typeof payload.repository?.full_name === 'string' ? payload.repository.full_name : undefined;
    if (from === undefined || from.toLowerCase() !== repository) {
      logger.info({ webhook: { ...context, repository: from ?? null } }, 'webhook delivery for another repository: ignored');
      reply(res, 202, { ignored: true, reason: 'another repository' });
      return;
    }
    if (!handled.has(name)) {
      logger.debug({ webhook: context }, 'webhook event not handled: ignored');
      reply(res, 202, { ignored: true, reason: 'event not handled' });
      return;
    }
    const ledgerKey = `delivery.${deliveryId}`;
    let seen = deliveries.has(deliveryId);
    if (!seen && options.deliveries) {
      try {
        seen = await options.deliveries.has(ledgerKey);
      } catch (error) {
        // Cannot tell: GitHub delivers it again after a 5xx, and polling catches up meanwhile.
        logger.warn({ webhook: context, err: describeError(error) }, 'webhook delivery ledger unreadable; refused for now');
        reply(res, 503, { error: 'delivery ledger unavailable' });
        return;
      }
      if (seen) remember(deliveryId);
    }
    if (seen) {
      logger.info({ webhook: context }, 'webhook delivery seen before: not handled again');
      reply(res, 200, { ok: true, duplicate: true });
      return;
    }
    const event = normalizeWebhookEvent(name as GitHubWebhookEventName, deliveryId, payload);
    if (event === undefined) {
      logger.warn({ webhook: { ...context, code: IssueErrorCodes.WebhookPayloadInvalid } }, 'webhook delivery lacks its issue or comment');
      reply(res, 400, { error: 'payload lacks its issue or comment', code: IssueErrorCodes.WebhookPayloadInvalid });
      return;
    }
    remember(deliveryId);
    try {
      await recognizeOwnComment(event, options.ownComment);
      await onEvent(event);
    } catch (error) {
      deliveries.delete(deliveryId);
      logger.error({ webhook: { ...context, action: event.action, issue: event.issue?.number }, err: describeError(error) }, 'webhook event handler failed');
      reply(res, 500, { error: 'handler failed' });
      return;
    }
    // Handled: a failure to remember it (or a crash before) is logged; a redelivery is handled again,
    // and the commands it publishes carry their comment's id, which the workflow obeys once for good.
    await options.deliveries?.add(ledgerKey).catch((error: unknown) =>
      logger.warn({ webhook: context, err: describeError(error) }, 'webhook delivery handled but not remembered durably'),
    );
    logger.debug({ webhook: { ...context, action: event.action, issue: event.issue?.number } }, 'webhook event handled');
    reply(res, 200, { ok: true });
  };
}
