import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  LocalIssueSource,
  LocalIssueSourceError,
  LocalSourceErrorCodes,
  parseIssueFile,
  readIssueDirectory,
} from '../../src/issues/local-source.ts';

let root: string;
let dir: string;
let trackerDir: string;
let warnings: string[];
const sources: LocalIssueSource[] = [];

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'miyabi-local-source-'));
  dir = path.join(root, 'backlog');
  trackerDir = path.join(root, 'tracker');
  await mkdir(dir);
  warnings = [];
});

afterEach(async () => {
  for (const source of sources.splice(0)) await source.close();
  await rm(root, { recursive: true, force: true });
});

function open(): LocalIssueSource {
  const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line).msg) });
  const source = new LocalIssueSource({ dir, trackerDir, logger });
  sources.push(source);
  return source;
}

function issueText(fields: Record<string, string>, body = 'The body.'): string {
  const lines = Object.entries(fields).map(([name, value]) => `${name}: ${value}`);
  return ['---', ...lines, '---', '', body, ''].join('\n');
}

async function issue(name: string, fields: Record<string, string>, body?: string): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, issueText(fields, body));
  return file;
}

describe('reading issues', () => {
  it('lists every open issue with the defaults of the fields it leaves out', async () => {
    const file = await issue('first.md', { number: '3', title: 'Add a flag' }, 'Please add **--json**.');
    await issue('second.md', { number: '1', title: 'Fix it', labels: '[bug, miyabi]', author: 'renovate[bot]', association: 'member', dependsOn: '[3, "#2"]' });
    await writeFile(path.join(dir, 'notes.txt'), 'not an issue');
    await mkdir(path.join(dir, 'sub.md'));

    const { issues } = await open().listOpen();

    expect(issues?.map((tracked) => tracked.number)).toEqual([1, 3]);
    const [fix, flag] = issues!;
    expect(flag).toEqual({
      number: 3,
      title: 'Add a flag',
      body: 'Please add **--json**.',
      labels: [],
      state: 'open',
      author: 'local',
      authorAssociation: 'OWNER',
      authorIsBot: false,
      url: `file://${file}`,
      updatedAt: new Date((await stat(file)).mtimeMs).toISOString(),
      dependsOn: [],
    });
    expect(fix).toMatchObject({ labels: ['bug', 'miyabi'], author: 'renovate[bot]', authorIsBot: true, authorAssociation: 'MEMBER', dependsOn: [3, 2] });
    expect(warnings).toEqual([]);
  });

  it('leaves closed issues out of listOpen, but get answers them', async () => {
    await issue('a.md', { number: '1', title: 'Open' });
    await issue('b.md', { number: '2', title: 'Done', state: 'closed' });
    const source = open();

    expect((await source.listOpen()).issues?.map((tracked) => tracked.number)).toEqual([1]);
    expect(await source.get(2)).toMatchObject({ number: 2, state: 'closed', title: 'Done' });
    expect(await source.get(99)).toBeUndefined();
  });

  it('skips a malformed file once per version with one warning naming file and field, and serves the rest', async () => {
    await issue('good.md', { number: '1', title: 'Fine' });
    const badNumber = await issue('07.md', { number: 'seven', title: 'Bad number' });
    const badYaml = path.join(dir, 'yaml.md');
    await writeFile(badYaml, '---\nnumber: [1\ntitle: x\n---\nbody\n');
    const noFrontMatter = path.join(dir, 'plain.md');
    await writeFile(noFrontMatter, '# Just a heading\n');
    await issue('labels.md', { number: '4', title: 'Labels', labels: 'bug' });
    const source = open();

    expect((await source.listOpen()).issues?.map((tracked) => tracked.number)).toEqual([1]);
    await source.listOpen();
    expect(await source.get(1)).toBeDefined();

    expect(warnings.sort()).toEqual(
      [
        `${badNumber}: number: expected a positive integer`,
        `${path.join(dir, 'labels.md')}: labels: expected a list of label names`,
        expect.stringMatching(new RegExp(`^${badYaml}: front matter: invalid YAML`)),
        `${noFrontMatter}: front matter: missing (the file must start with a --- line)`,
      ].sort(),
    );

    // A new version of the file is warned about again.
    await writeFile(badNumber, issueText({ number: '-2', title: 'Still bad' }));
    await utimes(badNumber, new Date(), new Date(Date.now() + 5_000));
    await source.listOpen();
    expect(warnings.filter((line) => line.startsWith(badNumber))).toHaveLength(2);

    const { problems } = await readIssueDirectory(dir);
    expect(problems.map(({ file, message }) => ({ file, message }))).toContainEqual({
      file: badNumber,
      message: 'number: expected a positive integer',
    });
  });

  it('skips both files of a duplicated number and names both', async () => {
    const first = await issue('a.md', { number: '5', title: 'One' });
    const second = await issue('b.md', { number: '5', title: 'Other' });
    await issue('c.md', { number: '6', title: 'Alone' });
    const source = open();

    expect((await source.listOpen()).issues?.map((tracked) => tracked.number)).toEqual([6]);
    expect(await source.get(5)).toBeUndefined();
    expect(warnings).toHaveLength(2);
    for (const line of warnings) expect(line).toMatch(new RegExp(`${first}.*${second}|${second}.*${first}`));
  });

  it('decodes invalid UTF-8 with replacement characters and serves a body of 5 MB', async () => {
    await writeFile(
      path.join(dir, 'latin1.md'),
      Buffer.concat([Buffer.from('---\nnumber: 1\ntitle: caf'), Buffer.from([0xe9]), Buffer.from('\n---\nna\xefve \xff\xfe body\n', 'latin1')]),
    );
    const big = 'x'.repeat(5 * 1024 * 1024);
    await issue('big.md', { number: '2', title: 'Big' }, big);

    const source = open();
    expect(await source.get(1)).toMatchObject({ title: 'caf\uFFFD', body: 'na\uFFFDve \uFFFD\uFFFD body' });
    expect((await source.get(2))?.body).toHaveLength(big.length);
  });

  it('parses CRLF files and "#12" dependencies', () => {
    const parsed = parseIssueFile('---\r\nnumber: 12\r\ntitle: Windows\r\ndependsOn: ["#3", 4]\r\n---\r\n\r\nBody\r\n', 'x.md');
    expect(parsed).toMatchObject({ ok: true, issue: { number: 12, title: 'Windows', dependsOn: [3, 4], body: 'Body' } });
    expect(parseIssueFile('---\nnumber: 1\n', 'y.md')).toEqual({
      ok: false,
      problem: { file: 'y.md', message: 'front matter: no closing --- line' },
    });
    expect(parseIssueFile('---\nnumber: 1\n---\n', 'z.md')).toMatchObject({ ok: false, problem: { message: 'title: required, a string' } });
  });

  it('names a missing directory', async () => {
    dir = path.join(root, 'nowhere');
    const source = open();
    await expect(source.listOpen()).rejects.toThrow(`issue directory ${dir} does not exist`);
    await expect(source.get(1)).rejects.toMatchObject({ code: LocalSourceErrorCodes.IssueDirMissing });
  });
});

describe('writing back', () => {
  beforeEach(async () => {
    await issue('one.md', { number: '1', title: 'Add a flag', labels: '[miyabi, "state:queued"]' });
  });

  it('comments once per key, also after a restart', async () => {
    const source = open();
    expect(await source.comment(1, 'plan', 'Here is the plan.')).toEqual({ posted: true });
    expect(await source.comment(1, 'plan', 'Here is the plan again.')).toEqual({ posted: false });
    await source.close();

    const restarted = open();
    expect(await restarted.comment(1, 'plan', 'After a restart.')).toEqual({ posted: false });
    expect(await restarted.comment(1, 'done', 'Finished.')).toEqual({ posted: true });

    const record = JSON.parse(await readFile(path.join(trackerDir, 'issue-1.json'), 'utf8'));
    expect(record.comments.map((comment: { key: string; body: string }) => [comment.key, comment.body])).toEqual([
      ['plan', 'Here is the plan.'],
      ['done', 'Finished.'],
    ]);
  });

  it('keeps every one of 20 concurrent comments', async () => {
    const source = open();
    const keys = Array.from({ length: 20 }, (_, index) => `key-${index}`);
    const answers = await Promise.all(keys.map((key) => source.comment(1, key, `comment ${key}`)));
    expect(answers.every((answer) => answer.posted)).toBe(true);
    const record = JSON.parse(await readFile(path.join(trackerDir, 'issue-1.json'), 'utf8'));
    expect(record.comments.map((comment: { key: string }) => comment.key).sort()).toEqual([...keys].sort());
    expect((await readdir(trackerDir)).sort()).toEqual(['issue-1.json', 'issue-1.md']); // no temporary file left
  });

  it('renders the conversation for a person', async () => {
    const source = open();
    await source.comment(1, 'plan', 'Step one, then step two.');
    await source.setExclusiveLabel(1, ['state:queued', 'state:working'], 'state:working');
    const rendered = await readFile(path.join(trackerDir, 'issue-1.md'), 'utf8');
    expect(rendered).toContain('# #1: Add a flag');
    expect(rendered).toContain('Step one, then step two.');
    expect(rendered).toMatch(/### \d{4}-\d\d-\d\dT/);
    expect(rendered).toContain('`state:working`');
    expect(rendered).not.toContain('`state:queued`');
  });

  it('setExclusiveLabel leaves one label of the family, seen by listOpen', async () => {
    const source = open();
    const family = ['state:queued', 'state:working', 'state:done'];
    const labelsOf = async () => (await source.listOpen()).issues?.find((tracked) => tracked.number === 1)?.labels;

    await source.setExclusiveLabel(1, family, 'state:working');
    expect(await labelsOf()).toEqual(['miyabi', 'state:working']);
    await Promise.all([source.setExclusiveLabel(1, family, 'state:done'), source.setExclusiveLabel(1, family, 'state:queued')]);
    expect((await labelsOf())?.filter((label) => family.includes(label))).toEqual(['state:queued']);
    await source.setExclusiveLabel(1, family, undefined);
    expect(await labelsOf()).toEqual(['miyabi']);
  });

  it('updatedAt follows the tracker file', async () => {
    const source = open();
    const before = (await source.get(1))!.updatedAt;
    await source.comment(1, 'later', 'Later.');
    await utimes(path.join(trackerDir, 'issue-1.json'), new Date(), new Date(Date.now() + 60_000));
    expect((await source.get(1))!.updatedAt > before).toBe(true);
  });

  it('opens a pull request once per head branch', async () => {
    await issue('two.md', { number: '2', title: 'Second' });
    const source = open();
    const request = { issue: 1, head: 'miyabi/issue-1', title: 'Add a flag', body: 'Closes #1', draft: false };

    const first = await source.openPullRequest(request);
    expect(first).toEqual({ number: 1, url: `file://${path.join(trackerDir, 'pull-1.md')}`, created: true });
    expect(await source.openPullRequest({ ...request, title: 'Again' })).toEqual({ ...first, created: false });
    expect(await open().openPullRequest(request)).toEqual({ ...first, created: false });
    expect(await source.openPullRequest({ ...request, issue: 2, head: 'miyabi/issue-2', base: 'develop', draft: true })).toMatchObject({
      number: 2,
      created: true,
    });

    const pulls = JSON.parse(await readFile(path.join(trackerDir, 'pulls.json'), 'utf8'));
    expect(pulls).toHaveLength(2);
    expect(pulls[0]).toMatchObject({ number: 1, issue: 1, head: 'miyabi/issue-1', base: 'main', title: 'Add a flag', body: 'Closes #1', draft: false });
    expect(pulls[1]).toMatchObject({ number: 2, base: 'develop', draft: true });
    expect(await readFile(path.join(trackerDir, 'pull-1.md'), 'utf8')).toContain('Closes #1');
    expect(JSON.parse(await readFile(path.join(trackerDir, 'issue-1.json'), 'utf8')).pullRequests).toEqual([1]);
  });

  it('refuses a write to an issue that has no file', async () => {
    await expect(open().comment(42, 'k', 'body')).rejects.toMatchObject({ code: LocalSourceErrorCodes.IssueNotFound });
  });

  it('names a corrupt tracker file instead of crashing', async () => {
    const source = open();
    await source.comment(1, 'plan', 'The plan.');
    const file = path.join(trackerDir, 'issue-1.json');
    const text = await readFile(file, 'utf8');
    await writeFile(file, text.slice(0, text.length / 2));

    for (const attempt of [() => source.get(1), () => source.listOpen(), () => source.comment(1, 'next', 'Next.')]) {
      const error = await attempt().then(
        () => undefined,
        (reason: unknown) => reason,
      );
      expect(error).toBeInstanceOf(LocalIssueSourceError);
      expect(error).toMatchObject({ code: LocalSourceErrorCodes.TrackerFileCorrupt });
      expect((error as Error).message).toContain(file);
    }
    // The source still works for the rest.
    expect(await source.syncLabels([{ name: 'x', color: '000000', description: '' }])).toEqual({ created: ['x'] });
  });
});

describe('labels and labelers', () => {
  it('answers who applied a label: labeledBy, else the author', async () => {
    await issue('one.md', { number: '1', title: 'T', author: 'alice', association: 'CONTRIBUTOR', labels: '[miyabi, bug]', labeledBy: '{ miyabi: "dependabot[bot]" }' });
    await issue('two.md', { number: '2', title: 'T', labels: '[miyabi]' });
    const source = open();

    expect(await source.labeler(1, 'miyabi')).toEqual({ login: 'dependabot[bot]', isBot: true, hasWriteAccess: false });
    expect(await source.labeler(1, 'bug')).toEqual({ login: 'alice', isBot: false, hasWriteAccess: false });
    expect(await source.labeler(2, 'miyabi')).toEqual({ login: 'local', isBot: false, hasWriteAccess: true });
    expect(await source.labeler(2, 'not-there')).toBeUndefined();
    expect(await source.labeler(3, 'miyabi')).toBeUndefined();
  });

  it('syncLabels creates the missing labels only', async () => {
    const source = open();
    const labels = [
      { name: 'miyabi', color: '5319e7', description: 'Run the agents' },
      { name: 'state:working', color: 'fbca04', description: 'An agent is on it' },
    ];
    expect(await source.syncLabels(labels)).toEqual({ created: ['miyabi', 'state:working'] });
    expect(await source.syncLabels([...labels, { name: 'state:done', color: '0e8a16', description: 'Done' }])).toEqual({ created: ['state:done'] });
    expect(await open().syncLabels(labels)).toEqual({ created: [] });
    const stored = JSON.parse(await readFile(path.join(trackerDir, 'labels.json'), 'utf8'));
    expect(stored.map((label: { name: string }) => label.name)).toEqual(['miyabi', 'state:working', 'state:done']);
  });
});
