// The github issue source's reads and writes against the fake GitHub, over real HTTP, with the
// real octokit client (retry and throttling plugins included): listings, the labeler, comments,
// labels and pull requests. When GitHub says no or is not there: github-failures.test.ts.
import { describe, expect, it } from 'vitest';
import { IssueErrorCodes } from '../../src/issues/errors.ts';
import { commentMarker } from '../../src/issues/github-source.ts';
import { failure, githubSourceHarness, listedOf, owner, repo } from '../support/github-source.ts';

const { fake, source } = githubSourceHarness();

const issuesPath = `/repos/${owner}/${repo}/issues`;

describe('listOpen', () => {
  it('answers the open issues, then issues: undefined on an unchanged poll (a 304), then the new issue', async () => {
    const github = await fake();
    github.addIssue({ title: 'first' });
    github.addIssue({ title: 'closed', state: 'closed' });
    const issues = source(github);

    const listing = await issues.listOpen();
    expect(listing.issues?.map((i) => i.title)).toEqual(['first']);
    listing.commit?.();
    expect((await listedOf(issues))).toBeUndefined();
    const polls = github.requestsTo('GET', issuesPath);
    expect(polls.map((r) => r.status)).toEqual([200, 304]);
    expect(polls[0]!.query).toContain('state=open');
    expect(polls[0]!.query).toContain('per_page=100');

    github.addIssue({ title: 'second' });
    expect((await listedOf(issues))?.map((i) => i.title).sort()).toEqual(['first', 'second']);
  });

  it('reads 250 issues over 3 pages, and notices a change on the last page alone', async () => {
    const github = await fake();
    for (let i = 1; i <= 250; i += 1) github.addIssue({ title: `issue ${i}` });
    const issues = source(github);

    const all = (await listedOf(issues))!;
    expect(all).toHaveLength(250);
    expect(new Set(all.map((i) => i.number)).size).toBe(250);
    expect(github.requestsTo('GET', issuesPath)).toHaveLength(3);

    expect((await listedOf(issues))).toBeUndefined();
    expect(github.requestsTo('GET', issuesPath).slice(3).map((r) => r.status)).toEqual([304, 304, 304]);

    // Issue 1 is on the last page (newest first): closing it leaves pages 1 and 2 as they were.
    github.closeIssue(1);
    const after = (await listedOf(issues))!;
    expect(after).toHaveLength(249);
    expect(after.some((i) => i.number === 1)).toBe(false);
    expect(github.requestsTo('GET', issuesPath).slice(6).map((r) => r.status)).toEqual([304, 304, 200]);
  });

  it('notices an issue that lost its label', async () => {
    const github = await fake();
    const issue = github.addIssue({ labels: ['miyabi:ready'] });
    const issues = source(github);
    expect((await listedOf(issues))?.[0]?.labels).toEqual(['miyabi:ready']);
    github.unlabelIssue(issue.number, 'miyabi:ready', owner);
    expect((await listedOf(issues))?.[0]?.labels).toEqual([]);
  });

  it('leaves pull requests out', async () => {
    const github = await fake();
    github.addIssue({ title: 'an issue' });
    github.addPull({ head: 'feature' });
    const issues = source(github);
    expect((await listedOf(issues))?.map((i) => i.title)).toEqual(['an issue']);
  });

  it('maps GitHub issue JSON to TrackedIssue', async () => {
    const github = await fake();
    github.addIssue({ title: 'by a bot', body: 'beep', author: 'renovate[bot]', authorType: 'Bot', labels: ['deps'] });
    github.addIssue({ title: 'by an app without [bot]', author: 'some-app', authorType: 'Bot' });
    const human = github.addIssue({ title: 'by a person', body: null, author: 'alice', authorAssociation: 'FIRST_TIME_CONTRIBUTOR' });
    const issues = (await listedOf(source(github)))!;
    const byTitle = (title: string) => issues.find((i) => i.title === title)!;

    expect(byTitle('by a bot')).toEqual({
      number: 1,
      title: 'by a bot',
      body: 'beep',
      labels: ['deps'],
      state: 'open',
      author: 'renovate[bot]',
      authorAssociation: 'NONE',
      authorIsBot: true,
      url: `https://github.com/${owner}/${repo}/issues/1`,
      updatedAt: github.state.issues.get(1)!.updatedAt,
    });
    expect(byTitle('by an app without [bot]').authorIsBot).toBe(true);
    expect(byTitle('by a person')).toMatchObject({
      number: human.number,
      body: '',
      author: 'alice',
      authorIsBot: false,
      authorAssociation: 'FIRST_TIME_CONTRIBUTOR',
    });
  });

  it('survives a 5 MB body and a body that is not valid UTF-8', async () => {
    const github = await fake();
    const huge = `${'x'.repeat(5 * 1024 * 1024)}\n<script>alert(1)</script> \u0000 \u202e`;
    github.addIssue({ title: 'huge', body: huge });
    const odd = github.addIssue({ title: 'odd', rawBody: Buffer.from([0x61, 0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0x62]) });
    const issues = source(github);

    const listed = (await listedOf(issues))!;
    expect(listed.find((i) => i.title === 'huge')!.body).toBe(huge);
    const body = listed.find((i) => i.title === 'odd')!.body;
    expect(body.startsWith('a')).toBe(true);
    expect(body.endsWith('b')).toBe(true);
    expect(body).toContain('\ufffd');
    expect((await issues.get(odd.number))?.body).toBe(body);
  });
});

describe('listUpdatedSince', () => {
  it('answers issues of any state updated since the time given, pull requests excluded', async () => {
    const github = await fake();
    github.addIssue({ title: 'old' });
    const later = github.addIssue({ title: 'later' });
    const closing = github.addIssue({ title: 'closing' });
    github.addPull({ head: 'x' });
    github.closeIssue(closing.number);
    const updated = await source(github).listUpdatedSince(later.updatedAt);
    expect(updated.issues?.map((i) => [i.title, i.state])).toEqual([
      ['later', 'open'],
      ['closing', 'closed'],
    ]);
  });
});

describe('get', () => {
  it('answers an issue open or closed, and undefined for a missing number or a pull request', async () => {
    const github = await fake();
    const closed = github.addIssue({ title: 'done', state: 'closed' });
    const pull = github.addPull({ head: 'x' });
    const issues = source(github);
    expect(await issues.get(closed.number)).toMatchObject({ title: 'done', state: 'closed' });
    expect(await issues.get(999)).toBeUndefined();
    expect(await issues.get(pull.number)).toBeUndefined();
  });
});

describe('labeler', () => {
  it('names who applied the label last, with their write access, remembered for a while', async () => {
    const github = await fake();
    github.setCollaborator('maya', 'maintain');
    github.setCollaborator('tri', 'triage');
    const issue = github.addIssue({ author: 'stranger' });
    github.labelIssue(issue.number, 'miyabi:ready', 'stranger');
    const issues = source(github);

    const first = await issues.labeler(issue.number, 'miyabi:ready');
    expect(first).toEqual({ login: 'stranger', isBot: false, hasWriteAccess: false, event: expect.stringMatching(/:stranger$/) });
    expect(await issues.labelingEvent(issue.number, 'miyabi:ready')).toBe(first!.event);

    // Removed and applied again by someone else: another labelling, told apart without a permission read.
    github.unlabelIssue(issue.number, 'miyabi:ready', 'stranger');
    github.labelIssue(issue.number, 'miyabi:ready', 'maya');
    const relabelled = await issues.labelingEvent(issue.number, 'miyabi:ready');
    expect(relabelled).toMatch(/:maya$/);
    expect(github.requestsTo('GET', `/repos/${owner}/${repo}/collaborators/maya/permission`)).toHaveLength(0);
    expect(await issues.labeler(issue.number, 'MIYABI:READY')).toEqual({ login: 'maya', isBot: false, hasWriteAccess: true, event: relabelled });
    // Asked again with no label moved: a 304, free.
    expect(await issues.labelingEvent(issue.number, 'miyabi:ready')).toBe(relabelled);
    expect(github.state.requests.at(-1)).toMatchObject({ status: 304, counted: false });

    github.labelIssue(issue.number, 'other', 'tri');
    expect(await issues.labeler(issue.number, 'other')).toMatchObject({ login: 'tri', hasWriteAccess: false });
    expect(await issues.labeler(issue.number, 'never-applied')).toBeUndefined();
    expect(await issues.labeler(999, 'miyabi:ready')).toBeUndefined();

    const permissionReads = () => github.requestsTo('GET', `/repos/${owner}/${repo}/collaborators/maya/permission`).length;
    expect(permissionReads()).toBe(1);
    await issues.labeler(issue.number, 'miyabi:ready');
    expect(permissionReads()).toBe(1);
  });

  it('asks again once the cached permission is older than permissionCacheMs', async () => {
    const github = await fake();
    github.setCollaborator('maya', 'write');
    const issue = github.addIssue({});
    github.labelIssue(issue.number, 'go', 'maya');
    let now = 0;
    const issues = source(github, { now: () => now, permissionCacheMs: 1000 });
    await issues.labeler(issue.number, 'go');
    github.setCollaborator('maya', 'read');
    expect((await issues.labeler(issue.number, 'go'))?.hasWriteAccess).toBe(true);
    now = 1001;
    expect((await issues.labeler(issue.number, 'go'))?.hasWriteAccess).toBe(false);
  });

  it('says a bot is a bot, and a login GitHub does not know has no write access (404)', async () => {
    const github = await fake();
    const issue = github.addIssue({});
    github.labelIssue(issue.number, 'go', 'helper[bot]');
    github.state.users.delete('helper[bot]');
    expect(await source(github).labeler(issue.number, 'go')).toMatchObject({ login: 'helper[bot]', isBot: true, hasWriteAccess: false });
  });

  it('pages through the events of a busy issue', async () => {
    const github = await fake();
    github.setCollaborator('maya', 'admin');
    const issue = github.addIssue({});
    for (let i = 0; i < 120; i += 1) github.labelIssue(issue.number, `noise-${i}`, 'stranger');
    github.labelIssue(issue.number, 'go', 'maya');
    expect(await source(github, { perPage: 50 }).labeler(issue.number, 'go')).toMatchObject({ login: 'maya', hasWriteAccess: true });
  });
});

describe('comment', () => {
  it('posts once per key: called twice, concurrently, and from a fresh source', async () => {
    const github = await fake();
    const issue = github.addIssue({});
    const first = source(github);

    expect(await first.comment(issue.number, 'claimed:1', 'Working on it.')).toEqual({ posted: true });
    expect(await first.comment(issue.number, 'claimed:1', 'Working on it.')).toEqual({ posted: false });
    expect(await source(github).comment(issue.number, 'claimed:1', 'Working on it.')).toEqual({ posted: false });
    expect(github.commentCount(issue.number)).toBe(1);

    const fresh = source(github);
    const together = await Promise.all([fresh.comment(issue.number, 'done', 'Done.'), fresh.comment(issue.number, 'done', 'Done.')]);
    expect(together.filter((r) => r.posted)).toHaveLength(1);
    expect(github.commentCount(issue.number)).toBe(2);

    const posted = github.state.comments.find((c) => c.body.includes('Working on it.'))!;
    // The key, signed: a commenter who writes the same marker cannot sign it (test/security/markers.test.ts).
    expect(posted.body).toMatch(/^<!-- miyabi-orchestra:key=claimed%3A1 sig=[0-9a-f]{32} -->\nWorking on it\.$/);
    expect(posted.user.login).toBe('miyabi-bot');
  });

  it('keeps an odd key inside its HTML comment', async () => {
    const github = await fake();
    const issue = github.addIssue({});
    const key = 'x --> <b>y</b>\n z';
    await source(github).comment(issue.number, key, 'hi');
    expect(commentMarker(key)).not.toMatch(/-->.*-->/s);
    expect(await source(github).comment(issue.number, key, 'hi')).toEqual({ posted: false });
    expect(github.commentCount(issue.number)).toBe(1);
  });

  it('finds its marker among many comments (pagination)', async () => {
    const github = await fake();
    const issue = github.addIssue({});
    await source(github).comment(issue.number, 'early', 'first');
    for (let i = 0; i < 130; i += 1) github.addComment(issue.number, `chatter ${i}`);
    expect(await source(github).comment(issue.number, 'early', 'first')).toEqual({ posted: false });
  });

  it('does not post twice when the POST fails with a 5xx: it looks for the marker, then posts again', async () => {
    const github = await fake();
    const issue = github.addIssue({});
    github.fail({ kind: 'server_error', status: 502, method: 'POST', path: `${issuesPath}/${issue.number}/comments` });
    expect(await source(github).comment(issue.number, 'k', 'body')).toEqual({ posted: true });
    expect(github.commentCount(issue.number)).toBe(1);
    expect(github.requestsTo('POST', `${issuesPath}/${issue.number}/comments`).map((r) => r.status)).toEqual([502, 201]);
  });
});

describe('setExclusiveLabel', () => {
  const family = ['state:ready', 'state:working', 'state:done'] as const;

  it('leaves exactly one label of the family, and the other labels as they were', async () => {
    const github = await fake();
    const issue = github.addIssue({ labels: ['bug', 'state:ready', 'State:Done'] });
    const issues = source(github);
    const familyOf = () => github.state.issues.get(issue.number)!.labels.filter((l) => family.some((f) => f === l.toLowerCase()));

    await issues.setExclusiveLabel(issue.number, family, 'state:working');
    expect(familyOf()).toEqual(['state:working']);
    expect(github.state.issues.get(issue.number)!.labels).toContain('bug');

    await issues.setExclusiveLabel(issue.number, family, 'state:working');
    expect(familyOf()).toEqual(['state:working']);

    await Promise.all([
      issues.setExclusiveLabel(issue.number, family, 'state:done'),
      issues.setExclusiveLabel(issue.number, family, 'state:ready'),
    ]);
    expect(familyOf()).toEqual(['state:ready']);

    await issues.setExclusiveLabel(issue.number, family, undefined);
    expect(familyOf()).toEqual([]);
    expect(github.state.issues.get(issue.number)!.labels).toEqual(['bug']);
  });

  it('fails with github_not_found for a missing issue', async () => {
    const github = await fake();
    const error = await failure(source(github).setExclusiveLabel(42, family, 'state:done'));
    expect(error.code).toBe(IssueErrorCodes.GitHubNotFound);
  });
});

describe('openPullRequest', () => {
  it('opens once per head, against the default branch, with Closes #N, as a draft when asked', async () => {
    const github = await fake({ defaultBranch: 'trunk' });
    const issue = github.addIssue({});
    const request = { issue: issue.number, head: `miyabi/issue-${issue.number}`, title: 'Fix it', body: 'The fix.', draft: true };

    const opened = await source(github).openPullRequest(request);
    expect(opened).toMatchObject({ created: true, url: `https://github.com/${owner}/${repo}/pull/${opened.number}` });
    const again = await source(github).openPullRequest(request);
    expect(again).toEqual({ ...opened, created: false });

    const pulls = github.pullsForHead(request.head);
    expect(pulls).toHaveLength(1);
    expect(pulls[0]!.pull).toEqual({ head: request.head, base: 'trunk', draft: true });
    expect(pulls[0]!.body).toBe(`The fix.\n\nCloses #${issue.number}`);
  });

  it('keeps a body that already closes the issue, and takes the base given', async () => {
    const github = await fake();
    const issue = github.addIssue({});
    await source(github).openPullRequest({ issue: issue.number, head: 'h', base: 'release', title: 't', body: `closes #${issue.number}.`, draft: false });
    const [pull] = github.pullsForHead('h');
    expect(pull!.body).toBe(`closes #${issue.number}.`);
    expect(pull!.pull).toEqual({ head: 'h', base: 'release', draft: false });
    expect(github.requestsTo('GET', `/repos/${owner}/${repo}`).filter((r) => r.path === `/repos/${owner}/${repo}`)).toHaveLength(0);
  });

  it('opens one pull request when two processes race for the same head (a 422 answers the other)', async () => {
    const github = await fake();
    const issue = github.addIssue({});
    const request = { issue: issue.number, head: 'race', title: 't', body: '', draft: false };
    const results = await Promise.all([source(github).openPullRequest(request), source(github).openPullRequest(request)]);
    expect(results.map((r) => r.created).sort()).toEqual([false, true]);
    expect(results[0]!.number).toBe(results[1]!.number);
    expect(github.pullsForHead('race')).toHaveLength(1);
  });
});

describe('syncLabels', () => {
  it('creates only the labels that are missing', async () => {
    const github = await fake();
    github.addIssue({ labels: ['State:Ready'] });
    const created = await source(github).syncLabels([
      { name: 'state:ready', color: 'ededed', description: 'ready' },
      { name: 'state:working', color: '#fbca04', description: 'an agent works on it' },
    ]);
    expect(created).toEqual({ created: ['state:working'] });
    expect(github.state.labels.get('state:working')).toMatchObject({ color: 'fbca04', description: 'an agent works on it' });
    expect(github.requestsTo('POST', `/repos/${owner}/${repo}/labels`)).toHaveLength(1);
    expect(await source(github).syncLabels([{ name: 'state:working', color: 'fbca04', description: '' }])).toEqual({ created: [] });
  });
});
