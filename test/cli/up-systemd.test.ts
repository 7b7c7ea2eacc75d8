/**
 * `up` as systemd runs it (`Type=notify`, `WatchdogSec=`): the real CLI with `NOTIFY_SOCKET`
 * and `WATCHDOG_USEC` set, a real unix datagram socket standing in for systemd. READY=1 comes
 * only once the tree is up (the run file is written before it, and `/readyz` answers), STATUS
 * lines come before it, WATCHDOG=1 pings follow, and SIGTERM brings STOPPING=1 before the exit.
 */
import { execa } from 'execa';
import { access, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath, repoRoot, tempDir, type TempDir } from '../support/cli.ts';
import { notifyListener, type NotifyListener } from '../support/notify-socket.ts';
import { gitRepo } from '../support/orchestra.ts';

let dir: TempDir;
let listener: NotifyListener;
let repo: string;
beforeAll(async () => {
  dir = await tempDir('miyabi-sd-');
  listener = await notifyListener(dir.path);
  repo = join(dir.path, 'target');
  await mkdir(repo);
  await gitRepo(repo);
});
afterAll(async () => {
  await listener.close();
  await dir[Symbol.asyncDispose]();
});

describe('up under systemd (Type=notify)', { timeout: 120_000 }, () => {
  it('says READY=1 after the tree is up, pings the watchdog, and says STOPPING=1 on SIGTERM', async () => {
    const dataDir = join(dir.path, 'data');
    const config = await dir.file(
      'up.yaml',
      [`dataDir: ${dataDir}`, 'http:', '  port: 0', 'panes:', '  backend: process', 'workspace:', `  repo: ${repo}`, ''].join('\n'),
    );
    const up = execa(cliPath, ['up', '--config', config], {
      cwd: repoRoot,
      reject: false,
      timeout: 120_000,
      env: { NOTIFY_SOCKET: listener.path, WATCHDOG_USEC: '1000000' },
    });
    try {
      const [ready] = await listener.waitFor('READY=1', 1, 60_000);
      // When READY=1 arrives the tree is up: the run file exists and the orchestra says it is ready.
      await access(join(dataDir, 'orchestra.json'));
      const run = JSON.parse(await readFile(join(dataDir, 'orchestra.json'), 'utf8')) as { pid: number; httpUrl: string };
      expect(run.pid).toBe(up.pid);
      expect((await fetch(`${run.httpUrl}/readyz`)).status).toBe(200);
      expect(ready!.join('\n')).toContain(`STATUS=running: pid ${up.pid}`);

      const before = listener.messages.slice(0, listener.messages.indexOf(ready!)).map((message) => message.join(' '));
      expect(before).toContain('STATUS=reading the configuration');
      expect(before).toContain('STATUS=starting the supervisor tree');
      for (const child of ['nats-server', 'bus', 'control', 'core', 'agents']) expect(before).toContain(`STATUS=started ${child}`);
      expect(before.some((line) => line.includes('WATCHDOG=1')), 'no ping before READY=1').toBe(false);

      await listener.waitFor('WATCHDOG=1', 2);
      up.kill('SIGTERM');
      const result = await up;
      expect(result.exitCode).toBe(0);
      const lines = listener.messages.map((message) => message.join(' '));
      const stopping = lines.findIndex((line) => line.startsWith('STOPPING=1'));
      expect(lines[stopping]).toBe('STOPPING=1 STATUS=stopping: SIGTERM');
      expect(lines.slice(stopping)).not.toContain('WATCHDOG=1');
      expect(lines.at(-1)).toBe('STATUS=stopped');
    } finally {
      if (up.exitCode === null) up.kill('SIGKILL');
      await up;
    }
  });
});
