/**
 * `report` against a running orchestra (a small backlog worked by the example agents), and the
 * orchestra's own schedule: with cron expressions firing every second, the last complete day and
 * week are posted on the local tracker issue and to a webhook (a real HTTP listener) once, and a
 * restart in between posts nothing again. Also: a bad cron expression in config.
 */
import { execa } from 'execa';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trackerDirOf } from '../../src/config/paths.ts';
import { loadConfig } from '../../src/config/load.ts';
import { LocalIssueSource } from '../../src/issues/local-source.ts';
import type { Report } from '../../src/workflow/report.ts';
import { lastCompletePeriod, periodOf } from '../../src/workflow/report-period.ts';
import { exampleAgentsConfig, runCli, startUp, tempDir, waitLogged } from '../support/cli.ts';
import { localBacklog } from '../support/orchestra.ts';
import { waitFor } from '../support/wait.ts';

const dir = await tempDir('miyabi-report-cli-');
const socket = `miyabi-report-${process.pid}`;
const received: Array<{ title?: string; text?: string; key?: string }> = [];
/** The reports among what the webhook received (the health monitor's notices go there too). */
const hooks = (keys: string[]) => received.filter((hook) => keys.includes(hook.key ?? ''));
let server: Server;
beforeAll(async () => {
  server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      received.push(JSON.parse(body) as (typeof received)[number]);
      response.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.env.MIYABI_TEST_REPORT_HOOK = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
});
afterAll(async () => {
  delete process.env.MIYABI_TEST_REPORT_HOOK;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await execa('tmux', ['-L', socket, 'kill-server'], { reject: false });
  await dir[Symbol.asyncDispose]();
});

describe('report: bad input', { timeout: 60_000 }, () => {
  it('config check names a bad cron expression, time zone or catch-up window', async () => {
    const cases: Array<[string, string, RegExp]> = [
      ['cron', 'reports:\n  daily: "61 * * * *"\n', /^reports\.daily: not a cron expression croner accepts .*minute/m],
      ['weekly', 'reports:\n  weekly: "every monday"\n', /^reports\.weekly: not a cron expression/m],
      ['zone', 'reports:\n  timeZone: Mars/Olympus\n', /^reports\.timeZone: not an IANA time zone/m],
      ['catch-up', 'reports:\n  catchUpMs: 700000000\n', /^reports\.catchUpMs: at most 518400000/m],
    ];
    for (const [name, text, expected] of cases) {
      const result = await runCli(['config', 'check', '--config', await dir.file(`${name}.yaml`, `issues:\n  local:\n    dir: ${dir.path}\n${text}`)]);
      expect({ name, exitCode: result.exitCode }).toEqual({ name, exitCode: 2 });
      expect(result.stderr).toMatch(expected);
    }
  });

  it('exits 2 naming a bad --period or --format', async () => {
    const config = join(dir.path, 'absent.yaml');
    expect(await runCli(['report', '--period', 'hourly', '--config', config])).toMatchObject({ exitCode: 2, stderr: expect.stringContaining('--period "hourly": expected daily or weekly') });
    expect(await runCli(['report', '--format', 'pdf', '--config', config])).toMatchObject({ exitCode: 2, stderr: expect.stringContaining('--format "pdf": expected md or json') });
  });
});

describe('report on a running orchestra, and its schedule', { timeout: 300_000 }, () => {
  it('reports what the backlog did, and posts each period once across a restart', async () => {
    await localBacklog(dir, [1, 2], '[miyabi, "type:docs"]');
    const issues = join(dir.path, 'issues');
    // The issue the reports are posted on: no trigger label, so no agent works on it.
    await writeFile(join(issues, '9.md'), '---\nnumber: 9\ntitle: Reports\nlabels: []\n---\n');
    const config = await exampleAgentsConfig(dir, socket, {
      health: { checkIntervalMs: 1000, reportHeartbeatMs: 1000 },
      notify: { webhooks: [{ kind: 'json', urlEnv: 'MIYABI_TEST_REPORT_HOOK' }], retries: 0 },
      reports: { daily: '* * * * * *', weekly: '* * * * * *', timeZone: 'Asia/Tokyo', issue: 9 },
    });
    const loaded = await loadConfig(config);
    const tracker = new LocalIssueSource({ dir: issues, trackerDir: trackerDirOf(loaded.config) });
    const daily = lastCompletePeriod('daily', Date.now(), 'Asia/Tokyo');
    const weekly = lastCompletePeriod('weekly', Date.now(), 'Asia/Tokyo');
    const scheduled = [daily.key, weekly.key];
    const reportComments = async (keys = scheduled) => (await tracker.listComments(9)).filter((comment) => keys.includes(comment.key ?? ''));
    const log = join(loaded.config.dataDir, 'logs', 'orchestra.log');
    const logged = async (message: string) => (await readFile(log, 'utf8').catch(() => '')).split('\n').filter((line) => line.includes(message)).length;
    const alreadyPosted = () => logged('report already posted for this period');

    const up = startUp(['--config', config]);
    try {
      const done = async () => {
        const shown = await runCli(['issues', '--json', '--config', config]);
        const rows = shown.exitCode === 0 ? (JSON.parse(shown.stdout) as Array<{ issue: number; state: string }>) : [];
        return rows.filter((row) => row.issue !== 9).length === 2 && rows.every((row) => row.issue === 9 || row.state === 'done');
      };
      await waitLogged(loaded.config.dataDir, 'issue done', 2, 150_000);
      await waitFor(done, { timeoutMs: 150_000, what: 'two issues done' });
      const report = async () => {
        const shown = await runCli(['report', '--period', 'daily', '--format', 'json', '--config', config]);
        expect(shown.exitCode, shown.stderr).toBe(0);
        return JSON.parse(shown.stdout) as Report;
      };
      await waitFor(async () => (await report()).issues.done.length === 2, { timeoutMs: 30_000, what: 'two issue.finished on the bus' });
      const today = await report();
      expect(today.period).toMatchObject({ kind: 'daily', timeZone: 'Asia/Tokyo', complete: false });
      expect(today.issues.done.map((issue) => [issue.number, issue.title])).toEqual([[1, 'Docs 1'], [2, 'Docs 2']]);
      expect(today.issues.failed).toEqual([]);
      expect(today.kpis.throughput).toMatchObject({ done: 2, failed: 0 });
      expect(today.kpis.successRate).toMatchObject({ issues: 1, tasksNormal: 4, tasksTotal: 4 });
      expect(today.slowestStages.map((stage) => stage.stage).sort()).toEqual(['codegen', 'codegen', 'pr', 'pr']);
      // The example agents report no cost.
      expect(today.cost).toBeNull();
      // The budget ledger counts their wall-clock all the same, per role, durably.
      expect(today.budget).toMatchObject({ timeZone: 'UTC', byRole: { codegen: { tasks: 2, usd: 0 }, pr: { tasks: 2, usd: 0 } }, total: { tasks: 4 } });
      expect(today.budget!.byRole.codegen!.wallClockMs).toBeGreaterThan(0);
      expect(today.empty).toBe(false);
      const markdown = await runCli(['report', '--period', 'weekly', '--config', config]);
      expect(markdown.exitCode).toBe(0);
      expect(markdown.stdout).toMatch(/^- done: 2$/m);
      expect(markdown.stdout).toContain('Not reported: no agent result of this period carried a cost.');
      expect(markdown.stdout).toMatch(/^### Budget spend \(the budget ledger, budget days? [-\d]+.*, UTC\)$/m);
      expect(markdown.stdout).toMatch(/^\| codegen \| 2 \| 0\.00 \| /m);

      // An empty period (the day before the last complete one: nothing ran then) is an honest empty report.
      const before = new Date(daily.since - 12 * 3_600_000).toISOString();
      const empty = await runCli(['report', '--period', 'daily', '--at', before, '--config', config]);
      expect(empty.exitCode, empty.stderr).toBe(0);
      expect(empty.stdout).toContain('**No activity in this period**');

      // The schedule: the last complete day and week, posted on issue 9 and to the webhook.
      await waitFor(async () => (await reportComments()).length === 2 && hooks(scheduled).length === 2, { timeoutMs: 30_000, what: 'the scheduled reports posted' });
      expect((await reportComments()).map((comment) => comment.key).sort()).toEqual([daily.key, weekly.key].sort());
      expect(hooks(scheduled).map((hook) => hook.key).sort()).toEqual([daily.key, weekly.key].sort());
      expect(hooks(scheduled).find((hook) => hook.key === daily.key)?.text).toContain('**No activity in this period**');
      // By hand: the day before, posted on the tracker once however often it is asked, and to the webhook each time.
      const dayBefore = periodOf('daily', daily.since - 12 * 3_600_000, 'Asia/Tokyo');
      for (let ask = 0; ask < 2; ask += 1) {
        const posted = await runCli(['report', '--period', 'daily', '--at', dayBefore.start, '--post', '--config', config]);
        expect(posted.exitCode, posted.stderr).toBe(0);
        expect(posted.stderr).toContain(`report posted (issue #9, key ${dayBefore.key})`);
      }
      expect(await reportComments([dayBefore.key])).toHaveLength(1);
      expect(hooks([dayBefore.key])).toHaveLength(2);

      // Each firing after that finds its period posted.
      await waitFor(async () => (await alreadyPosted()) >= 2, { timeoutMs: 30_000, what: 'a firing after the post' });
    } finally {
      up.kill('SIGTERM');
      await up;
    }

    const firingsBefore = await alreadyPosted();
    const again = startUp(['--config', config]);
    try {
      // Started in full (a signal before that would end it without its clean stop).
      await waitFor(async () => (await logged('"orchestra running"')) >= 2, { timeoutMs: 60_000, what: 'the orchestra running again' });
      // Several firings (and the catch-up at start) after the restart: the periods are posted already.
      await waitFor(async () => (await alreadyPosted()) >= firingsBefore + 4, { timeoutMs: 60_000, what: 'firings after the restart' });
    } finally {
      again.kill('SIGTERM');
      await again;
    }
    expect((await reportComments()).map((comment) => comment.key).sort()).toEqual([daily.key, weekly.key].sort());
    expect(hooks(scheduled)).toHaveLength(2);
    await tracker.close();
  });
});
