/**
 * Answers to agents' questions, found by the issue watcher's polls: on GitHub (the fake server,
 * the real client) and on the local source (real files). The orchestra's side is played by the
 * source itself: the question posted with its key, the waiting label set, as the workflow does.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.ts';
import type { IssueSource } from '../../src/issues/source.ts';
import { LocalIssueSource } from '../../src/issues/local-source.ts';
import { IssueWatcher } from '../../src/workflow/watcher.ts';
import { githubSourceHarness } from '../support/github-source.ts';

const harness = githubSourceHarness();
const WAITING = 'miyabi:waiting-for-human';
const question = (n: number, k = 1) => `issue-${n}.g1.needs-input.codegen.r0.q${k}`;

interface Published {
  subject: string;
  type: string;
  payload: Record<string, unknown>;
  msgId: string;
}

function watch(source: IssueSource, yaml: string) {
  const parsed = parseConfigText(yaml, 'test.yaml');
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  const published: Published[] = [];
  const ignored: string[] = [];
  const warnings: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line).msg) });
  const watcher = new IssueWatcher({
    config: parsed.config,
    source,
    logger,
    publish: async (subject, type, payload, msgId) => void published.push({ subject, type, payload: payload as Record<string, unknown>, msgId }),
    onIgnored: (reason) => ignored.push(reason),
  });
  const answers = () => published.filter((message) => message.type === 'issue.command');
  return { watcher, published, ignored, warnings, answers };
}

const githubConfig = (fullPollEvery: number, trust = '') =>
  `issues: { source: github, github: { owner: acme, repo: widgets, fullPollEvery: ${fullPollEvery} } }\nworkflow: { trust: { allow: [maya]${trust} } }\n`;

async function githubIssue(fullPollEvery: number) {
  const fake = await harness.fake();
  const source = harness.source(fake);
  const issue = fake.addIssue({ title: 'Export the report', author: 'acme', authorAssociation: 'OWNER' });
  fake.labelIssue(issue.number, 'miyabi', 'acme');
  return { fake, source, number: issue.number, ...watch(source, githubConfig(fullPollEvery)) };
}

describe('answers on GitHub, by polling', () => {
  it('publishes the first trusted comment after the latest question, once; earlier, untrusted and own comments are not answers', async () => {
    const { fake, source, number, watcher, answers, ignored, warnings } = await githubIssue(1);
    fake.addComment(number, 'An early thought: maybe CSV.', 'acme');
    await watcher.poll();
    await source.comment(number, question(number), 'Which output format?');
    fake.labelIssue(number, WAITING, 'miyabi-bot');
    await watcher.poll();
    // The comment before the question is no answer.
    expect(answers()).toEqual([]);

    fake.addComment(number, 'Use XML!', 'eve');
    await source.comment(number, `issue-${number}.g1.note`, 'A note of the orchestra (its account is a collaborator).');
    const reply = fake.addComment(number, 'JSON, please.', 'acme');
    fake.addComment(number, 'And pretty-printed.', 'acme');
    await watcher.poll();
    expect(answers()).toEqual([
      {
        subject: `miyabi.events.issue.${number}`,
        type: 'issue.command',
        payload: { number, command: 'answer', by: 'acme', text: 'JSON, please.', id: `answer:${number}:${reply.id}` },
        msgId: `answer:${number}:${reply.id}`,
      },
    ]);
    expect(ignored).toEqual(['untrusted_commenter']);
    expect(warnings.filter((line) => line.includes('untrusted commenter'))).toHaveLength(1);

    // The label is still there (the workflow has not moved yet): polled again after a change,
    // nothing new; the same untrusted reply is not counted again, one after the answer not at all.
    fake.addComment(number, 'XML, I said.', 'eve');
    const reads = () => fake.requestsTo('GET', `/repos/acme/widgets/issues/${number}/comments`).length;
    const before = reads();
    await watcher.poll();
    expect(reads()).toBe(before + 1);
    expect(answers()).toHaveLength(1);
    expect(ignored).toEqual(['untrusted_commenter']);
  });

  it('answers the latest question only: an answer to an earlier one does not count for the next', async () => {
    const { fake, source, number, watcher, answers } = await githubIssue(1);
    await source.comment(number, question(number, 1), 'Which output format?');
    fake.labelIssue(number, WAITING, 'miyabi-bot');
    const first = fake.addComment(number, 'JSON.', 'acme');
    await watcher.poll();
    await source.comment(number, question(number, 2), 'Which indentation?');
    await watcher.poll();
    expect(answers().map((message) => message.msgId)).toEqual([`answer:${number}:${first.id}`]);
    const second = fake.addComment(number, 'Two spaces.', 'acme');
    await watcher.poll();
    expect(answers().map((message) => [message.msgId, message.payload.text])).toEqual([
      [`answer:${number}:${first.id}`, 'JSON.'],
      [`answer:${number}:${second.id}`, 'Two spaces.'],
    ]);
  });

  it('takes `/miyabi answer <text>` from a trusted person (the allow-list counts), the text after the command', async () => {
    const { fake, source, number, watcher, answers, ignored } = await githubIssue(1);
    await source.comment(number, question(number), 'Which output format?');
    fake.labelIssue(number, WAITING, 'miyabi-bot');
    fake.addComment(number, '/miyabi retry', 'acme');
    fake.addComment(number, '/miyabi answer', 'acme');
    fake.addComment(number, '/miyabi answer YAML', 'eve');
    const reply = fake.addComment(number, 'Thanks for asking.\n/miyabi answer JSON,\nindented by two spaces.\n', 'maya');
    await watcher.poll();
    expect(answers()).toMatchObject([
      { payload: { number, command: 'answer', by: 'maya', text: 'JSON,\nindented by two spaces.' }, msgId: `answer:${number}:${reply.id}` },
    ]);
    expect(ignored).toEqual(['untrusted_commenter']);
  });

  it('finds the answer in an incremental poll (`since`), and bounds its text to 64 KiB', async () => {
    const { fake, source, number, watcher, answers } = await githubIssue(10);
    await watcher.poll();
    await source.comment(number, question(number), 'Which output format?');
    fake.labelIssue(number, WAITING, 'miyabi-bot');
    fake.addComment(number, `JSON ${'x'.repeat(100_000)}`, 'acme');
    await watcher.poll();
    expect(fake.requestsTo('GET', '/repos/acme/widgets/issues').filter((request) => request.query.includes('since='))).toHaveLength(1);
    const text = answers()[0]?.payload.text as string;
    expect(text.startsWith('JSON xxx')).toBe(true);
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(64 * 1024);
  });

  it('comments that cannot be read do not fail the poll, and are read again at the next one, changed or not', async () => {
    const { fake, source, number, watcher, answers, warnings } = await githubIssue(10);
    const other = fake.addIssue({ title: 'Other', author: 'acme', authorAssociation: 'OWNER' });
    fake.labelIssue(other.number, 'miyabi', 'acme');
    await watcher.poll();
    await source.comment(number, question(number), 'Which output format?');
    fake.labelIssue(number, WAITING, 'miyabi-bot');
    const reply = fake.addComment(number, 'JSON, please.', 'acme');
    fake.fail({ kind: 'server_error', method: 'GET', path: `/repos/acme/widgets/issues/${number}/comments`, times: 100 });
    expect(await watcher.poll()).toMatchObject({ unchanged: false });
    fake.addComment(other.number, 'Newer than the reply.', 'acme');
    await watcher.poll();
    expect(answers()).toEqual([]);
    expect(warnings).toEqual(['comments not read; looking for the answer again next poll']);
    fake.state.faults.length = 0;
    // The next incremental poll starts after the reply: the issue is not in it, its comments are read anyway.
    await watcher.poll();
    expect(answers().map((message) => message.msgId)).toEqual([`answer:${number}:${reply.id}`]);
  });

  it('does not read comments of an issue that waits for nothing, nor of one the trust gate keeps out', async () => {
    const { fake, number, watcher } = await githubIssue(1);
    const stranger = fake.addIssue({ title: 'Stranger', author: 'eve', authorAssociation: 'NONE' });
    fake.labelIssue(stranger.number, 'miyabi', 'acme');
    fake.labelIssue(stranger.number, WAITING, 'acme');
    await watcher.poll();
    expect(fake.requestsTo('GET', /\/issues\/\d+\/comments$/)).toEqual([]);
    fake.labelIssue(number, WAITING, 'miyabi-bot');
    await watcher.poll();
    expect(fake.requestsTo('GET', /\/issues\/\d+\/comments$/).map((request) => request.path)).toEqual([`/repos/acme/widgets/issues/${number}/comments`]);
  });
});

describe('answers on the local source', () => {
  let root: string | undefined;
  const sources: LocalIssueSource[] = [];
  afterEach(async () => {
    for (const source of sources.splice(0)) await source.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('reads the answer from the issue file, after the question the orchestra posted', async () => {
    root = await mkdtemp(path.join(tmpdir(), 'miyabi-answers-'));
    const dir = path.join(root, 'backlog');
    await mkdir(dir);
    const file = path.join(dir, 'one.md');
    const write = (comments: string[]) =>
      writeFile(file, ['---', 'number: 1', 'title: Export the report', 'labels: [miyabi]', 'comments:', ...comments.map((c) => `  ${c}`), '---', '', 'Body.', ''].join('\n'));
    const early = '- { author: ren, body: "An early thought: maybe CSV." }';
    await write([early]);
    const source = new LocalIssueSource({ dir, trackerDir: path.join(root, 'tracker') });
    sources.push(source);
    const { watcher, answers, ignored, warnings } = watch(source, `issues: { source: local, local: { dir: ${dir} } }\n`);
    await watcher.poll();
    await source.comment(1, question(1), 'Which output format?');
    await source.setExclusiveLabel(1, ['miyabi:pending', WAITING], WAITING);
    await watcher.poll();
    expect(answers()).toEqual([]);

    await write([early, '- { author: eve, association: NONE, body: "Use XML!" }', '- { author: ren, association: MEMBER, body: "JSON, please." }']);
    await watcher.poll();
    await watcher.poll();
    expect(answers()).toEqual([
      {
        subject: 'miyabi.events.issue.1',
        type: 'issue.command',
        payload: { number: 1, command: 'answer', by: 'ren', text: 'JSON, please.', id: 'answer:1:f2' },
        msgId: 'answer:1:f2',
      },
    ]);
    expect(ignored).toEqual(['untrusted_commenter']);
    expect(warnings).toEqual(['reply to a question from an untrusted commenter ignored']);
  });
});
