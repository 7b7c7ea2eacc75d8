/**
 * Untrusted text is inert wherever it is shown: a title (or a reason quoting one) with newlines,
 * ANSI escapes and a right-to-left override prints as one line of visible escapes in the
 * `up --once` summary (and `issues`), in `up`'s progress lines on the console, in the log's
 * JSON lines, in the local tracker's Markdown views, in `dag show`'s graphs (Mermaid, DOT, JSON),
 * in the daily and weekly reports (and what `report` prints) and in `bus tail`'s lines. It
 * cannot add a row, a heading, or clear the terminal. What `report` prints is redacted too. And
 * end to end: `up --once` (the real CLI) on a local backlog whose issue has such a title, and an
 * agent that quotes it in its failure.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { tailLine } from '../../src/cli/commands/bus.ts';
import { reportText } from '../../src/cli/commands/report.ts';
import { progressStream } from '../../src/cli/commands/up.ts';
import { renderSummary } from '../../src/cli/output.ts';
import { createEnvelope, encodeEnvelope } from '../../src/infra/bus/envelope.ts';
import { createLogger, REDACTED } from '../../src/infra/observe/logger.ts';
import { textRedactor } from '../../src/infra/observe/redact.ts';
import { DependencyGraph, renderGraph } from '../../src/machines/dag.ts';
import { renderComment, type CommentContext } from '../../src/workflow/comments.ts';
import { renderReport } from '../../src/workflow/report-render.ts';
import { inert } from '../../src/inert-text.ts';
import { LocalIssueSource } from '../../src/issues/local-source.ts';
import type { SummaryRow } from '../../src/workflow/summary.ts';
import { exampleAgentsConfig, repoRoot, runCli, tempDir, type TempDir } from '../support/cli.ts';
import { gitRepo } from '../support/orchestra.ts';
import { oneFailureReport } from '../support/reports.ts';

const EVIL = 'Fix it\n#2  codegen  done  1  0.1s  -  forged row\x1b[2J\x1b[31mred\u202eevil\r';
/** EVIL with what JSON leaves raw: a C1 CSI and a bidi isolate. */
const EVIL_IN_JSON = `${EVIL}\u009b2J\u2067`;
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
      `---\nnumber: 1\ntitle: "${yamlTitle}"\nlabels: [miyabi, "x\\ny"]\ncomments:\n  - author: "eve\\n### orchestra"\n    body: \"hi\\e[2J\\u202e\"\n---\nBody.\n`,
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
      // A comment's body keeps its lines, nothing else raw.
      expect(view).toContain('hi\\x1b[2J\\u202e');
      expect(view).not.toMatch(raw);
    } finally {
      await source.close();
    }
  });
});

describe('inert text: the graph, the reports, the bus', () => {
  const graph = new DependencyGraph();
  graph.setNode(1, []);
  graph.setNode(2, [1]);
  const labels = (id: number) => (id === 1 ? EVIL_IN_JSON : 'pending');

  it("`dag show`: a title is one label on one line in Mermaid and DOT, and the JSON is the same JSON", () => {
    for (const format of ['mermaid', 'dot'] as const) {
      const text = renderGraph(graph, format, labels);
      expect(text, format).not.toMatch(raw);
      expect(text, format).not.toMatch(/[\u2066-\u2069]/);
      // No line of its own for what followed the newline: the label's line holds it all.
      expect(text.split('\n').filter((line) => line.includes('forged row')), format).toHaveLength(1);
      expect(text, format).toContain('red');
    }
    expect(renderGraph(graph, 'mermaid', labels)).toContain('n1["#1 Fix it\\n#35;2  codegen');
    expect(renderGraph(graph, 'dot', labels)).toContain('label="#1 Fix it\\\\n#2  codegen  done  1  0.1s  -  forged row\\\\x1b[2J');
    const json = renderGraph(graph, 'json', labels);
    expect(json).not.toMatch(raw);
    expect(json).not.toMatch(/[\u2066-\u2069]/);
    expect((JSON.parse(json) as { nodes: Array<{ label: string }> }).nodes[0]!.label).toBe(EVIL_IN_JSON);
  });

  it('the reports: titles and reasons inert in the Markdown; what `report` prints redacted and inert, as Markdown and as JSON', () => {
    const secret = 'sk-report-inert-0a1b2c3d4e';
    const report = oneFailureReport({ title: EVIL_IN_JSON, taskReason: `refused ${secret}: ${EVIL_IN_JSON}`, reason: `gave up ${EVIL_IN_JSON}` });
    const markdown = renderReport(report);
    expect(markdown).not.toMatch(raw);
    expect(markdown).not.toMatch(/[\u2066-\u2069]/);
    expect(markdown).toMatch(/^ {2}- #7 Fix it #2 .*\\x1b\[2J\\x1b\[31mred\\u202eevil .*— gave up Fix it$/m);
    const redact = textRedactor([secret]);
    for (const format of ['md', 'json'] as const) {
      const printed = reportText(report, format, redact);
      expect(printed, format).not.toContain(secret);
      expect(printed, format).toContain(REDACTED);
      expect(printed, format).not.toMatch(raw);
      expect(printed, format).not.toMatch(/[\u2066-\u2069]/);
    }
    expect((JSON.parse(reportText(report, 'json', redact)) as typeof report).issues.failed[0]!.title).toBe(EVIL_IN_JSON);
  });

  it('`bus tail`: an envelope, a heartbeat and bytes that are no envelope, each one line with nothing raw', () => {
    const envelope = createEnvelope({ sender: `orchestrator${EVIL}`, incarnation: 'i', seq: 3, type: 'issue.observed\x1b[2J', payload: { title: EVIL_IN_JSON } });
    const lines = [
      tailLine({ subject: 'miyabi.events.issue.1', data: encodeEnvelope(envelope), envelope }, 'T'),
      tailLine({ subject: 'miyabi.heartbeat.codegen.codegen-1', data: new TextEncoder().encode(EVIL_IN_JSON) }, 'T'),
      tailLine({ subject: 'miyabi.events.x', data: new TextEncoder().encode(EVIL_IN_JSON), error: `bad\n${EVIL}` }, 'T'),
    ];
    for (const line of lines) {
      expect(line.endsWith('\n')).toBe(true);
      expect(line.slice(0, -1)).not.toMatch(raw);
      expect(line).not.toMatch(/[\u2066-\u2069]/);
      expect(line.slice(0, -1).split('\n')).toHaveLength(1);
    }
    expect(lines[0]).toMatch(/^T miyabi\.events\.issue\.1 issue\.observed\\x1b\[2J orchestratorFix it\\n#2 .*#3 \{"title":/);
    // The payload is the same JSON: parsed back, the title is as it was.
    expect((JSON.parse(lines[0]!.slice(lines[0]!.indexOf('{'))) as { title: string }).title).toBe(EVIL_IN_JSON);
  });
});

describe("inert text: the orchestra's comments", () => {
  it("an agent's reason, summary, question and output lines are shown inert; the comment's own lines stay", () => {
    const context = { record: { number: 1 }, route: ['codegen'], priority: 2, branch: 'b', stages: [{ stage: 'codegen', summary: EVIL_IN_JSON }], logTail: [EVIL_IN_JSON, 'ok\tdone'] } as unknown as CommentContext;
    const comments = (['failed', 'needs_input', 'done', 'blocked'] as const).map((kind) => renderComment({ kind, key: 'k', reason: EVIL_IN_JSON }, context));
    for (const comment of comments) {
      expect(comment).not.toMatch(raw);
      expect(comment).not.toMatch(/[\u2066-\u2069]/);
      expect(comment).toContain('\\x1b[2J\\x1b[31mred\\u202eevil');
    }
    // The output keeps its lines and tabs inside the fence; the quoted question its lines.
    expect(comments[0]).toContain('```text\nFix it\n#2  codegen');
    expect(comments[0]).toContain('ok\tdone\n```');
    expect(comments[1]).toContain('> Fix it\n> #2  codegen');
  });
});

describe('inert text end to end: up --once on a hostile title', { timeout: 90_000 }, () => {
  it('prints the summary, the progress and the failure, and writes the tracker, with the title inert', async () => {
    const dir = await tempDir('miyabi-inert-up-');
    dirs.push(dir);
    await mkdir(join(dir.path, 'issues'));
    await mkdir(join(dir.path, 'repo'));
    await gitRepo(join(dir.path, 'repo'));
    // YAML's double-quoted escapes: ESC, a right-to-left override, a C1 CSI, then a newline and a forged heading.
    await writeFile(join(dir.path, 'issues', '1.md'), '---\nnumber: 1\ntitle: "Fix \\e[2J\\e[31mred\\u202eevil\\x9b2J it\\n# #2: forged heading\\u2067"\nlabels: [miyabi, "type:docs"]\n---\nBody.\n');
    const quoting = { command: ['node', join(repoRoot, 'test/security/fixtures/quoting-agent.mjs')], min: 1 };
    const config = await exampleAgentsConfig(dir, `miyabi-inert-${process.pid}`, {
      agents: { codegen: quoting, review: quoting, pr: quoting },
      workflow: { retry: { maxAttempts: 1 } },
    });
    const run = await runCli(['up', '--once', '--config', config]);
    expect(run.exitCode, run.stderr.slice(-2000)).toBe(1);
    const view = await readFile(join(dir.path, 'data', 'tracker', 'issue-1.md'), 'utf8');
    for (const [where, text] of [['stdout', run.stdout], ['stderr', run.stderr], ['tracker', view]] as const) {
      expect(text, where).not.toMatch(raw);
      expect(text, where).not.toMatch(/[\u2066-\u2069]/);
      expect(text.split('\n').filter((line) => /^#+ #2: forged heading/.test(line)), where).toEqual([]);
    }
    // The row and the note: each one line, the title's escapes shown.
    expect(run.stdout).toMatch(/^#1 +codegen → pr → merge +failed .* Fix \\x1b\[2J\\x1b\[31mred\\u202eevil\\x9b2J it\\n# #2/m);
    expect(run.stdout.split('\n').filter((line) => line.startsWith('#'))).toHaveLength(2);
    expect(run.stdout).toMatch(/^#1 failed: .*cannot do Fix \\x1b\[2J\\x1b\[31mred\\u202eevil\\x9b2J it/m);
    expect(view.split('\n')[0]).toBe('# #1: Fix \\x1b[2J\\x1b[31mred\\u202eevil\\x9b2J it\\n# #2: forged heading\\u2067');
  });
});
