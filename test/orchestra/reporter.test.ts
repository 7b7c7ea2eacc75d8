/**
 * The `reporter` actor's schedule against the fake GitHub (the real octokit source, comments with
 * their hidden markers) and a real local webhook listener, the once ledger in a real NATS KV
 * bucket: a report whose comment was posted but whose answer was lost (the life that posted it
 * ended before recording it) is not posted again by the next life; a period missed while the
 * orchestra was down is caught up at start within the window, and not past it. The clock is
 * injected; the cron expressions are driven by `fire` (the cron itself is covered by
 * test/cli/report.test.ts, every second on a running orchestra).
 */
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postReport, ReportScheduler, type ReportDestinations } from '../../src/actors/reporter.ts';
import { configSchema } from '../../src/config/schema.ts';
import { connectNats } from '../../src/infra/nats/connection.ts';
import { noRedaction, textRedactor } from '../../src/infra/observe/redact.ts';
import { REDACTED } from '../../src/infra/observe/logger.ts';
import type { OnceLedger } from '../../src/issues/webhook.ts';
import { buildReport } from '../../src/workflow/report.ts';
import type { ReportPeriod } from '../../src/workflow/report-period.ts';
import { OnceStore } from '../../src/workflow/store.ts';
import { githubSourceHarness } from '../support/github-source.ts';
import { oneFailureReport } from '../support/reports.ts';
import { startNatsServer, type TestNatsServer } from '../support/nats.ts';

const harness = githubSourceHarness();
let nats: TestNatsServer;
let nc: NatsConnection;
let server: Server;
const received: Array<{ key: string }> = [];
/** Every webhook body as it arrived, unparsed. */
const receivedBodies: string[] = [];
let bucket = 0;

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connectNats({ servers: [nats.url], name: 'reporter-test', connectDeadlineMs: 5_000, logger: pino({ level: 'silent' }) });
  server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      receivedBodies.push(body);
      // A chat webhook's body (Slack's `{ text }`) carries no key.
      const parsed = JSON.parse(body) as { key?: string };
      if (parsed.key !== undefined) received.push(parsed as { key: string });
      response.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await nc.close();
  await nats.stop();
});

/** A once ledger of its own, in a real KV bucket. */
async function ledger(): Promise<OnceLedger> {
  bucket += 1;
  return new OnceStore(await new Kvm(nc).create(`reports-once-${bucket}`));
}

const empty = (period: ReportPeriod, now: number) => Promise.resolve(buildReport({ period, now, envelopes: [], records: [], slaMs: () => Infinity }));
const reports = (fields: object) => configSchema.shape.reports.parse(fields);

describe('reporter: once per period', { timeout: 60_000 }, () => {
  it('a comment posted by a life that ended before recording it is found by its marker, not posted again', async () => {
    const github = await harness.fake();
    github.addIssue({ title: 'Reports' });
    const source = harness.source(github);
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const destinations: ReportDestinations = {
      tracker: { issue: 1, comment: (number, key, body) => source.comment(number, key, body) },
      webhooks: [{ kind: 'json', urlEnv: 'HOOK' }],
      env: { HOOK: url },
      notify: { timeoutMs: 2_000, retries: 0 },
      redact: noRedaction,
      logger: pino({ level: 'silent' }),
    };
    const now = Date.parse('2030-01-02T00:00:05Z');
    const life = (once: OnceLedger) =>
      new ReportScheduler({ reports: reports({ daily: '* * * * * *' }), ledger: once, build: empty, post: (report) => postReport(report, destinations, once), logger: pino({ level: 'silent' }), now: () => now });
    const comments = () => github.state.comments.filter((comment) => comment.body.includes('daily report: 2030-01-01'));
    const hooks = () => received.filter((hook) => hook.key === 'report.daily.2030-01-01');

    // A post whose answer is lost (the connection drops): looked for by its marker, found, recorded.
    github.fail({ kind: 'answer_lost', method: 'POST', path: /\/issues\/1\/comments$/ });
    const first = await ledger();
    await life(first).fire('daily');
    expect(comments()).toHaveLength(1);
    expect(hooks()).toHaveLength(1);
    expect(await first.has('report.daily.2030-01-01')).toBe(true);
    // Each firing after that finds the record.
    await life(first).fire('daily');
    expect(comments()).toHaveLength(1);
    expect(hooks()).toHaveLength(1);

    // A life that posted and ended before recording the period (its webhook's record made, the
    // period's not): the next one finds the comment's marker and posts nothing twice on GitHub.
    const unrecorded = await ledger();
    await unrecorded.add('report.daily.2030-01-01.webhook.json.HOOK');
    await life(unrecorded).fire('daily');
    expect(comments()).toHaveLength(1);
    expect(hooks()).toHaveLength(1);
    expect(await unrecorded.has('report.daily.2030-01-01')).toBe(true);
  });
});

describe('reporter: secrets', { timeout: 30_000 }, () => {
  it("a secret an agent's reason quotes, and an issue's title, reach neither the tracker nor the webhooks", async () => {
    const secret = 'sk-report-7f3e91c2d4b8a605';
    const github = await harness.fake();
    github.addIssue({ title: 'Reports' });
    const source = harness.source(github);
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const report = oneFailureReport({ title: `Use ${secret}`, taskReason: `the model refused key=${secret}`, reason: `gave up: ${secret}` });
    const destinations: ReportDestinations = {
      tracker: { issue: 1, comment: (number, key, body) => source.comment(number, key, body) },
      webhooks: [{ kind: 'json', urlEnv: 'SECRET_HOOK' }, { kind: 'slack', urlEnv: 'SECRET_HOOK' }],
      env: { SECRET_HOOK: url },
      notify: { timeoutMs: 2_000, retries: 0 },
      redact: textRedactor([secret]),
      logger: pino({ level: 'silent' }),
    };
    const before = receivedBodies.length;
    expect(await postReport(report, destinations)).toBe(true);
    const comment = github.state.comments.find((candidate) => candidate.body.includes('daily report: 2032-01-01'))!.body;
    const hooks = receivedBodies.slice(before);
    expect(hooks).toHaveLength(2);
    // Redacted, not dropped: the failure is still reported.
    expect(comment).toContain(`#7 Use ${REDACTED} — gave up: ${REDACTED}`);
    expect(comment).toContain(`the model refused key=${REDACTED}`);
    for (const text of [comment, ...hooks]) expect(text).not.toContain(secret);
  });
});

describe('reporter: a destination that was down', { timeout: 30_000 }, () => {
  it('gets the period at a later firing, within the catch-up window', async () => {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const env: Record<string, string> = {};
    const once = await ledger();
    let now = Date.parse('2031-01-02T00:00:05Z');
    const scheduler = new ReportScheduler({
      reports: reports({ daily: '* * * * * *', catchUpMs: 2 * 86_400_000 }),
      ledger: once,
      build: empty,
      post: (report) => postReport(report, { webhooks: [{ kind: 'json', urlEnv: 'LATER_HOOK' }], env, notify: { timeoutMs: 2_000, retries: 0 }, redact: noRedaction, logger: pino({ level: 'silent' }) }, once),
      logger: pino({ level: 'silent' }),
      now: () => now,
    });
    // The webhook's variable is not set yet: not posted, not recorded.
    await scheduler.fire('daily');
    expect(await once.has('report.daily.2031-01-01')).toBe(false);
    env.LATER_HOOK = url;
    now = Date.parse('2031-01-03T00:00:05Z');
    await scheduler.fire('daily');
    expect(received.map((hook) => hook.key).filter((key) => key.startsWith('report.daily.2031-'))).toEqual(['report.daily.2031-01-01', 'report.daily.2031-01-02']);
    expect(await once.has('report.daily.2031-01-01')).toBe(true);
  });
});

describe('reporter: catch-up at start', { timeout: 30_000 }, () => {
  const until = Date.parse('2030-01-02T00:00:00Z');
  const run = async (daily: string, now: number, catchUpMs = 86_400_000) => {
    const once = await ledger();
    const posted: string[] = [];
    const scheduler = new ReportScheduler({
      reports: reports({ daily, catchUpMs }),
      ledger: once,
      build: empty,
      post: (report) => (posted.push(report.period.key), Promise.resolve(true)),
      logger: pino({ level: 'silent' }),
      now: () => now,
    });
    // Started with a schedule that fires daily at a fixed time: no firing comes while the test runs.
    await scheduler.start();
    scheduler.stop();
    return { posted, recorded: await once.has('report.daily.2030-01-01') };
  };

  it('posts a report whose firing came while the orchestra was down, within the window', async () => {
    expect(await run('5 0 * * *', until + 3_600_000)).toEqual({ posted: ['report.daily.2030-01-01'], recorded: true });
  });

  it('does not post one whose firing has not come yet, nor one whose period ended before the window', async () => {
    expect(await run('0 9 * * *', until + 3_600_000)).toEqual({ posted: [], recorded: false });
    // 23:30 the same day: the period ended 23.5 hours ago. A day later, 2030-01-01 ended over a day ago; 2030-01-02 is due.
    expect(await run('5 0 * * *', until + 23.5 * 3_600_000)).toEqual({ posted: ['report.daily.2030-01-01'], recorded: true });
    expect(await run('5 0 * * *', until + 25 * 3_600_000)).toEqual({ posted: ['report.daily.2030-01-02'], recorded: false });
  });

  it('posts every period missed within the window, oldest first', async () => {
    const missed = await run('5 0 * * *', until + 2 * 86_400_000 + 3_600_000, 3 * 86_400_000);
    expect(missed.posted).toEqual(['report.daily.2030-01-01', 'report.daily.2030-01-02', 'report.daily.2030-01-03']);
  });
});
