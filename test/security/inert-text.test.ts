/**
 * Untrusted text is inert wherever it is shown: a title (or a reason quoting one) with newlines,
 * ANSI escapes and a right-to-left override prints as one line of visible escapes in the
 * `up --once` summary (and `issues`), in `up`'s progress lines on the console, in the log's
 * JSON lines, and in the local tracker's Markdown views. It cannot add a row, a heading, or
 * clear the terminal.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { progressStream } from '../../src/cli/commands/up.ts';
import { renderSummary } from '../../src/cli/output.ts';
import { createLogger } from '../../src/infra/observe/logger.ts';
import { inert } from '../../src/issues/text.ts';
import { LocalIssueSource } from '../../src/issues/local-source.ts';
import type { SummaryRow } from '../../src/workflow/summary.ts';
import { tempDir, type TempDir } from '../support/cli.ts';

const EVIL = 'Fix it\n#2  codegen  done  1  0.1s  -  forged row\x1b[2J\x1b[31mred\u202eevil\r';
const dirs: TempDir[] = [];
afterAll(async () => {
  for (const dir of dirs) await dir[Symbol.asyncDispose]();
});

const row = (issue: number, title: string, extra: Partial<SummaryRow> = {}): SummaryRow => ({
  issue,
  title,
  route: 'codegen',
  state: 'done',
  reason: undefined,
  attempts: 1,
  durationMs: 100,
  pullRequest: undefined,
  merged: undefined,
  ...extra,
});

/** No raw control character, escape or bidi override left. */
const raw = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/;

describe('inert text', () => {
  it('escapes what would break a line or reach the terminal, and leaves the rest as written', () => {
    expect(inert('a\nb\r\tc\x1b[31md\u202ee\u0000')).toBe('a\\nb\\r\\tc\\x1b[31md\\u202ee\\x00');
    expect(inert('Émoji 🎼 and 日本語, `code` <b>')).toBe('Émoji 🎼 and 日本語, `code` <b>');
  });

  it('the summary: one line per issue, whatever its title or reason holds', () => {
    const text = renderSummary([row(1, EVIL), row(3, 'Plain', { state: 'failed', reason: `gave up:\n${EVIL}` })]);
    const lines = text.split('\n');
    // header, two rows, blank, footer, blank, one note, end
    expect(lines).toHaveLength(8);
    expect(lines[1]).toMatch(/^#1 .*Fix it\\n#2/);
    expect(lines[2]).toMatch(/^#3 /);
    expect(lines[6]).toMatch(/^#3 failed: gave up:\\nFix it\\n#2/);
    expect(text).not.toMatch(raw);
  });

  it("the console: `up`'s progress lines are one line each", () => {
    const out: string[] = [];
    const stream = progressStream({ write: (chunk: string) => out.push(chunk) } as unknown as NodeJS.WritableStream);
    const logger = pino({ level: 'info', timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } }, stream);
    logger.warn({ issue: 1, reason: EVIL }, 'issue failed');
    expect(out).toHaveLength(1);
    expect(out[0]!.trimEnd().split('\n')).toHaveLength(1);
    expect(out[0]).toContain('reason=Fix it\\n#2');
    expect(out[0]!.trimEnd()).not.toMatch(raw);
  });

  it("the log: one JSON line, nothing raw a terminal would obey, and the title as it was once parsed", () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', stdout: { write: (line: string) => void lines.push(line) } });
    const title = `${EVIL}\u009b2J\u2067`;
    logger.info({ issue: 1, title }, 'issue observed');
    expect(lines).toHaveLength(1);
    expect(lines[0]!.trimEnd().split('\n')).toHaveLength(1);
    expect(lines[0]!.trimEnd()).not.toMatch(raw);
    expect(lines[0]).not.toMatch(/[\u2066-\u2069]/);
    expect(JSON.parse(lines[0]!).title).toBe(title);
  });

  it("the local tracker's views: the heading is one line, the labels and names too", async () => {
    const dir = await tempDir('miyabi-inert-');
    dirs.push(dir);
    const issues = join(dir.path, 'issues');
    const trackerDir = join(dir.path, 'tracker');
    await mkdir(issues);
    // YAML's double-quoted escapes: a newline, an ESC, a right-to-left override.
    const yamlTitle = 'Fix it\\n# #2: forged heading\\e[2J\\u202eevil';
    await writeFile(
      join(issues, '1.md'),
      `---\nnumber: 1\ntitle: "${yamlTitle}"\nlabels: [miyabi, "x\\ny"]\ncomments:\n  - author: "eve\\n### orchestra"\n    body: hi\n---\nBody.\n`,
    );
    const source = new LocalIssueSource({ dir: issues, trackerDir, logger: pino({ level: 'silent' }) });
    try {
      expect((await source.get(1))?.title).toContain('\n# #2');
      await source.comment(1, 'issue-1.g1.started', 'Started.');
      const view = await readFile(join(trackerDir, 'issue-1.md'), 'utf8');
      const lines = view.split('\n');
      expect(lines[0]).toBe('# #1: Fix it\\n# #2: forged heading\\x1b[2J\\u202eevil');
      expect(lines[1]).toBe('');
      expect(lines.filter((line) => line.startsWith('# '))).toHaveLength(1);
      expect(view).toContain('`x\\ny`');
      expect(view).toContain('### eve\\n### orchestra (in the issue file)');
      expect(view).not.toMatch(raw);
    } finally {
      await source.close();
    }
  });
});
