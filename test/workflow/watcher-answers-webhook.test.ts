/**
 * Answers delivered by GitHub's webhook: signed `issue_comment` deliveries over real HTTP to the
 * receiver, handed to the watcher, published on a real JetStream (a nats-server of this file);
 * and the same answer found by a poll after a restart, dropped by the bus as a duplicate.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.ts';
import { decodeEnvelope } from '../../src/infra/bus/envelope.ts';
import { startHttpServer, type HttpServer } from '../../src/infra/observe/http-server.ts';
import { OrchestraMetrics } from '../../src/infra/observe/metrics.ts';
import type { GitHubIssueSource } from '../../src/issues/github-source.ts';
import { commentMarker, MarkerSigner } from '../../src/issues/github/comments.ts';
import type { IssueSource } from '../../src/issues/source.ts';
import { createGitHubWebhookHandler } from '../../src/issues/webhook.ts';
import { IssueWatcher, deliverWebhookEvent } from '../../src/workflow/watcher.ts';
import { busTestFile } from '../bus/helpers.ts';
import { githubSourceHarness } from '../support/github-source.ts';

const file = busTestFile('watcher-answers-webhook');
const harness = githubSourceHarness();
const secret = 'whsec_answers_test';
const WAITING = 'miyabi:waiting-for-human';
const config = (() => {
  const parsed = parseConfigText('issues: { source: github, github: { owner: acme, repo: widgets } }\nworkflow: { trust: { allow: [maya] } }\n', 'test.yaml');
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return parsed.config;
})();

const servers: HttpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

/** A watcher that publishes on its own streams of the test's nats-server, as the orchestra's does. */
async function busWatcher(source: IssueSource, sender: string) {
  const { bus, topology } = await file.newBus(sender);
  const ignored: string[] = [];
  const warnings: string[] = [];
  const duplicates: string[] = [];
  const watcher = new IssueWatcher({
    config,
    source,
    logger: pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line).msg) }),
    publish: async (subject, type, payload, msgId) => {
      const published = await bus.publish(subject.replace(/^miyabi\./, `${topology.prefix}.`), type, payload, { msgId });
      if (published.duplicate) duplicates.push(msgId);
    },
    onIgnored: (reason) => ignored.push(reason),
  });
  /** What the stream holds, oldest first. */
  const stored = async () => {
    const jsm = await jetstreamManager(file.nc);
    const { state } = await jsm.streams.info(topology.streams.events);
    const messages: Array<{ subject: string; msgId: string | undefined; type: string; payload: unknown }> = [];
    for (let seq = state.first_seq; state.messages > 0 && seq <= state.last_seq; seq += 1) {
      const message = await jsm.streams.getMessage(topology.streams.events, { seq });
      const decoded = decodeEnvelope(message!.data);
      if (!decoded.ok) throw new Error(decoded.reason);
      messages.push({ subject: message!.subject.replace(`${topology.prefix}.`, 'miyabi.'), msgId: message!.header.get('Nats-Msg-Id'), type: decoded.envelope.type, payload: decoded.envelope.payload });
    }
    return messages;
  };
  return { watcher, ignored, warnings, duplicates, stored, bus, topology };
}

/** The receiver as the orchestra mounts it: the source tells the orchestra's own comments. */
async function receiver(watcher: IssueWatcher, source: GitHubIssueSource): Promise<string> {
  const logger = pino({ level: 'silent' });
  const handler = createGitHubWebhookHandler({
    secret,
    owner: 'acme',
    repo: 'widgets',
    logger,
    ownComment: (issue, author, key, signature) => source.ownsComment(issue, author, key, signature),
    onEvent: (event) => deliverWebhookEvent(watcher, event),
  });
  const server = await startHttpServer({ port: 0, metrics: new OrchestraMetrics(), health: () => ({ ok: true }), ready: () => ({ ok: true }), logger, routes: { '/hook': handler } });
  servers.push(server);
  return `${server.url}/hook`;
}

const user = (login: string, type = 'User') => ({ login, id: 1, type });

/** An `issue_comment` `created` delivery, signed; answers the HTTP status. */
async function comment(url: string, issue: { number: number; labels: string[] }, body: { id: number; body: string; author: string; association: string; type?: string }, deliveryId = randomUUID()) {
  const payload = JSON.stringify({
    action: 'created',
    issue: {
      number: issue.number,
      title: 'Export the report',
      body: '',
      labels: issue.labels.map((name, index) => ({ id: index + 1, name })),
      state: 'open',
      user: user('acme'),
      author_association: 'OWNER',
      updated_at: '2025-05-01T10:00:00Z',
    },
    comment: { id: body.id, body: body.body, user: user(body.author, body.type), author_association: body.association },
    repository: { id: 1, name: 'widgets', full_name: 'acme/widgets', owner: user('acme') },
    sender: user(body.author, body.type),
  });
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': 'issue_comment',
      'x-github-delivery': deliveryId,
      'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(payload).digest('hex')}`,
    },
    body: payload,
  });
  return response.status;
}

describe('answers by webhook', () => {
  it('publishes a trusted reply on a waiting issue at once, and `/miyabi answer` on any; the rest does nothing', async () => {
    const markerKey = 'b'.repeat(64);
    const source = harness.source(await harness.fake(), { markerKey });
    const { watcher, ignored, warnings, stored } = await busWatcher(source, 'watcher-webhook');
    const url = await receiver(watcher, source);
    const waiting = { number: 12, labels: ['miyabi', WAITING] };
    const working = { number: 13, labels: ['miyabi', 'miyabi:implementing'] };

    const question = 'issue-12.g1.needs-input.codegen.r0.q1';
    const own = `${commentMarker(question, new MarkerSigner(markerKey, 'acme/widgets').sign(12, question))}\nWhich output format?`;
    expect(await comment(url, waiting, { id: 500, body: own, author: 'miyabi-bot', association: 'COLLABORATOR' })).toBe(200);
    const untrusted = { id: 501, body: 'Use XML!', author: 'eve', association: 'NONE' };
    expect(await comment(url, waiting, untrusted)).toBe(200);
    // GitHub redelivers it (another delivery id): not counted again.
    expect(await comment(url, waiting, untrusted)).toBe(200);
    expect(await comment(url, waiting, { id: 502, body: 'Lint passed.', author: 'ci[bot]', association: 'NONE', type: 'Bot' })).toBe(200);
    expect(await comment(url, waiting, { id: 503, body: 'JSON, please.', author: 'acme', association: 'OWNER' })).toBe(200);
    expect(await comment(url, working, { id: 504, body: 'Looks good so far.', author: 'acme', association: 'OWNER' })).toBe(200);
    expect(await comment(url, working, { id: 505, body: '/miyabi answer YAML', author: 'maya', association: 'NONE' })).toBe(200);
    expect(await comment(url, working, { id: 506, body: '/miyabi retry', author: 'acme', association: 'OWNER' })).toBe(200);

    expect(await stored()).toEqual([
      {
        subject: 'miyabi.events.issue.12',
        msgId: 'answer:12:503',
        type: 'issue.command',
        payload: { number: 12, command: 'answer', by: 'acme', text: 'JSON, please.', id: 'answer:12:503' },
      },
      { subject: 'miyabi.events.issue.13', msgId: 'answer:13:505', type: 'issue.command', payload: { number: 13, command: 'answer', by: 'maya', text: 'YAML', id: 'answer:13:505' } },
      { subject: 'miyabi.events.issue.13', msgId: 'command:13:506', type: 'issue.command', payload: { number: 13, command: 'retry', by: 'acme', id: 'command:13:506' } },
    ]);
    expect(ignored).toEqual(['untrusted_commenter', 'untrusted_commenter']);
    expect(warnings).toEqual(['reply to a question from an untrusted commenter ignored', 'reply to a question from an untrusted commenter ignored']);
  });

  it('an answer seen by the webhook and then by a poll after a restart is one message on the bus', async () => {
    const fake = await harness.fake();
    const source = harness.source(fake);
    const issue = fake.addIssue({ title: 'Export the report', author: 'acme', authorAssociation: 'OWNER' });
    fake.labelIssue(issue.number, 'miyabi', 'acme');
    await source.comment(issue.number, `issue-${issue.number}.g1.needs-input.codegen.r0.q1`, 'Which output format?');
    fake.labelIssue(issue.number, WAITING, 'miyabi-bot');
    const reply = fake.addComment(issue.number, 'JSON, please.', 'acme');

    const before = await busWatcher(source, 'watcher-before');
    const url = await receiver(before.watcher, source);
    expect(await comment(url, { number: issue.number, labels: ['miyabi', WAITING] }, { id: reply.id, body: reply.body, author: 'acme', association: 'OWNER' })).toBe(200);
    // A new watcher (the orchestra restarted) on the same streams: its first poll finds the same answer.
    const after = new IssueWatcher({
      config,
      source,
      logger: pino({ level: 'silent' }),
      publish: async (subject, type, payload, msgId) => {
        const published = await before.bus.publish(subject.replace(/^miyabi\./, `${before.topology.prefix}.`), type, payload, { msgId });
        if (published.duplicate) before.duplicates.push(msgId);
      },
    });
    await after.poll();
    expect(before.duplicates).toEqual([`answer:${issue.number}:${reply.id}`]);
    expect((await before.stored()).filter((message) => message.type === 'issue.command')).toEqual([
      {
        subject: `miyabi.events.issue.${issue.number}`,
        msgId: `answer:${issue.number}:${reply.id}`,
        type: 'issue.command',
        payload: { number: issue.number, command: 'answer', by: 'acme', text: 'JSON, please.', id: `answer:${issue.number}:${reply.id}` },
      },
    ]);
  });
});
