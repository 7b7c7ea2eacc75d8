// What the github source reads for the merge stage and the dependency graph: an issue's comments
// (listComments), the CI verdicts on a commit (checks) and GitHub's own issue dependencies
// (blockedBy), against the fake GitHub over real HTTP.
import { describe, expect, it } from 'vitest';
import { statusStates } from '../../src/issues/github-source.ts';
import { githubSourceHarness, owner, repo } from '../support/github-source.ts';

const { fake, source, logLines } = githubSourceHarness();

const sha = 'c0ffee'.padEnd(40, '0');

describe('listComments', () => {
  it("answers every comment oldest first: the orchestra's with their key, people's and bots' with their trust fields", async () => {
    const github = await fake();
    const issue = github.addIssue({});
    const issues = source(github);
    github.addComment(issue.number, 'Please also cover --yaml.', owner);
    await issues.comment(issue.number, 'claimed:1', 'Working on it.');
    github.addComment(issue.number, 'Bumped a dependency.', 'renovate[bot]');
    github.user('some-app', 'Bot');
    github.addComment(issue.number, 'A check ran.', 'some-app');
    github.addComment(issue.number, `quoting <!-- miyabi-orchestra:key=claimed%3A1 --> in the middle`, 'stranger');

    const comments = await issues.listComments(issue.number);
    const [first, ours, bot, app, quote] = comments;
    expect(comments).toHaveLength(5);
    expect(first).toEqual({
      id: String(github.state.comments[0]!.id),
      author: owner,
      authorAssociation: 'OWNER',
      authorIsBot: false,
      body: 'Please also cover --yaml.',
    });
    expect(ours).toEqual({
      id: String(github.state.comments[1]!.id),
      author: 'miyabi-bot',
      authorAssociation: 'COLLABORATOR',
      authorIsBot: false,
      body: 'Working on it.',
      key: 'claimed:1',
    });
    expect(bot).toMatchObject({ author: 'renovate[bot]', authorIsBot: true, authorAssociation: 'NONE' });
    expect(app).toMatchObject({ author: 'some-app', authorIsBot: true });
    expect(quote).toMatchObject({ author: 'stranger', authorAssociation: 'NONE' });
    expect(quote!.key).toBeUndefined();
  });

  it('reads every page, and keeps an odd key as it was posted', async () => {
    const github = await fake();
    const issue = github.addIssue({});
    const issues = source(github, { perPage: 50 });
    const key = 'x --> <b>y</b>\n z';
    await issues.comment(issue.number, key, 'odd');
    for (let i = 0; i < 120; i += 1) github.addComment(issue.number, `chatter ${i}`);
    const before = github.requestsTo('GET', `/repos/${owner}/${repo}/issues/${issue.number}/comments`).length;

    const comments = await issues.listComments(issue.number);
    expect(comments).toHaveLength(121);
    expect(comments[0]).toMatchObject({ key, body: 'odd' });
    expect(comments.at(-1)!.body).toBe('chatter 119');
    expect(github.requestsTo('GET', `/repos/${owner}/${repo}/issues/${issue.number}/comments`).length - before).toBe(3);
  });
});

describe('checks', () => {
  it('maps check runs: queued and running are pending; success, neutral and skipped pass; any other conclusion fails', async () => {
    const github = await fake();
    const runs: Array<[string, 'queued' | 'in_progress' | 'completed', string | null, string]> = [
      ['build', 'queued', null, 'pending'],
      ['test', 'in_progress', null, 'pending'],
      ['lint', 'completed', 'success', 'success'],
      ['docs', 'completed', 'neutral', 'success'],
      ['e2e', 'completed', 'skipped', 'success'],
      ['unit', 'completed', 'failure', 'failure'],
      ['deploy', 'completed', 'cancelled', 'failure'],
      ['slow', 'completed', 'timed_out', 'failure'],
      ['manual', 'completed', 'action_required', 'failure'],
    ];
    for (const [name, status, conclusion] of runs) github.setCheckRun(sha, { name, status, conclusion });
    const checks = await source(github).checks(sha);
    expect(checks.map((c) => [c.name, c.kind, c.state])).toEqual(runs.map(([name, , , state]) => [name, 'check_run', state]));
    expect(checks[0]!.detailsUrl).toMatch(/^https:\/\/github\.com\/acme\/widgets\/runs\/\d+$/);
  });

  it("says what a red check says of itself, its long log's end kept within 4 KiB", async () => {
    const github = await fake();
    const log = `${'npm test output line\n'.repeat(600)}FAIL test/flag.test.ts > parses --json\nTests: 1 failed`;
    github.setCheckRun(sha, { name: 'unit', conclusion: 'failure', output: { title: '1 test failed', summary: 'See the log.', text: log }, detailsUrl: 'https://ci.example/42' });
    github.setCheckRun(sha, { name: 'short', conclusion: 'failure', output: { title: 'Lint', summary: '2 problems' } });
    const [unit, short] = await source(github).checks(sha);
    expect(unit).toMatchObject({ name: 'unit', state: 'failure', detailsUrl: 'https://ci.example/42' });
    expect(unit!.summary!.length).toBeLessThanOrEqual(4096);
    expect(unit!.summary!.startsWith('…')).toBe(true);
    expect(unit!.summary!.endsWith('FAIL test/flag.test.ts > parses --json\nTests: 1 failed')).toBe(true);
    expect(short!.summary).toBe('Lint\n\n2 problems');
  });

  it('adds the commit statuses, the newest of each context; error and failure are red', async () => {
    const github = await fake();
    github.setCheckRun(sha, { name: 'build', conclusion: 'success' });
    github.setStatus(sha, { context: 'ci/jenkins', state: 'pending', description: 'Build queued' });
    github.setStatus(sha, { context: 'ci/circle', state: 'error', description: 'Could not start', targetUrl: 'https://circle.example/1' });
    github.setStatus(sha, { context: 'ci/jenkins', state: 'success', description: 'Build passed' });
    github.setStatus(sha, { context: 'license', state: 'failure' });
    const checks = await source(github).checks(sha);
    expect(checks).toEqual([
      { name: 'build', kind: 'check_run', state: 'success', detailsUrl: expect.any(String) },
      { name: 'license', kind: 'status', state: 'failure' },
      { name: 'ci/jenkins', kind: 'status', state: 'success', summary: 'Build passed' },
      { name: 'ci/circle', kind: 'status', state: 'failure', detailsUrl: 'https://circle.example/1', summary: 'Could not start' },
    ]);
  });

  it('reads every page of check runs and answers nothing for a commit without checks', async () => {
    const github = await fake();
    for (let i = 0; i < 120; i += 1) github.setCheckRun(sha, { name: `job ${i}`, conclusion: 'success' });
    const issues = source(github, { perPage: 50 });
    expect(await issues.checks(sha)).toHaveLength(120);
    expect(github.requestsTo('GET', `/repos/${owner}/${repo}/commits/${sha}/check-runs`)).toHaveLength(3);
    expect(await issues.checks('f'.repeat(40))).toEqual([]);
  });

  it('takes the newest status of a context whatever order GitHub lists them in', () => {
    const statuses = [
      { id: 2, context: 'ci', state: 'success', updated_at: '2025-01-01T00:00:02Z' },
      { id: 1, context: 'ci', state: 'failure', updated_at: '2025-01-01T00:00:01Z' },
      { id: 3, context: 'other', state: 'failure', updated_at: '2025-01-01T00:00:01Z' },
      { id: 4, context: 'other', state: 'pending', updated_at: '2025-01-01T00:00:01Z' },
    ];
    expect(statusStates(statuses).map((s) => [s.name, s.state])).toEqual([
      ['ci', 'success'],
      ['other', 'pending'],
    ]);
  });
});

describe('blockedBy', () => {
  const blockedByPath = (n: number) => `/repos/${owner}/${repo}/issues/${n}/dependencies/blocked_by`;

  it("answers this repository's blockers by number and the others as owner/repo#n", async () => {
    const github = await fake();
    const [one, two, three] = [github.addIssue({}), github.addIssue({}), github.addIssue({})];
    github.setBlockedBy(three.number, [{ number: one.number }, { number: two.number, repo: 'ACME/Widgets' }, { number: 7, repo: 'other/lib' }]);
    const issues = source(github);
    expect(await issues.blockedBy(three.number)).toEqual({ numbers: [one.number, two.number], elsewhere: ['other/lib#7'] });
    expect(await issues.blockedBy(one.number)).toEqual({ numbers: [], elsewhere: [] });
  });

  it('answers undefined on a server without issue dependencies (404), asked once per source', async () => {
    const github = await fake({ dependencies: false });
    const [one, two] = [github.addIssue({}), github.addIssue({})];
    const issues = source(github);
    expect(await issues.blockedBy(one.number)).toBeUndefined();
    expect(await issues.blockedBy(two.number)).toBeUndefined();
    expect(await issues.blockedBy(one.number)).toBeUndefined();
    expect(github.requestsTo('GET', /\/dependencies\/blocked_by$/).map((r) => r.path)).toEqual([blockedByPath(one.number)]);
    expect(logLines.filter((line) => line.includes('no issue dependencies'))).toHaveLength(1);
    // Another source asks again (it is remembered per source).
    expect(await source(github).blockedBy(two.number)).toBeUndefined();
    expect(github.requestsTo('GET', /\/dependencies\/blocked_by$/)).toHaveLength(2);
  });

  it('remembers a 410 too, but not the 404 of an issue that does not exist', async () => {
    const github = await fake();
    const issue = github.addIssue({});
    github.setBlockedBy(issue.number, [{ number: 9, repo: 'other/lib' }]);
    const issues = source(github);
    expect(await issues.blockedBy(999)).toEqual({ numbers: [], elsewhere: [] });
    expect(await issues.blockedBy(issue.number)).toEqual({ numbers: [], elsewhere: ['other/lib#9'] });

    const gone = source(github);
    github.fail({ kind: 'server_error', status: 410, path: blockedByPath(issue.number) });
    expect(await gone.blockedBy(issue.number)).toBeUndefined();
    expect(await gone.blockedBy(issue.number)).toBeUndefined();
    expect(github.requestsTo('GET', blockedByPath(issue.number))).toHaveLength(2);
  });
});
