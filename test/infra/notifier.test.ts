/**
 * Webhook notifications against a local HTTP receiver that records what it got: the Slack
 * (through Slack's own `@slack/webhook` client), Discord and JSON bodies, a 500 retried with backoff, a receiver that hangs given up on after the
 * retries (counted, the URL never in the log), and which health findings become notices
 * (once per problem, resolved at the end, a storm and its end as one summary each; a flapping
 * problem told once per interval, and at most so many messages in an interval overall).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { WebhookNotifier, type Notice } from '../../src/infra/observe/notifier.ts';
import type { HealthProblem } from '../../src/machines/health-judge.ts';
import { EMPTY_NOTICE_MEMORY, healthNotices, type NoticeLimits, type NoticeMemory } from '../../src/machines/health-notices.ts';

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
  const options: NoticeLimits = { minSeverity: 'warning', maxPerCheck: 3, intervalMs: 60_000, maxPerInterval: 20 };

  it('sends one notice per problem while it lasts, and one when it is resolved', () => {
    const first = healthNotices(EMPTY_NOTICE_MEMORY, [problem('a')], options, 0);
    expect(first.notices).toMatchObject([{ key: 'agent_down:a', resolved: false }]);
    const again = healthNotices(first.memory, [problem('a')], options, 1_000);
    expect(again.notices).toEqual([]);
    const resolved = healthNotices(again.memory, [], options, 2_000);
    expect(resolved.notices).toMatchObject([{ key: 'agent_down:a', resolved: true, title: 'agent down: a' }]);
  });

  it('turns a storm into one summary, its end into one more, and leaves out what is below the minimum severity', () => {
    const storm = healthNotices(EMPTY_NOTICE_MEMORY, ['a', 'b', 'c', 'd'].map((subject) => problem(subject)), options, 0);
    expect(storm.notices).toHaveLength(1);
    expect(storm.notices[0]).toMatchObject({ key: 'summary', title: '4 new problems', resolved: false });
    const over = healthNotices(storm.memory, [], options, 1_000);
    expect(over.notices).toHaveLength(1);
    expect(over.notices[0]).toMatchObject({ key: 'summary', title: '4 problems resolved', resolved: true });
    expect(over.notices[0]!.text.split('\n')).toEqual(['- agent down: a', '- agent down: b', '- agent down: c', '- agent down: d']);
    expect(healthNotices(EMPTY_NOTICE_MEMORY, [problem('a'), problem('bus', 'critical')], { ...options, minSeverity: 'critical' }, 0).notices.map((notice) => notice.key)).toEqual(['agent_down:bus']);
  });
});

/** Checks one second apart from `start`, each with its findings; what each check notices is posted to the receiver. */
async function runChecks(url: string, memory: NoticeMemory, limits: NoticeLimits, start: number, checks: HealthProblem[][]): Promise<NoticeMemory> {
  const notifier = new WebhookNotifier({ targets: [{ kind: 'json', urlEnv: 'U' }], env: { U: url }, timeoutMs: 2_000, retries: 0, logger: logs().logger });
  let state = memory;
  for (const [index, findings] of checks.entries()) {
    const next = healthNotices(state, findings, limits, start + index * 1_000);
    state = next.memory;
    for (const notice of next.notices) await notifier.send(notice);
  }
  return state;
}

describe('health notices over time, at a local receiver', () => {
  const flapping: HealthProblem = { kind: 'heartbeat_late', severity: 'warning', subject: 'codegen-1', message: 'agent codegen-1 (codegen): last heartbeat 2 s ago' };
  const limits: NoticeLimits = { minSeverity: 'warning', maxPerCheck: 5, intervalMs: 60_000, maxPerInterval: 20 };
  const got = () => open!.got.map((entry) => ({ key: entry.body.key, resolved: entry.body.resolved, title: entry.body.title, text: entry.body.text }));

  it('tells a flapping problem once per interval: its first coming and going, then once it is still there, with how often it came back', async () => {
    open = await receiver((_index, _req, res) => res.end());
    // Found at every other check for ten checks (ten seconds): one notice and its resolution.
    const memory = await runChecks(open.url, EMPTY_NOTICE_MEMORY, limits, 0, Array.from({ length: 10 }, (_, index) => (index % 2 === 0 ? [flapping] : [])));
    expect(got().map(({ key, resolved }) => [key, resolved])).toEqual([['heartbeat_late:codegen-1', false], ['heartbeat_late:codegen-1', true]]);
    // A minute after its notice it is there again: told once more, with its four returns.
    await runChecks(open.url, memory, limits, 60_000, [[flapping], [flapping], []]);
    expect(got().slice(2)).toMatchObject([
      { key: 'heartbeat_late:codegen-1', resolved: false, text: 'agent codegen-1 (codegen): last heartbeat 2 s ago (it came back 4 time(s) since its last notice)' },
      { key: 'heartbeat_late:codegen-1', resolved: true },
    ]);
  });

  it('sends at most maxPerInterval messages in an interval, and what it held back as one summary once the interval allows', async () => {
    open = await receiver((_index, _req, res) => res.end());
    const capped = { ...limits, maxPerInterval: 3 };
    // Five problems, one new at each check.
    const problems = ['a', 'b', 'c', 'd', 'e'].map((subject): HealthProblem => ({ kind: 'agent_down', severity: 'warning', subject, message: `agent ${subject} is backoff` }));
    const memory = await runChecks(open.url, EMPTY_NOTICE_MEMORY, capped, 0, problems.map((_, index) => problems.slice(0, index + 1)));
    expect(got().map(({ key }) => key)).toEqual(['agent_down:a', 'agent_down:b', 'agent_down:c']);
    // Past the interval: the two held back in one summary (the problems still there are not told again).
    await runChecks(open.url, memory, capped, 60_000, [problems]);
    expect(got().slice(3)).toEqual([{ key: 'summary', resolved: false, title: '2 notices held back by the rate limit', text: '- agent down: d\n- agent down: e' }]);
  });
});
