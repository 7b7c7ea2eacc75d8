/**
 * Notifications to chat webhooks: Slack incoming webhooks (`{ text }`, through Slack's own
 * `@slack/webhook` client), Discord webhooks (`{ content }`) and a generic JSON webhook (the
 * notice as it is). Each URL is a secret, read
 * from the environment variable its config names when a notice goes out and never logged (a log
 * line names the kind and the variable). A target that answers 5xx, 429 or not at all within the
 * timeout is retried with the shared backoff; a 4xx other than 429 is not. `send` never throws
 * and never blocks its caller's work: what failed for good is logged and counted.
 */
import { IncomingWebhook, IncomingWebhookHTTPError, IncomingWebhookRequestError } from '@slack/webhook';
import type { Logger } from 'pino';
import { describeError } from '../../errors.ts';
import { abortableDelay, jitteredRetryDelayMs } from '../backoff.ts';

export type WebhookKind = 'slack' | 'discord' | 'json';

export interface Notice {
  /** Stable per problem: a notice and its resolution share it. */
  key: string;
  /** `info`: a message that is no problem (a daily report), sent as it is. */
  severity: 'info' | 'warning' | 'critical';
  resolved: boolean;
  title: string;
  text: string;
}

export interface NotifierOptions {
  targets: ReadonlyArray<{ kind: WebhookKind; urlEnv: string }>;
  env?: Readonly<Record<string, string | undefined>>;
  timeoutMs: number;
  retries: number;
  retryBaseMs?: number;
  logger: Logger;
  /** Each target's outcome, for the metrics. */
  onOutcome?: (kind: WebhookKind, outcome: 'sent' | 'failed') => void;
}

export function webhookBody(kind: WebhookKind, notice: Notice): unknown {
  const head = notice.resolved ? 'RESOLVED: ' : notice.severity === 'info' ? '' : `${notice.severity.toUpperCase()}: `;
  const line = `${head}${notice.title}\n${notice.text}`;
  if (kind === 'slack') return { text: line };
  if (kind === 'discord') return { content: line.slice(0, 2000) };
  return { source: 'miyabi-orchestra', ...notice };
}

export class WebhookNotifier {
  constructor(private readonly options: NotifierOptions) {}

  /** Sends `notice` to every target; resolves when each has answered or given up. */
  async send(notice: Notice): Promise<void> {
    await Promise.all(this.options.targets.map((target) => this.#deliver(target.kind, target.urlEnv, notice)));
  }

  async #deliver(kind: WebhookKind, urlEnv: string, notice: Notice): Promise<void> {
    const { logger, timeoutMs, retries, onOutcome } = this.options;
    const url = (this.options.env ?? process.env)[urlEnv];
    if (!url) {
      logger.warn({ kind, urlEnv }, `notification not sent: environment variable ${urlEnv} is not set`);
      onOutcome?.(kind, 'failed');
      return;
    }
    let problem = '';
    for (let attempt = 1; attempt <= retries + 1; attempt += 1) {
      try {
        const status = await post(kind, url, notice, timeoutMs);
        if (status === undefined) {
          onOutcome?.(kind, 'sent');
          return;
        }
        problem = `HTTP ${status}`;
        if (status < 500 && status !== 429) break;
      } catch (error) {
        // The error may quote the URL: only its kind is kept.
        problem = (error as Error).name === 'TimeoutError' ? `no answer in ${timeoutMs} ms` : describeError(error).replaceAll(url, `$${urlEnv}`);
      }
      if (attempt <= retries) await abortableDelay(jitteredRetryDelayMs(attempt, { initialMs: this.options.retryBaseMs ?? 1_000, maxMs: 30_000, jitter: 0.2 }));
    }
    logger.warn({ kind, urlEnv, problem, notice: notice.key }, 'notification not delivered');
    onOutcome?.(kind, 'failed');
  }
}

/**
 * One attempt: undefined when the target took it, else its HTTP status; throws when it did not
 * answer (a `TimeoutError` after `timeoutMs`). Slack's client does no retries of its own here:
 * the caller's loop retries every kind alike.
 */
async function post(kind: WebhookKind, url: string, notice: Notice, timeoutMs: number): Promise<number | undefined> {
  if (kind === 'slack') {
    try {
      await new IncomingWebhook(url, { timeout: timeoutMs }).send(webhookBody('slack', notice) as { text: string });
      return undefined;
    } catch (error) {
      if (error instanceof IncomingWebhookHTTPError) return error.statusCode;
      throw error instanceof IncomingWebhookRequestError ? error.original : error;
    }
  }
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(webhookBody(kind, notice)),
    signal: AbortSignal.timeout(timeoutMs),
  });
  await response.arrayBuffer().catch(() => undefined);
  return response.ok ? undefined : response.status;
}
