/**
 * The workflow's own actors — `dag`, `scheduler` and `lifecycles` — killed in turn mid-backlog
 * (fault injection over NATS, as the operator): each kill restarts the three (`one_for_all`),
 * rebuilt from KV, and the backlog still completes with every side effect once.
 */
import { connect, nkeyAuthenticator } from '@nats-io/transport-node';
import { execa } from 'execa';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliPath, repoRoot, tempDir } from '../support/cli.ts';
import { backlogConfig, CRASH_BACKLOG_WORKED, dispatchedSoFar, expectEachSideEffectOnce } from '../support/crash-backlog.ts';
import { waitFor } from '../support/wait.ts';

const dir = await tempDir('miyabi-crash-actors-');
const socket = `miyabi-crash-actors-${process.pid}`;
afterAll(async () => {
  await execa('tmux', ['-L', socket, 'kill-server'], { reject: false });
  await dir[Symbol.asyncDispose]();
});

describe('kill of the workflow actors mid-backlog', () => {
  it('survives the dag, the scheduler and the lifecycles actors killed in turn: all three restart, every issue done once', async () => {
    const dataDir = join(dir.path, 'actors');
    const config = await backlogConfig(dir, socket, 'actors', dataDir);
    const run = execa(cliPath, ['up', '--once', '--config', config], {
      cwd: repoRoot,
      reject: false,
      timeout: 150_000,
      env: { MIYABI_FAULT_INJECTION: '1' },
    });
    const runFile = await waitFor(
      async () => JSON.parse(await readFile(join(dataDir, 'orchestra.json'), 'utf8')) as { natsUrl: string },
      { timeoutMs: 60_000, what: 'the run file' },
    );
    // As the operator: the bus is locked, and only the operator's identity may ask for a fault.
    const operator = (await readFile(join(dataDir, 'secrets', 'nats', 'operator.nk'), 'utf8')).trim();
    const nc = await connect({ servers: runFile.natsUrl, authenticator: nkeyAuthenticator(new TextEncoder().encode(operator)) });
    try {
      let killAt = 0;
      for (const actor of ['dag', 'scheduler', 'lifecycles']) {
        killAt = (await dispatchedSoFar(dataDir)) + 3;
        await waitFor(async () => (await dispatchedSoFar(dataDir)) >= killAt, { timeoutMs: 60_000, what: `${killAt} stages dispatched` });
        const reply = (await nc.request('miyabi.control.fault', JSON.stringify({ kill: `core/workflow/${actor}` }), { timeout: 5_000 })).json();
        expect(reply).toEqual({ ok: true, path: `core/workflow/${actor}` });
      }
    } finally {
      await nc.close();
    }
    const done = await run;
    expect(done.exitCode, done.stderr.slice(-2000)).toBe(0);
    expect(done.stdout).toContain(`${CRASH_BACKLOG_WORKED.length} of ${CRASH_BACKLOG_WORKED.length} issue(s) done`);
    await expectEachSideEffectOnce(dataDir);
    // Each kill restarted all three, in start order (one_for_all).
    const log = (await readFile(join(dataDir, 'logs', 'orchestra.log'), 'utf8')).split('\n').filter(Boolean).map((line) => JSON.parse(line) as { msg: string; actorId?: string; supervisor?: string });
    for (const child of ['dag', 'scheduler', 'lifecycles']) {
      const restarts = log.filter((line) => line.msg === 'restarting actor' && line.supervisor === 'workflow' && line.actorId === child);
      expect(restarts.length, `restarts of ${child}`).toBe(3);
    }
  }, 200_000);
});
