/**
 * The log index on real files in a temp data directory: pino lines as the orchestra writes them,
 * agents' output through the real PaneLog (its markers and its rotation), appended to, rotated,
 * truncated, deleted, and the index file itself deleted or damaged.
 */
import { appendFileSync, mkdirSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PaneLog } from '../../src/infra/panes/log.ts';
import { LogIndex, searchLogs } from '../../src/logs/log-index.ts';
import { indexPath } from '../../src/logs/store.ts';
import { tempDir, type TempDir } from '../support/cli.ts';

let dir: TempDir;
afterEach(async () => dir?.[Symbol.asyncDispose]());

function pino(fields: Record<string, unknown>): string {
  return `${JSON.stringify({ level: 'info', time: '2026-01-02T03:04:05.000Z', pid: 1, hostname: 'h', ...fields })}\n`;
}

async function logsDir(): Promise<string> {
  dir = await tempDir('miyabi-log-index-');
  const logs = join(dir.path, 'logs');
  mkdirSync(logs, { recursive: true });
  return logs;
}

const texts = (logs: string, query: string, filters = {}) => searchLogs(logs, { query, ...filters }).hits.map((hit) => hit.text);

describe('the log index', () => {
  it('indexes the orchestra log and only what was appended since, a line being written waiting for its newline', async () => {
    const logs = await logsDir();
    const file = join(logs, 'orchestra.log');
    writeFileSync(file, pino({ actorId: 'lifecycles', issue: 3, stage: 'codegen', taskId: 't-3', msg: 'stage dispatched' }));
    const first = searchLogs(logs, { query: 'dispatched' });
    expect(first.update).toMatchObject({ files: 1, lines: 1 });
    expect(first.hits).toEqual([
      expect.objectContaining({
        file: 'orchestra.log',
        line: 1,
        offset: 0,
        time: '2026-01-02T03:04:05.000Z',
        issue: 3,
        taskId: 't-3',
        agent: 'lifecycles',
        stage: 'codegen',
        level: 'info',
        text: 'stage dispatched actorId=lifecycles issue=3 stage=codegen taskId=t-3',
      }),
    ]);
    expect(first.hits[0]!.snippet.slice(...first.hits[0]!.highlights[0]!)).toBe('dispatched');
    appendFileSync(file, `${pino({ actorId: 'lifecycles', issue: 4, msg: 'stage dispatched again' })}{"level":"info","msg":"half a li`);
    const second = searchLogs(logs, { query: 'dispatched' });
    expect(second.update).toMatchObject({ lines: 1 });
    expect(second.hits.map((hit) => hit.issue).sort()).toEqual([3, 4]);
    expect(texts(logs, 'half')).toEqual([]);
    appendFileSync(file, 'ne"}\n');
    expect(searchLogs(logs, { query: 'half' }).hits).toEqual([expect.objectContaining({ line: 3, text: 'half a line' })]);
    expect(searchLogs(logs, { query: 'dispatched' }).update).toMatchObject({ lines: 0, bytes: 0 });
  });

  it('links an agent\'s output to the task between its markers, across a rotation of its file', async () => {
    const logs = await logsDir();
    const pane = new PaneLog({ dir: join(logs, 'agents'), agentId: 'codegen-1', maxBytes: 400, clock: () => Date.parse('2026-01-02T10:00:00Z') });
    pane.line('before any task');
    pane.taskStart({ taskId: 'issue-7.g1.codegen.r0.a1', issue: 7, role: 'codegen', attempt: 1 });
    for (let n = 1; n <= 12; n += 1) pane.line(`compiling module ${n} of the parser`);
    pane.taskEnd({ taskId: 'issue-7.g1.codegen.r0.a1', issue: 7, status: 'success', durationMs: 5 });
    pane.line('after the task');
    pane.close();
    const found = searchLogs(logs, { query: 'compiling' });
    expect(found.update.files).toBeGreaterThan(1);
    expect(found.hits).toHaveLength(12);
    for (const hit of found.hits) expect(hit).toMatchObject({ issue: 7, taskId: 'issue-7.g1.codegen.r0.a1', agent: 'codegen-1', time: '2026-01-02T10:00:00.000Z' });
    expect(new Set(found.hits.map((hit) => hit.file)).size).toBeGreaterThan(1);
    const outside = searchLogs(logs, { query: 'task' }).hits.filter((hit) => !hit.text.startsWith('==='));
    expect(outside.map((hit) => [hit.text, hit.issue])).toEqual(expect.arrayContaining([['before any task', undefined], ['after the task', undefined]]));
  });

  it('keeps the rows of a file renamed by a rotation, and reads the new file and the tail of the old one', async () => {
    const logs = await logsDir();
    const file = join(logs, 'orchestra.log');
    writeFileSync(file, pino({ msg: 'alpha one' }));
    expect(searchLogs(logs, { query: 'alpha' }).hits).toHaveLength(1);
    appendFileSync(file, pino({ msg: 'alpha two' }));
    renameSync(file, `${file}.1`);
    writeFileSync(file, pino({ msg: 'alpha three' }));
    const found = searchLogs(logs, { query: 'alpha' });
    expect(found.update).toMatchObject({ files: 2, lines: 2, reindexed: 0, dropped: 0 });
    expect(found.hits.map((hit) => `${hit.file}:${hit.line} ${hit.text}`).sort()).toEqual([
      'orchestra.log.1:1 alpha one',
      'orchestra.log.1:2 alpha two',
      'orchestra.log:1 alpha three',
    ]);
  });

  it('reads a truncated file again from the start, and forgets a file that is gone', async () => {
    const logs = await logsDir();
    const file = join(logs, 'orchestra.log');
    const runner = join(logs, 'runners', 'pr-1.log');
    mkdirSync(join(logs, 'runners'));
    writeFileSync(file, pino({ msg: 'beta old' }) + pino({ msg: 'beta older' }));
    writeFileSync(runner, pino({ actorId: 'pr-1', msg: 'beta runner' }));
    expect(texts(logs, 'beta')).toHaveLength(3);
    truncateSync(file, 0);
    rmSync(runner);
    expect(searchLogs(logs, { query: 'beta' })).toMatchObject({ update: { files: 1, reindexed: 1, dropped: 1 }, hits: [] });
    appendFileSync(file, pino({ msg: 'beta new' }));
    expect(texts(logs, 'beta')).toEqual(['beta new']);
    // Truncated and written again before the index looked: another file under the same inode.
    truncateSync(file, 0);
    appendFileSync(file, pino({ msg: 'beta newer, and longer than the line before it' }));
    expect(texts(logs, 'beta')).toEqual(['beta newer, and longer than the line before it']);
  });

  it('is rebuilt from the files when it is deleted or damaged', async () => {
    const logs = await logsDir();
    writeFileSync(join(logs, 'orchestra.log'), pino({ msg: 'gamma' }) + pino({ msg: 'gamma ray' }));
    expect(texts(logs, 'gamma')).toHaveLength(2);
    rmSync(indexPath(logs));
    expect(searchLogs(logs, { query: 'gamma' })).toMatchObject({ update: { lines: 2 }, hits: [{}, {}] });
    const index = LogIndex.open(logs);
    index.close();
    writeFileSync(indexPath(logs), 'this is not a database, it was damaged');
    for (const suffix of ['-wal', '-shm']) rmSync(`${indexPath(logs)}${suffix}`, { force: true });
    expect(searchLogs(logs, { query: 'gamma' })).toMatchObject({ update: { lines: 2 }, hits: [{}, {}] });
  });

  it('filters by issue, agent, task and time, and ranks the closer match first', async () => {
    const logs = await logsDir();
    mkdirSync(join(logs, 'runners'));
    writeFileSync(
      join(logs, 'orchestra.log'),
      pino({ actorId: 'lifecycles', issue: 1, taskId: 'issue-1.a1', time: '2026-01-01T00:00:00.000Z', msg: 'merge failed' }) +
        pino({ actorId: 'lifecycles', issue: 2, taskId: 'issue-2.a1', time: '2026-01-03T00:00:00.000Z', msg: 'merge failed' }) +
        pino({ actorId: 'workspace', issue: 2, time: '2026-01-04T00:00:00.000Z', msg: 'merge failed: a conflict in a file nobody expected, the branch stays for a person to look at' }),
    );
    writeFileSync(join(logs, 'runners', 'codegen-1.log'), pino({ actorId: 'codegen-1', issue: 1, taskId: 'issue-1.a1', time: '2026-01-02T00:00:00.000Z', msg: 'merge failed' }));
    const issues = (filters: object) => searchLogs(logs, { query: 'merge failed', ...filters }).hits.map((hit) => `${hit.agent}#${hit.issue}`);
    expect(issues({ issue: 2 }).sort()).toEqual(['lifecycles#2', 'workspace#2']);
    expect(issues({ agent: 'codegen-1' })).toEqual(['codegen-1#1']);
    expect(issues({ taskId: 'issue-1.a1' }).sort()).toEqual(['codegen-1#1', 'lifecycles#1']);
    expect(issues({ since: Date.parse('2026-01-02T12:00:00Z') }).sort()).toEqual(['lifecycles#2', 'workspace#2']);
    expect(issues({ since: Date.parse('2027-01-01T00:00:00Z') })).toEqual([]);
    expect(issues({ issue: 2, agent: 'workspace' })).toEqual(['workspace#2']);
    expect(searchLogs(logs, { query: '', issue: 1 }).hits).toHaveLength(2);
    // Shorter lines holding the words rank before longer ones (codegen-1's has one word more
    // than lifecycles'); equals, newest first.
    expect(issues({})).toEqual(['lifecycles#2', 'lifecycles#1', 'codegen-1#1', 'workspace#2']);
  });

  it('names a query FTS5 cannot parse, and refuses one that would escape its filters', async () => {
    const logs = await logsDir();
    writeFileSync(join(logs, 'orchestra.log'), pino({ msg: 'delta', issue: 1 }));
    expect(() => searchLogs(logs, { query: 'delta AND' })).toThrow(/cannot search for "delta AND": fts5: syntax error/);
    expect(() => searchLogs(logs, { query: 'delta) OR (x', issue: 2 })).toThrow(/unbalanced parentheses/);
    expect(() => searchLogs(logs, { query: '  ' })).toThrow(/give words to search for/);
    expect(texts(logs, '"delta" OR nothing', { issue: 1 })).toEqual(['delta issue=1']);
  });

  it('reads no file but the logs: not an env file, not a compressed rotation', async () => {
    const logs = await logsDir();
    writeFileSync(join(logs, 'orchestra.log'), pino({ msg: 'epsilon' }));
    writeFileSync(join(logs, 'secrets.env'), 'GITHUB_TOKEN=epsilon-ghp-secret\n');
    writeFileSync(join(logs, 'orchestra.log.2.gz'), 'epsilon compressed\n');
    mkdirSync(join(logs, 'agents', 'codegen-1'), { recursive: true });
    writeFileSync(join(logs, 'agents', 'codegen-1', 'notes.txt'), 'epsilon notes\n');
    expect(searchLogs(logs, { query: 'epsilon' })).toMatchObject({ update: { files: 1 }, hits: [{ text: 'epsilon' }] });
  });
});
