/** `logs search` through the real CLI: JSON results linked to issue and task, and bad input refused with exit 2. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PaneLog } from '../../src/infra/panes/log.ts';
import { runCli, tempDir } from '../support/cli.ts';

const dir = await tempDir('miyabi-logs-cli-');
afterAll(() => dir[Symbol.asyncDispose]());

const dataDir = join(dir.path, 'data');
const logs = join(dataDir, 'logs');
mkdirSync(logs, { recursive: true });
const config = await dir.file('c.yaml', JSON.stringify({ dataDir, http: { enabled: false } }));
const recent = new Date(Date.now() - 60_000).toISOString();
writeFileSync(
  join(logs, 'orchestra.log'),
  [
    { level: 'info', time: '2020-01-01T00:00:00.000Z', actorId: 'lifecycles', issue: 5, stage: 'review', taskId: 'issue-5.g1.review.r0.a1', msg: 'stage dispatched' },
    { level: 'warn', time: recent, actorId: 'lifecycles', issue: 6, stage: 'codegen', taskId: 'issue-6.g1.codegen.r0.a1', msg: 'stage dispatched' },
  ]
    .map((line) => `${JSON.stringify(line)}\n`)
    .join(''),
);
const pane = new PaneLog({ dir: join(logs, 'agents'), agentId: 'review-1', maxBytes: 1 << 20 });
pane.taskStart({ taskId: 'issue-5.g1.review.r0.a1', issue: 5, role: 'review', attempt: 1 });
pane.line('review: changes requested, the parser dispatched nothing');
pane.close();

const search = (...args: string[]) => runCli(['logs', 'search', ...args, '--config', config]);

describe('logs search', { timeout: 60_000 }, () => {
  it('prints the matching lines as JSON, each with its file, line, issue, task and agent', async () => {
    const result = await search('dispatched', '--json');
    expect(result.exitCode).toBe(0);
    const output = JSON.parse(result.stdout) as { query: string; hits: Array<Record<string, unknown>>; indexed: { files: number } };
    expect(output.query).toBe('dispatched');
    expect(output.indexed.files).toBe(2);
    expect(output.hits).toHaveLength(3);
    expect(output.hits).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ file: 'orchestra.log', line: 2, issue: 6, taskId: 'issue-6.g1.codegen.r0.a1', agent: 'lifecycles', stage: 'codegen', level: 'warn' }),
        expect.objectContaining({ file: expect.stringMatching(/^agents\/review-1\/\d{4}-\d{2}-\d{2}\.log$/), line: 2, issue: 5, taskId: 'issue-5.g1.review.r0.a1', agent: 'review-1' }),
      ]),
    );
  });

  it('applies --issue, --agent, --task, --since and --limit', async () => {
    const hits = async (...args: string[]) => {
      const result = await search('dispatched', '--json', ...args);
      expect(result.exitCode, result.stderr).toBe(0);
      return (JSON.parse(result.stdout) as { hits: Array<{ file: string; issue: number }> }).hits.map((hit) => `${hit.file}#${hit.issue}`).sort();
    };
    expect(await hits('--issue', '5')).toEqual([expect.stringMatching(/^agents\/review-1\//), 'orchestra.log#5']);
    expect(await hits('--agent', 'review-1')).toEqual([expect.stringMatching(/^agents\/review-1\/.*#5$/)]);
    expect(await hits('--task', 'issue-6.g1.codegen.r0.a1')).toEqual(['orchestra.log#6']);
    expect(await hits('--since', '1h', '--issue', '6')).toEqual(['orchestra.log#6']);
    expect(await hits('--since', '2019-12-31')).toHaveLength(3);
    expect(await hits('--limit', '1')).toHaveLength(1);
  });

  it('prints a line per hit with its time, place and links', async () => {
    const result = await search('changes', 'requested');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^\S+Z {2}agents\/review-1\/\S+\.log:2 {2}#5 issue-5\.g1\.review\.r0\.a1 review-1\n {4}review: changes requested/);
    const none = await search('nowhere');
    expect(none.exitCode).toBe(0);
    expect(none.stdout).toMatch(/^no line matches/);
  });

  it('refuses bad input with exit 2 and a message naming it, never a stack', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['dispatched', '--issue', 'seven'], /--issue "seven": expected a whole number/],
      [['dispatched', '--since', 'last week'], /--since "last week": expected a duration/],
      [['dispatched', '--limit', '0'], /--limit "0": expected a whole number from 1 to 1000/],
      [['dispatched', '--agent', 'a b'], /--agent "a b": expected an id/],
      [[], /give a QUERY/],
      [['stage AND'], /cannot search for "stage AND": fts5: syntax error/],
      [['issue-5.g1'], /put text with punctuation, like a task id, in double quotes/],
      [['dispatched', '--frobnicate'], /Unknown option '--frobnicate'/],
    ];
    for (const [args, message] of cases) {
      const result = await search(...args);
      expect(result.exitCode, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
    const elsewhere = await dir.file('elsewhere.yaml', JSON.stringify({ dataDir: join(dir.path, 'never-ran'), http: { enabled: false } }));
    const nothing = await runCli(['logs', 'search', 'x', '--config', elsewhere]);
    expect(nothing.exitCode).toBe(1);
    expect(nothing.stderr).toMatch(/no logs to search: \S+never-ran\/logs does not exist/);
    const unknown = await runCli(['logs', 'grep', 'x', '--config', config]);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toMatch(/unknown logs subcommand grep/);
  });
});
