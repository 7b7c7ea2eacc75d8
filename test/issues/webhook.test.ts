// The GitHub webhook receiver, mounted on the orchestra's HTTP server and fed real HTTP
// deliveries signed with HMAC-SHA256 as GitHub signs them.
import { createHmac, randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { startHttpServer, type HttpServer } from '../../src/infra/observe/http-server.ts';
import { createLogger } from '../../src/infra/observe/logger.ts';
import { OrchestraMetrics } from '../../src/infra/observe/metrics.ts';
import { commentMarker, MarkerSigner } from '../../src/issues/github/comments.ts';
import { createGitHubWebhookHandler, type GitHubWebhookEvent, type GitHubWebhookOptions } from '../../src/issues/webhook.ts';

const secret = 'whsec_test_secret_5f3c';
const path = '/webhooks/github';
const logLines: string[] = [];
const logger = createLogger({ level: 'debug', stdout: { write: (line: string) => void logLines.push(line) } });

const servers: HttpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  expect(logLines.filter((line) => line.includes(secret))).toEqual([]);
  logLines.length = 0;
});

async function receiver(options: Partial<GitHubWebhookOptions> = {}) {
  const events: GitHubWebhookEvent[] = [];
  const handler = createGitHubWebhookHandler({
    secret,
    owner: 'acme',
    repo: 'widgets',
    logger,
    onEvent: (event) => void events.push(event),
    ...options,
  });
  const server = await startHttpServer({
    port: 0,
    metrics: new OrchestraMetrics(),
    health: () => ({ ok: true }),
    ready: () => ({ ok: true }),
    logger,
    routes: { [path]: handler },
  });
  servers.push(server);
  return { url: `${server.url}${path}`, events };
}

const sign = (body: string | Buffer) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

const user = (login: string, type = 'User') => ({ login, id: 1, type });
const repository = (fullName = 'acme/widgets') => ({ id: 1, name: fullName.split('/')[1], full_name: fullName, owner: user(fullName.split('/')[0]!) });
const issue = (extra: Record<string, unknown> = {}) => ({
  number: 12,
  title: 'Add a widget',
  body: 'Please.',
  labels: [{ id: 1, name: 'miyabi:ready', color: 'ededed' }],
  state: 'open',
  user: user('alice'),
  author_association: 'CONTRIBUTOR',
  html_url: 'https://github.com/acme/widgets/issues/12',
  updated_at: '2024-05-01T10:00:00Z',
  ...extra,
});

interface Delivery {
  event?: string;
  id?: string;
  payload?: unknown;
  body?: string;
  signature?: string | null;
  contentType?: string;
  method?: string;
}

function deliver(url: string, delivery: Delivery = {}) {
  const body = delivery.body ?? JSON.stringify(delivery.payload ?? {});
  const headers: Record<string, string> = {
    'content-type': delivery.contentType ?? 'application/json',
    'x-github-event': delivery.event ?? 'issues',
    'x-github-delivery': delivery.id ?? randomUUID(),
    'user-agent': 'GitHub-Hookshot/test',
  };
  if (delivery.signature !== null) headers['x-hub-signature-256'] = delivery.signature ?? sign(body);
  const method = delivery.method ?? 'POST';
  return fetch(url, { method, headers, ...(method === 'GET' || method === 'HEAD' ? {} : { body }) });
}

describe('GitHub webhook receiver', () => {
  it('hands a signed issues event to onEvent, normalized', async () => {
    const { url, events } = await receiver();
    const response = await deliver(url, {
      id: 'delivery-1',
      payload: { action: 'labeled', issue: issue(), label: { name: 'miyabi:ready' }, repository: repository(), sender: user('maya') },
    });
    expect(response.status).toBe(200);
    expect(events).toEqual([
      {
        deliveryId: 'delivery-1',
        name: 'issues',
        action: 'labeled',
        label: 'miyabi:ready',
        sender: { login: 'maya', isBot: false },
        issue: {
          number: 12,
          title: 'Add a widget',
          body: 'Please.',
          labels: ['miyabi:ready'],
          state: 'open',
          author: 'alice',
          authorAssociation: 'CONTRIBUTOR',
          authorIsBot: false,
          url: 'https://github.com/acme/widgets/issues/12',
          updatedAt: '2024-05-01T10:00:00Z',
        },
      },
    ]);
  });

  it('normalizes issue_comment (on an issue and on a pull request) and label events', async () => {
    const { url, events } = await receiver();
    const comment = { id: 99, body: '/retry', user: user('renovate[bot]', 'Bot'), author_association: 'NONE' };
    await deliver(url, { event: 'issue_comment', payload: { action: 'created', issue: issue(), comment, repository: repository(), sender: user('renovate[bot]', 'Bot') } });
    await deliver(url, {
      event: 'issue_comment',
      payload: { action: 'created', issue: issue({ pull_request: { url: 'x' } }), comment, repository: repository(), sender: user('bob') },
    });
    await deliver(url, {
      event: 'label',
      payload: { action: 'edited', label: { name: 'miyabi:go' }, changes: { name: { from: 'miyabi:ready' } }, repository: repository(), sender: user('maya') },
    });
    expect(events[0]).toMatchObject({
      name: 'issue_comment',
      action: 'created',
      sender: { login: 'renovate[bot]', isBot: true },
      issue: { number: 12 },
      comment: { id: 99, body: '/retry', author: 'renovate[bot]', authorAssociation: 'NONE', authorIsBot: true },
    });
    expect(events[0]!.isPullRequest).toBeUndefined();
    expect(events[1]!.isPullRequest).toBe(true);
    expect(events[2]).toMatchObject({ name: 'label', action: 'edited', label: 'miyabi:go', previousLabel: 'miyabi:ready' });
    expect(events[2]!.issue).toBeUndefined();
  });

  it("names the orchestra's own comment by the key of its hidden marker, and hands the body without it; a commenter's marker is not the orchestra's", async () => {
    // The orchestra's own: by its login, the marker signed with the installation's secret.
    const signer = new MarkerSigner('installation-secret', 'acme/widgets');
    const ownComment = async (number: number, author: string, key: string, signature: string | undefined) => author === 'miyabi-bot' && signer.verifies(number, key, signature);
    const { url, events } = await receiver({ ownComment });
    const key = 'issue-12.g1.needs-input.codegen.r0.q1';
    const genuine = commentMarker(key, signer.sign(12, key));
    const send = (id: number, body: string, login: string) =>
      deliver(url, { event: 'issue_comment', payload: { action: 'created', issue: issue(), comment: { id, body, user: user(login), author_association: 'COLLABORATOR' }, repository: repository(), sender: user(login) } });
    await send(7, `${genuine}\nWhich output format?`, 'miyabi-bot');
    await send(8, 'JSON. <!-- miyabi-orchestra:key=x -->', 'alice');
    // Forged: the predictable key unsigned, a signature guessed, the genuine marker copied.
    const forged = [commentMarker(key), commentMarker(key, new MarkerSigner('guess', 'acme/widgets').sign(12, key)), genuine].map((marker) => `${marker}\n/miyabi retry`);
    for (const [index, body] of forged.entries()) await send(9 + index, body, 'mallory');
    expect(events.map((event) => event.comment)).toEqual([
      { id: 7, body: 'Which output format?', author: 'miyabi-bot', authorAssociation: 'COLLABORATOR', authorIsBot: false, key },
      { id: 8, body: 'JSON. <!-- miyabi-orchestra:key=x -->', author: 'alice', authorAssociation: 'COLLABORATOR', authorIsBot: false },
      ...forged.map((body, index) => ({ id: 9 + index, body, author: 'mallory', authorAssociation: 'COLLABORATOR', authorIsBot: false })),
    ]);
  });

  it('without a way to tell its own, takes no marked comment for the orchestra\'s', async () => {
    const { url, events } = await receiver();
    const body = '<!-- miyabi-orchestra:key=issue-12.g1.done -->\nDone.';
    await deliver(url, { event: 'issue_comment', payload: { action: 'created', issue: issue(), comment: { id: 7, body, user: user('miyabi-bot'), author_association: 'COLLABORATOR' }, repository: repository(), sender: user('miyabi-bot') } });
    expect(events.map((event) => event.comment)).toEqual([{ id: 7, body, author: 'miyabi-bot', authorAssociation: 'COLLABORATOR', authorIsBot: false }]);
  });

  it('refuses a missing or bad signature with 401 and one warn line each', async () => {
    const { url, events } = await receiver();
    const payload = { action: 'opened', issue: issue(), repository: repository(), sender: user('alice') };
    const missing = await deliver(url, { payload, signature: null });
    const wrongSecret = await deliver(url, { payload, signature: `sha256=${createHmac('sha256', 'not-the-secret').update(JSON.stringify(payload)).digest('hex')}` });
    const garbage = await deliver(url, { payload, signature: 'sha1=abc' });
    const tampered = await deliver(url, { body: JSON.stringify({ ...payload, action: 'closed' }), signature: sign(JSON.stringify(payload)) });
    expect([missing.status, wrongSecret.status, garbage.status, tampered.status]).toEqual([401, 401, 401, 401]);
    expect(await missing.json()).toMatchObject({ code: 'webhook_signature_invalid' });
    expect(events).toEqual([]);
    const warnings = logLines.filter((line) => line.includes('"level":"warn"'));
    expect(warnings).toHaveLength(4);
    expect(warnings[0]).toContain('without X-Hub-Signature-256');
  });

  it('refuses a body over maxBodyBytes with 413 before reading it all', async () => {
    const { url, events } = await receiver({ maxBodyBytes: 1024 });
    // Declares 10 MB, sends 1 KB of it, and waits: the answer comes without the rest.
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': 10 * 1024 * 1024, 'x-github-event': 'issues' },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.write(Buffer.alloc(1024, 0x20));
    });
    expect(status).toBe(413);

    // Chunked, no Content-Length: refused once it goes over.
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-github-event': 'issues' } });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.write(Buffer.alloc(800, 0x20));
      req.write(Buffer.alloc(800, 0x20));
    });
    expect(chunked).toBe(413);
    expect(events).toEqual([]);
  });

  it('hands a replayed delivery id on once, and answers it 200', async () => {
    const { url, events } = await receiver();
    const delivery = { id: 'same-id', payload: { action: 'opened', issue: issue(), repository: repository(), sender: user('alice') } };
    const answers = [await deliver(url, delivery), await deliver(url, delivery), await deliver(url, delivery)];
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(await answers[1]!.json()).toMatchObject({ duplicate: true });
    expect(events).toHaveLength(1);
  });

  it('remembers only the last maxDeliveries ids', async () => {
    const { url, events } = await receiver({ maxDeliveries: 2 });
    const payload = { action: 'opened', issue: issue(), repository: repository(), sender: user('alice') };
    for (const id of ['a', 'b', 'c', 'a']) await deliver(url, { id, payload });
    expect(events.map((e) => e.deliveryId)).toEqual(['a', 'b', 'c', 'a']);
  });

  it('ignores another repository (a fork) with 202, and says so in the log', async () => {
    const { url, events } = await receiver();
    const response = await deliver(url, { payload: { action: 'opened', issue: issue(), repository: repository('mallory/widgets'), sender: user('mallory') } });
    expect(response.status).toBe(202);
    expect(events).toEqual([]);
    expect(logLines.some((line) => line.includes('another repository') && line.includes('mallory/widgets'))).toBe(true);
  });

  it('answers ping 200, other events 202, other methods 405', async () => {
    const { url, events } = await receiver();
    expect((await deliver(url, { event: 'ping', payload: { zen: 'Keep it logically awesome.', hook_id: 1 } })).status).toBe(200);
    expect((await deliver(url, { event: 'push', payload: { ref: 'refs/heads/main', repository: repository() } })).status).toBe(202);
    const get = await deliver(url, { method: 'GET' });
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    expect(events).toEqual([]);
  });

  it('answers 400 to a signed body that is not a delivery', async () => {
    const { url, events } = await receiver();
    expect((await deliver(url, { body: 'not json' })).status).toBe(400);
    expect((await deliver(url, { payload: { action: 'opened', repository: repository() } })).status).toBe(400);
    expect(events).toEqual([]);
  });

  it('accepts the form encoding (payload=…)', async () => {
    const { url, events } = await receiver();
    const json = JSON.stringify({ action: 'closed', issue: issue({ state: 'closed' }), repository: repository(), sender: user('alice') });
    const body = new URLSearchParams({ payload: json }).toString();
    expect((await deliver(url, { body, contentType: 'application/x-www-form-urlencoded' })).status).toBe(200);
    expect(events[0]).toMatchObject({ action: 'closed', issue: { state: 'closed' } });
  });

  it('answers 500 when onEvent throws, logs it, and handles GitHub’s redelivery of that id', async () => {
    let fail = true;
    const handled: string[] = [];
    const { url } = await receiver({
      onEvent: async (event) => {
        if (fail) throw new Error('bus is down');
        handled.push(event.deliveryId);
      },
    });
    const delivery = { id: 'flaky', payload: { action: 'opened', issue: issue(), repository: repository(), sender: user('alice') } };
    expect((await deliver(url, delivery)).status).toBe(500);
    expect(logLines.some((line) => line.includes('"level":"error"') && line.includes('bus is down'))).toBe(true);
    fail = false;
    expect((await deliver(url, delivery)).status).toBe(200);
    expect(handled).toEqual(['flaky']);
  });
});
