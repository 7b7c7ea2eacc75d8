/**
 * A full disk under the data directory, for real (issue #15): the orchestra's data directory on a
 * 64 MiB tmpfs of its own, a small backlog worked by the example agents, and mid-run a ballast
 * file that takes every last page (`ENOSPC` for the orchestrator's log, the nats-server's store,
 * the runners and the agents alike). The orchestra must ride it out: `up` never exits, the health
 * monitor tells the operator (a `disk_full` notice on the webhook), dispatch holds; and once the
 * ballast is gone, every issue is done, nothing lost or run twice, nothing left behind.
 *
 * Needs root or CAP_SYS_ADMIN (to mount the tmpfs): without it the test fails saying so.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HealthNotice } from '../../src/machines/health-notices.ts';
import { isAgentProgram, listProcesses } from '../support/processes.ts';
import { taskMarkers } from '../support/run-records.ts';
import { waitFor } from '../support/wait.ts';
import { fillWithBallast, freeBytes, mountTmpfs, removeBallast, unmountTmpfs } from './full-disk.ts';
import { duplicateEffects, duplicateRuns, leaks, lostIssues } from './invariants.ts';
import { issueFile, type PlannedIssue } from './plan.ts';
import { SupervisedUp } from './supervised-up.ts';

const MIB = 1024 * 1024;
const DISK_BYTES = 64 * MIB;
const MIN_FREE_BYTES = 8 * MIB;
// Two chains, one of them slow, so the disk fills while an agent is at work and work still waits.
const BACKLOG: PlannedIssue[] = [
  { number: 1, dependsOn: [], slow: true },
  { number: 2, dependsOn: [1], slow: false },
  { number: 3, dependsOn: [], slow: false },
  { number: 4, dependsOn: [3], slow: true },
];
const NUMBERS = BACKLOG.map((issue) => issue.number);

interface LogLine {
  msg: string;
  at: number;
  reason?: string;
}

describe('a full disk under the data directory', () => {
  let run: SupervisedUp | undefined;
  let mounted = false;
  const notices: HealthNotice[] = [];
  const lines: LogLine[] = [];
  const hook: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      notices.push(JSON.parse(body) as HealthNotice);
      res.end('ok');
    });
  });

  beforeAll(async () => {
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
    const { port } = hook.address() as AddressInfo;
    run = await SupervisedUp.create({
      name: 'full-disk',
      backend: 'tmux',
      env: { MIYABI_FULL_DISK_HOOK: `http://127.0.0.1:${port}/` },
      config: {
        health: { checkIntervalMs: 500, reportHeartbeatMs: 1000, minFreeDiskBytes: MIN_FREE_BYTES },
        // The streams' reservations fit a 64 MiB disk (nats-server reserves them against 75 % of its free space).
        bus: { ackWaitMs: 5000, maxBytes: { tasks: 4 * MIB, events: 4 * MIB, dlq: MIB, state: 4 * MIB, once: MIB, answers: MIB } },
        notify: { webhooks: [{ kind: 'json', urlEnv: 'MIYABI_FULL_DISK_HOOK' }], maxPerCheck: 20, retries: 0 },
      },
    });
    await mkdir(run.dataDir);
    await mountTmpfs(run.dataDir, DISK_BYTES);
    mounted = true;
  });

  afterAll(async () => {
    // Stopped before the unmount (nothing may hold the file system), the directory removed after it.
    await run?.dispose(true);
    if (run && mounted) await unmountTmpfs(run.dataDir);
    if (run) await rm(run.runDir, { recursive: true, force: true });
    await new Promise((resolve) => hook.close(resolve));
  }, 60_000);

  it('holds dispatch and reports disk_full while ENOSPC strikes, never crashes, and finishes every issue once when there is room again', { timeout: 120_000 }, async () => {
    const up = run!;
    for (const issue of BACKLOG) await writeFile(join(up.issuesDir, `${issue.number}.md`), issueFile(issue));
    up.onStdoutLine = (text) => {
      try {
        const line = JSON.parse(text) as { msg?: unknown; time?: unknown; reason?: unknown };
        if (typeof line.msg === 'string') lines.push({ msg: line.msg, at: Date.parse(String(line.time)), ...(typeof line.reason === 'string' ? { reason: line.reason } : {}) });
      } catch {
        // Not a log line (a stray print): not what this test reads.
      }
    };
    up.start();
    // Waits on `probe`, failing at once with what `up` said if it exits meanwhile: a crash is the failure to see.
    const until = async <T>(probe: () => T | undefined | false | Promise<T | undefined | false>, what: string, timeoutMs = 30_000): Promise<T> => {
      const outcome = await waitFor(
        async () => {
          const ended = await up.ended();
          if (ended !== undefined) return { ended };
          const value = await probe();
          return value === undefined || value === false ? undefined : { value };
        },
        { timeoutMs, intervalMs: 100, what },
      );
      if ('ended' in outcome) throw new Error(`waiting for ${what}: ${outcome.ended}`);
      return outcome.value;
    };

    // An agent at work: the disk fills under it.
    await until(async () => (await listProcesses()).some((info) => isAgentProgram(info, up.dataDir)), 'an agent at work');
    const ballast = join(up.dataDir, 'ballast');
    const fillingFrom = Date.now();
    const filled = await fillWithBallast(ballast);
    expect(filled).toBeGreaterThan(DISK_BYTES / 2);
    expect(await freeBytes(up.dataDir)).toBeLessThan(MIN_FREE_BYTES);

    // The operator is told, and no new work starts.
    const seen = (msg: string, after: number) => lines.find((line) => line.msg === msg && line.at >= after);
    await until(() => notices.some((notice) => notice.key === 'disk_full:dataDir' && !notice.resolved && notice.severity === 'critical'), 'a disk_full notice on the webhook');
    const paused = await until(() => seen('dispatch paused', fillingFrom), 'dispatch paused (stdout)');
    expect(paused.reason).toContain('health.minFreeDiskBytes');
    // Full until the work that was under way has met it: every agent that was at work has ended.
    await until(async () => !(await listProcesses()).some((info) => isAgentProgram(info, up.dataDir)), 'the agents at work to end', 60_000);

    // Room again: dispatch resumes, the problem is resolved, the backlog is worked to its end.
    await removeBallast(ballast);
    const emptiedAt = Date.now();
    await until(() => seen('dispatch resumed', emptiedAt), 'dispatch resumed (stdout)');
    await until(() => notices.some((notice) => notice.key === 'disk_full:dataDir' && notice.resolved), 'the disk_full notice resolved');
    const rows = await until(
      async () => {
        const shown = await up.issueRows();
        return shown !== undefined && NUMBERS.every((issue) => shown.some((row) => row.issue === issue && row.state === 'done')) && shown;
      },
      'every issue done',
      90_000,
    ).catch(async (error: unknown) => {
      throw new Error(`${String(error)}; issues: ${JSON.stringify(await up.issueRows())}`);
    });
    const kpiRun = await up.cli(['kpi', '--json']);
    await up.stop();

    // Not a crash: `up` never exited (an unhandled error would have ended it), and no actor crashed.
    // The faults a full disk may cause are the broker's: nats-server wedged by ENOSPC, restarted on
    // purpose once there is room (`nats_stalled`), and the bus reconnecting to it. Not required (a
    // nats-server that survived ENOSPC would need no restart); any other kind is a failure: an
    // actor that crashed, a runner that died or was blamed for the broker's silence.
    expect(up.restarts).toBe(0);
    expect(kpiRun.exitCode).toBe(0);
    const { mttr } = JSON.parse(kpiRun.stdout) as { mttr: { byFault: Record<string, unknown> } };
    expect(Object.keys(mttr.byFault).filter((fault) => fault !== 'nats_reconnect' && fault !== 'nats_stalled')).toEqual([]);
    // Held: nothing dispatched between the pause and the resume.
    const resumed = seen('dispatch resumed', emptiedAt)!;
    expect(lines.filter((line) => line.msg === 'stage dispatched' && line.at > paused.at && line.at < resumed.at)).toEqual([]);
    // Not lost, not released, not failed, not run twice, nothing left behind.
    expect(lines.filter((line) => line.msg === 'issue released')).toEqual([]);
    expect(lostIssues(NUMBERS, rows)).toEqual([]);
    expect(duplicateRuns(await taskMarkers(up.dataDir))).toEqual([]);
    expect(await duplicateEffects(up.dataDir, up.repo, NUMBERS)).toEqual([]);
    expect(await leaks({ runDir: up.runDir, dataDir: up.dataDir, repo: up.repo, socket: up.socket })).toEqual([]);
  });
});
