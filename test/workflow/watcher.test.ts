/**
 * The issue watcher on GitHub (the fake server, the real client): full polls with ETags, the
 * polls between with `since`, what it publishes, and what it refuses to.
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.ts';
import { GitHubIssueSource } from '../../src/issues/github-source.ts';
import { IssueWatcher } from '../../src/workflow/watcher.ts';
import { startFakeGitHub, type FakeGitHub } from '../support/fake-github.ts';

let fake: FakeGitHub | undefined;
let source: GitHubIssueSource | undefined;
afterEach(async () => {
  await source?.close();
  await fake?.close();
});

async function setup(fullPollEvery: number, client: { retries?: number } = {}) {
  fake = await startFakeGitHub({ owner: 'acme', repo: 'widgets', token: 't' });
  const parsed = parseConfigText(`issues: { source: github, github: { owner: acme, repo: widgets, fullPollEvery: ${fullPollEvery} } }`, 'test.yaml');
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  source = new GitHubIssueSource({ owner: 'acme', repo: 'widgets', baseUrl: fake.url, token: 't', logger: pino({ level: 'silent' }), client: { writeSpacing: false, ...client } });
  const published: Array<{ type: string; msgId?: string; payload: { number?: number; issue?: { number: number }; reason?: string; open?: number[] } }> = [];
  const ignored: string[] = [];
  const watcher = new IssueWatcher({
    config: parsed.config,
    source,
    logger: pino({ level: 'silent' }),
    publish: async (_subject, type, payload, msgId) => void published.push({ type, msgId, payload: payload as never }),
    onIgnored: (reason) => ignored.push(reason),
  });
  return { fake, watcher, published, ignored };
}

const observedNumbers = (published: Array<{ type: string; payload: { issue?: { number: number } } }>) =>
  published.filter((message) => message.type === 'issue.observed').map((message) => message.payload.issue!.number);

/** GitHub's clock stopped; a member's issue labelled by alice (who may write), seen by a first poll; mallory may not write. */
async function memberLabelledInFrozenTime(fullPollEvery: number) {
  const parts = await setup(fullPollEvery);
  parts.fake.freezeClock(true);
  parts.fake.setCollaborator('alice', 'write');
  parts.fake.setCollaborator('mallory', 'triage');
  const member = parts.fake.addIssue({ title: 'Member', author: 'alice', authorAssociation: 'MEMBER' });
  parts.fake.labelIssue(member.number, 'miyabi', 'alice');
  await parts.watcher.poll();
  return { ...parts, member };
}

describe('the issue watcher on GitHub', () => {
  it('reads in full first, then only what changed since the newest change, and in full again every Nth poll', async () => {
    const { fake, watcher, published } = await setup(3);
    const first = fake.addIssue({ title: 'First', author: 'acme', authorAssociation: 'OWNER' });
    fake.labelIssue(first.number, 'miyabi', 'acme');
    await watcher.poll();
    expect(published.map((message) => message.type)).toEqual(['issue.observed', 'issue.scope']);
    expect(fake.state.requests.at(-3)?.query ?? '').not.toContain('since=');

    const second = fake.addIssue({ title: 'Second', author: 'acme', authorAssociation: 'OWNER' });
    fake.labelIssue(second.number, 'miyabi', 'acme');
    await watcher.poll();
    const sinceRequests = fake.requestsTo('GET', '/repos/acme/widgets/issues').filter((request) => request.query.includes('since='));
    expect(sinceRequests).toHaveLength(1);
    expect(published.filter((message) => message.type === 'issue.observed').map((message) => message.payload.issue!.number)).toEqual([1, 2]);

    fake.closeIssue(first.number);
    await watcher.poll();
    expect(published.at(-1)).toMatchObject({ type: 'issue.released', payload: { number: 1, reason: 'closed on the tracker' } });
    expect(fake.requestsTo('GET', '/repos/acme/widgets/issues').filter((request) => request.query.includes('since='))).toHaveLength(2);

    // The third poll after the first full one is full again: the scope is published.
    await watcher.poll();
    expect(published.at(-1)).toMatchObject({ type: 'issue.scope', payload: { open: [2] } });
  });

  it('a `since` poll that failed part way (a 503 reading who labelled one issue) moves nothing on: the next poll reads the same changes and takes the issue', async () => {
    const { fake, watcher, published } = await setup(10, { retries: 0 });
    const first = fake.addIssue({ title: 'First', author: 'acme', authorAssociation: 'OWNER' });
    fake.labelIssue(first.number, 'miyabi', 'acme');
    await watcher.poll();
    // Between full polls: a trusted issue whose labeler cannot be read, then a later change elsewhere.
    const missed = fake.addIssue({ title: 'Would be missed', author: 'acme', authorAssociation: 'OWNER' });
    fake.labelIssue(missed.number, 'miyabi', 'acme');
    fake.addIssue({ title: 'Changed after it', author: 'acme', authorAssociation: 'OWNER' });
    fake.fail({ kind: 'server_error', status: 503, method: 'GET', path: new RegExp(`/issues/${missed.number}/events$`) });
    const failed = await watcher.poll();
    expect(failed).toMatchObject({ unchanged: false, undecided: 1 });
    expect(watcher.failures).toBe(1);
    expect(observedNumbers(published)).toEqual([first.number]);

    const taken = await watcher.poll();
    expect(taken).toMatchObject({ unchanged: false, undecided: 0 });
    expect(observedNumbers(published)).toEqual([first.number, missed.number]);
    expect(watcher.failures).toBe(0);
    // Both were `since` polls from the same watermark: the failed one did not move it, nor keep its ETag.
    const since = fake.requestsTo('GET', '/repos/acme/widgets/issues').filter((request) => request.query.includes('since='));
    expect(since.map((request) => request.status)).toEqual([200, 200]);
    expect(since[1]!.query).toBe(since[0]!.query);
  });

  it('an unchanged backlog costs 304s only, and an issue seen again is not published again', async () => {
    const { fake, watcher, published } = await setup(1);
    const issue = fake.addIssue({ title: 'Only', author: 'acme', authorAssociation: 'OWNER' });
    fake.labelIssue(issue.number, 'miyabi', 'acme');
    await watcher.poll();
    const before = published.length;
    await watcher.poll();
    expect(published).toHaveLength(before);
    expect(fake.state.requests.at(-1)).toMatchObject({ method: 'GET', status: 304 });
  });

  it('never publishes an issue the trust gate keeps out, and releases one that loses its label', async () => {
    const { fake, watcher, published, ignored } = await setup(1);
    fake.setCollaborator('alice', 'write');
    const stranger = fake.addIssue({ title: 'Stranger', author: 'eve', authorAssociation: 'NONE' });
    fake.labelIssue(stranger.number, 'miyabi', 'alice');
    const member = fake.addIssue({ title: 'Member', author: 'alice', authorAssociation: 'MEMBER' });
    fake.labelIssue(member.number, 'miyabi', 'alice');
    await watcher.poll();
    expect(published.filter((message) => message.type === 'issue.observed').map((message) => message.payload.issue!.number)).toEqual([member.number]);
    expect(ignored).toEqual(['untrusted_author']);
    fake.unlabelIssue(member.number, 'miyabi', 'alice');
    await watcher.poll();
    expect(published.find((message) => message.type === 'issue.released')).toMatchObject({ payload: { number: member.number, reason: 'no "miyabi" label' } });
  });

  it('by webhook, the trigger label removed and applied again within the same second by someone without write access: judged again, released', async () => {
    const { fake, watcher, published, member } = await memberLabelledInFrozenTime(1);
    expect(published.map((message) => message.type)).toContain('issue.observed');
    fake.unlabelIssue(member.number, 'miyabi', 'mallory');
    fake.labelIssue(member.number, 'miyabi', 'mallory');
    const issue = (await source!.get(member.number))!;
    expect(issue.updatedAt).toBe(member.createdAt);
    await watcher.issueEvent(issue, { action: 'labeled', label: 'miyabi' });
    expect(published.at(-1)).toMatchObject({ type: 'issue.released', payload: { number: member.number } });
  });

  it('by polling alone, the trigger label removed and applied again within the same second by someone without write access: released at the next poll', async () => {
    for (const fullPollEvery of [1, 10]) {
      const { fake, watcher, published, member } = await memberLabelledInFrozenTime(fullPollEvery);
      await watcher.poll();
      expect(observedNumbers(published)).toEqual([member.number]);
      const from = fake.state.requests.length;
      fake.unlabelIssue(member.number, 'miyabi', 'mallory');
      fake.labelIssue(member.number, 'miyabi', 'mallory');
      expect(fake.state.issues.get(member.number)!.updatedAt).toBe(member.createdAt);
      await watcher.poll();
      // The issue as GitHub lists it did not change (a 304); its events did.
      expect(fake.state.requests.slice(from).find((request) => request.path === '/repos/acme/widgets/issues')).toMatchObject({ status: 304 });
      expect(published.at(-1)).toMatchObject({ type: 'issue.released', payload: { number: member.number, reason: expect.stringMatching(/mallory/) } });
      // Applied again by someone who may write: taken again.
      fake.unlabelIssue(member.number, 'miyabi', 'alice');
      fake.labelIssue(member.number, 'miyabi', 'alice');
      await watcher.poll();
      expect(observedNumbers(published)).toEqual([member.number, member.number]);
      // The same version as before the release, yet a message of its own: the bus would drop a
      // repeated msgId within its duplicate window, and the issue would be missed.
      const [first, again] = published.filter((message) => message.type === 'issue.observed').map((message) => message.msgId);
      expect(again).not.toBe(first);
      expect(again).toMatch(new RegExp(`^${first}:after-release-`));
      await source!.close();
      await fake.close();
    }
  });

  it('an author no longer a member, with the same `updated_at` (GitHub does not move it): judged again at the next poll, released', async () => {
    const { fake, watcher, published } = await setup(1);
    fake.freezeClock(true);
    fake.setCollaborator('alice', 'write');
    const member = fake.addIssue({ title: 'Member', author: 'dave', authorAssociation: 'MEMBER' });
    fake.labelIssue(member.number, 'miyabi', 'alice');
    await watcher.poll();
    expect(published.map((message) => message.type)).toContain('issue.observed');
    fake.state.issues.get(member.number)!.authorAssociation = 'NONE';
    await watcher.poll();
    expect(published.find((message) => message.type === 'issue.released')).toMatchObject({ payload: { number: member.number } });
  });
});
