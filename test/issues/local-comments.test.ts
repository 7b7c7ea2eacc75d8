// The local source's conversation: people's comments written in the issue file's front matter,
// the orchestra's in the tracker, answered by listComments in one order with their trust fields,
// and a malformed comment named like any other field's problem. Real files in a temp directory.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LOCAL_ORCHESTRA_LOGIN, LocalIssueSource, LocalSourceErrorCodes, parseIssueFile } from '../../src/issues/local-source.ts';

let root: string;
let dir: string;
let trackerDir: string;
let warnings: string[];
const sources: LocalIssueSource[] = [];

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'miyabi-local-comments-'));
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

/** Issue #1 with these comments in its front matter (YAML lines, indented under `comments:`). */
async function issueWithComments(comments: string[]): Promise<string> {
  const file = path.join(dir, 'one.md');
  const lines = comments.length > 0 ? ['comments:', ...comments.map((line) => `  ${line}`)] : [];
  await writeFile(file, ['---', 'number: 1', 'title: Add a flag', 'labels: [miyabi]', ...lines, '---', '', 'The body.', ''].join('\n'));
  return file;
}

const bob = '- { author: bob, body: "Please also cover --yaml." }';
const ci = '- { author: "ci[bot]", association: NONE, body: "Lint passed." }';
const carol = '- { author: carol, association: contributor, bot: false, body: "Me too." }';
const app = '- { author: helper, bot: true, body: "Automated note." }';

describe('listComments', () => {
  it('answers the issue file comments with their trust fields: association default OWNER, bot default by login', async () => {
    await issueWithComments([bob, ci, carol, app]);
    expect(await open().listComments(1)).toEqual([
      { id: 'f0', author: 'bob', authorAssociation: 'OWNER', authorIsBot: false, body: 'Please also cover --yaml.' },
      { id: 'f1', author: 'ci[bot]', authorAssociation: 'NONE', authorIsBot: true, body: 'Lint passed.' },
      { id: 'f2', author: 'carol', authorAssociation: 'CONTRIBUTOR', authorIsBot: false, body: 'Me too.' },
      { id: 'f3', author: 'helper', authorAssociation: 'OWNER', authorIsBot: true, body: 'Automated note.' },
    ]);
    expect(warnings).toEqual([]);
  });

  it("interleaves the orchestra's comments with the file's in the order they were written", async () => {
    await issueWithComments([bob]);
    const source = open();
    await source.comment(1, 'start', 'Started.');
    await issueWithComments([bob, ci, carol]);
    await source.comment(1, 'question', 'Which format?');
    await source.comment(1, 'question', 'Which format? (again)');
    await issueWithComments([bob, ci, carol, app]);

    const comments = await source.listComments(1);
    expect(comments.map((c) => c.id)).toEqual(['f0', 't0', 'f1', 'f2', 't1', 'f3']);
    expect(comments[1]).toEqual({ id: 't0', author: LOCAL_ORCHESTRA_LOGIN, authorAssociation: 'NONE', authorIsBot: true, body: 'Started.', key: 'start' });
    expect(comments[4]).toMatchObject({ key: 'question', body: 'Which format?' });

    const record = JSON.parse(await readFile(path.join(trackerDir, 'issue-1.json'), 'utf8'));
    expect(record.comments.map((c: { key: string; afterFileComments: number }) => [c.key, c.afterFileComments])).toEqual([
      ['start', 1],
      ['question', 3],
    ]);
    // The conversation a person reads is in the same order.
    const rendered = await readFile(path.join(trackerDir, 'issue-1.md'), 'utf8');
    const at = (text: string) => rendered.indexOf(text);
    expect([at('Please also cover'), at('Started.'), at('Lint passed.'), at('Me too.'), at('Which format?')]).toEqual(
      [at('Please also cover'), at('Started.'), at('Lint passed.'), at('Me too.'), at('Which format?')].sort((a, b) => a - b),
    );
    expect(at('Please also cover')).toBeGreaterThan(0);
  });

  it('puts the comments of an older record (no afterFileComments) before the file comments', async () => {
    await issueWithComments([bob]);
    await mkdir(trackerDir);
    const record = { number: 1, labels: { added: [], removed: [] }, comments: [{ key: 'old', body: 'From before.', at: '2024-01-01T00:00:00Z' }], pullRequests: [] };
    await writeFile(path.join(trackerDir, 'issue-1.json'), JSON.stringify(record));
    expect((await open().listComments(1)).map((c) => [c.id, c.key])).toEqual([
      ['t0', 'old'],
      ['f0', undefined],
    ]);
  });

  it('refuses an issue that has no file', async () => {
    await expect(open().listComments(9)).rejects.toMatchObject({ code: LocalSourceErrorCodes.IssueNotFound });
  });
});

describe('malformed comments', () => {
  const parse = (comments: string) => parseIssueFile(`---\nnumber: 1\ntitle: T\ncomments: ${comments}\n---\n`, 'x.md');

  it('names the comment and its field', () => {
    const problems: Array<[string, string]> = [
      ['hello', 'comments: expected a list of { author, body } mappings'],
      ['[hello]', 'comments[0]: expected a mapping with author and body'],
      ['[{ body: x }]', 'comments[0].author: required, a login'],
      ['[{ author: "", body: x }]', 'comments[0].author: expected a non-empty string'],
      ['[{ author: a, body: x }, { author: b }]', 'comments[1].body: required, a string'],
      ['[{ author: a, body: [x] }]', 'comments[0].body: expected a string'],
      ['[{ author: a, body: x, association: king }]', 'comments[0].association: expected one of OWNER, MEMBER, COLLABORATOR, CONTRIBUTOR, FIRST_TIME_CONTRIBUTOR, FIRST_TIMER, MANNEQUIN, NONE'],
      ['[{ author: a, body: x, bot: "yes" }]', 'comments[0].bot: expected true or false'],
    ];
    for (const [yaml, message] of problems) expect(parse(yaml), yaml).toEqual({ ok: false, problem: { file: 'x.md', message } });
    expect(parse('')).toMatchObject({ ok: true, issue: { comments: [] } });
  });

  it('skips the issue file with one warning naming it, as for any other field', async () => {
    const file = await issueWithComments(['- { author: bob }']);
    const source = open();
    expect((await source.listOpen()).issues).toEqual([]);
    expect(warnings).toEqual([`${file}: comments[0].body: required, a string`]);
  });
});
