/**
 * Webhook notifications against a local HTTP receiver that records what it got: the Slack
 * (through Slack's own `@slack/webhook` client), Discord and JSON bodies, a 500 retried with backoff, a receiver that hangs given up on after the
 * retries (counted, the URL never in the log), and which health findings become notices
 * (once per problem, resolved at the end, a storm as one summary).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { WebhookNotifier, type Notice } from '../../src/infra/observe/notifier.ts';
import type { HealthProblem } from '../../src/machines/health-judge.ts';
import { healthNotices } from '../../src/machines/health-notices.ts';

interface Receiver {
  url: string;
  got: Array<{ path: string; body: any; userAgent: string | undefined }>;
  close(): Promise<void>;
}

async function receiver(answer: (index: number, req: IncomingMessage, res: ServerResponse) => void): Promise<Receiver> {
  const got: Receiver['got'] = [];
  const server: Server = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk) => (text += chunk));
    req.on('end', () => {
      got.push({ path: req.url ?? '', body: JSON.parse(text), userAgent: req.headers['user-agent'] });
      answer(got.length, req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    got,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

function logs() {
  const lines: string[] = [];
  const logger = pino({ level: 'debug' }, new Writable({ write: (chunk, _encoding, done) => (lines.push(String(chunk)), done()) }));
  return { logger, lines };
}

const notice: Notice = { key: 'agent_restarted:codegen-1', severity: 'warning', resolved: false, title: 'agent restarted: codegen-1', text: 'agent codegen-1 (codegen) restarted 1 time(s) since the last check' };

let open: Receiver | undefined;
afterEach(async () => {
  await open?.close();
  open = undefined;
});

describe('WebhookNotifier', () => {
  it('posts the Slack, Discord and JSON bodies to the URLs the variables hold', async () => {
    open = await receiver((_index, _req, res) => res.end('ok'));
    const outcomes: string[] = [];
    const env = { SLACK_URL: `${open.url}/slack/secret-path`, DISCORD_URL: `${open.url}/discord`, JSON_URL: `${open.url}/json` };
    const notifier = new WebhookNotifier({
      targets: [{ kind: 'slack', urlEnv: 'SLACK_URL' }, { kind: 'discord', urlEnv: 'DISCORD_URL' }, { kind: 'json', urlEnv: 'JSON_URL' }],
      env,
      timeoutMs: 2_000,
      retries: 0,
      logger: logs().logger,
      onOutcome: (kind, outcome) => outcomes.push(`${kind}:${outcome}`),
    });
    await notifier.send(notice);
    const byPath = Object.fromEntries(open.got.map((entry) => [entry.path, entry.body]));
    expect(byPath['/slack/secret-path']).toEqual({ text: `WARNING: ${notice.title}\n${notice.text}` });
    // Slack's official client posted it (its user agent), not a hand-made request.
    expect(open.got.find((entry) => entry.path === '/slack/secret-path')?.userAgent).toMatch(/^@slack:webhook\//);
    expect(byPath['/discord']).toEqual({ content: `WARNING: ${notice.title}\n${notice.text}` });
    expect(byPath['/json']).toMatchObject({ source: 'miyabi-orchestra', key: notice.key, resolved: false });
    expect(outcomes.sort()).toEqual(['discord:sent', 'json:sent', 'slack:sent']);
  });

  it('retries a 500 from Slack with backoff until it is delivered, and gives up at once on a 404', async () => {
    open = await receiver((index, req, res) => {
      res.statusCode = req.url === '/gone' ? 404 : index < 2 ? 500 : 200;
      res.end();
    });
    const outcomes: string[] = [];
    const options = { timeoutMs: 2_000, retries: 3, retryBaseMs: 10, logger: logs().logger, onOutcome: (_kind: string, outcome: string) => outcomes.push(outcome) };
    await new WebhookNotifier({ ...options, targets: [{ kind: 'slack', urlEnv: 'U' }], env: { U: `${open.url}/hook` } }).send(notice);
    expect(open.got.map((entry) => entry.path)).toEqual(['/hook', '/hook']);
    await new WebhookNotifier({ ...options, targets: [{ kind: 'slack', urlEnv: 'U' }], env: { U: `${open.url}/gone` } }).send(notice);
    expect(open.got.map((entry) => entry.path)).toEqual(['/hook', '/hook', '/gone']);
    expect(outcomes).toEqual(['sent', 'failed']);
  });

  it('retries a 500 with backoff until it is delivered', async () => {
    open = await receiver((index, _req, res) => {
      res.statusCode = index < 3 ? 500 : 200;
      res.end();
    });
    const outcomes: string[] = [];
    const notifier = new WebhookNotifier({ targets: [{ kind: 'json', urlEnv: 'U' }], env: { U: open.url }, timeoutMs: 2_000, retries: 3, retryBaseMs: 10, logger: logs().logger, onOutcome: (kind, outcome) => outcomes.push(outcome) });
    await notifier.send(notice);
    expect(open.got).toHaveLength(3);
    expect(outcomes).toEqual(['sent']);
  });

  it('gives up on a receiver that hangs after its retries, counts it, and never logs the URL', async () => {
    open = await receiver(() => undefined);
    const { logger, lines } = logs();
    const outcomes: string[] = [];
    const url = `${open.url}/hooks/T000/B000/very-secret-token`;
    const notifier = new WebhookNotifier({ targets: [{ kind: 'slack', urlEnv: 'HOOK' }], env: { HOOK: url }, timeoutMs: 200, retries: 1, retryBaseMs: 10, logger, onOutcome: (kind, outcome) => outcomes.push(outcome) });
    await notifier.send(notice);
    expect(open.got).toHaveLength(2);
    expect(outcomes).toEqual(['failed']);
    expect(lines.join('')).toContain('notification not delivered');
    expect(lines.join('')).not.toContain('very-secret-token');
  });
});

describe('healthNotices', () => {
  const problem = (subject: string, severity: HealthProblem['severity'] = 'warning'): HealthProblem => ({ kind: 'agent_down', severity, subject, message: `agent ${subject} is backoff` });
  const options = { minSeverity: 'warning' as const, maxPerCheck: 3 };

  it('sends one notice per problem while it lasts, and one when it is resolved', () => {
    const first = healthNotices(new Map(), [problem('a')], options);
    expect(first.notices).toMatchObject([{ key: 'agent_down:a', resolved: false }]);
    const again = healthNotices(first.open, [problem('a')], options);
    expect(again.notices).toEqual([]);
    const resolved = healthNotices(again.open, [], options);
    expect(resolved.notices).toMatchObject([{ key: 'agent_down:a', resolved: true, title: 'agent down: a' }]);
  });

  it('turns a storm into one summary, and leaves out what is below the minimum severity', () => {
    const storm = healthNotices(new Map(), ['a', 'b', 'c', 'd'].map((subject) => problem(subject)), options);
    expect(storm.notices).toHaveLength(1);
    expect(storm.notices[0]).toMatchObject({ key: 'summary', title: '4 new problems' });
    expect(healthNotices(new Map(), [problem('a'), problem('bus', 'critical')], { ...options, minSeverity: 'critical' }).notices.map((notice) => notice.key)).toEqual(['agent_down:bus']);
  });
});
