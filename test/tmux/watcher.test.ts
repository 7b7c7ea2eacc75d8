import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PaneWatcher, type PaneDeath } from '../../src/infra/tmux/pane-watcher.ts';
import { deferred, waitFor } from '../support/wait.ts';
import { processesOnSocket, tmuxFixture, type TmuxFixture } from './helpers.ts';

const session = 'watched';
let t: TmuxFixture;
const watchers: PaneWatcher[] = [];

beforeAll(async () => {
  t = await tmuxFixture();
  await t.server.ensureSession(session, { cwd: t.dir });
});
afterEach(async () => {
  await Promise.all(watchers.splice(0).map((watcher) => watcher.stop()));
});
afterAll(() => t.dispose());

function watch(options: { intervalMs?: number; hook?: boolean } = {}) {
  const deaths: PaneDeath[] = [];
  const errors: unknown[] = [];
  let notify: (() => void) | undefined;
  const watcher = new PaneWatcher({
    server: t.server,
    session,
    intervalMs: options.intervalMs ?? 20,
    hook: options.hook,
    onDeath: (death) => {
      deaths.push(death);
      notify?.();
    },
    onError: (error) => errors.push(error),
  });
  watchers.push(watcher);
  watcher.start();
  /** Resolves with the death of `pid` once it is reported. */
  const deathOf = (pid: number) =>
    waitFor(() => deaths.find((death) => death.pid === pid), { what: `death of ${pid}`, timeoutMs: 5_000 });
  const next = () => {
    const seen = deferred();
    notify = () => seen.resolve();
    return seen.promise;
  };
  return { watcher, deaths, errors, deathOf, next };
}

const sleeper = () => ({ title: 'sleeper', argv: ['sleep', '600'], cwd: t.dir });

describe('PaneWatcher', () => {
  it('reports a kill -9 once, with the signal', async () => {
    const { paneId, pid } = await t.server.spawnPane(session, sleeper());
    const { deaths, deathOf, watcher, errors } = watch();
    process.kill(pid, 'SIGKILL');
    const death = await deathOf(pid);
    expect(death.paneId).toBe(paneId);
    // tmux knows the signal, or (a lost SIGCHLD) the zombie's /proc entry does
    expect(death).toMatchObject({ signal: 9, exitCode: null });
    expect(['tmux', 'proc']).toContain(death.statusFrom);
    await watcher.poll();
    await watcher.poll();
    expect(deaths.filter((d) => d.paneId === paneId)).toHaveLength(1);
    expect((await t.server.paneInfo(paneId))?.dead).toBe(true);
    expect(errors).toEqual([]);
    await t.server.killPane(paneId);
  });

  it('reports an exit code', async () => {
    const out = path.join(t.dir, 'exit.json');
    const { deathOf } = watch();
    const { pid } = await t.server.spawnPane(session, {
      title: 'exits 3',
      argv: ['node', t.recorder],
      env: { MIYABI_TEST_OUT: out, MIYABI_TEST_EXIT: '3' },
      cwd: t.dir,
    });
    expect(await deathOf(pid)).toMatchObject({ exitCode: 3, signal: null });
  });

  it('reports a pane killed with `tmux kill-pane` once, without a status', async () => {
    const { paneId, pid } = await t.server.spawnPane(session, sleeper());
    const { deaths, deathOf, watcher, errors } = watch();
    // Seen alive first: a pane it never saw is not its to report.
    await watcher.poll();
    await t.server.run(['kill-pane', '-t', paneId]);
    expect(await deathOf(pid)).toEqual({ paneId, pid, exitCode: null, signal: null, statusFrom: 'gone' });
    await watcher.poll();
    expect(deaths.filter((d) => d.paneId === paneId)).toHaveLength(1);
    expect(errors).toEqual([]);
  });

  it('reports every death of 50 rapid crash/respawn cycles exactly once; each respawn has a new pid', async () => {
    const { paneId, pid: first } = await t.server.spawnPane(session, sleeper());
    const { deaths, deathOf, watcher } = watch({ intervalMs: 10 });
    const pids = [first];
    for (let cycle = 0; cycle < 50; cycle++) {
      const pid = pids.at(-1)!;
      process.kill(pid, 'SIGKILL');
      await deathOf(pid);
      const respawned = await t.server.respawnPane(paneId, { argv: ['sleep', '600'], cwd: t.dir });
      expect(pids).not.toContain(respawned.pid);
      pids.push(respawned.pid);
    }
    await watcher.poll();
    const ours = deaths.filter((death) => death.paneId === paneId);
    expect(ours.map((death) => death.pid)).toEqual(pids.slice(0, 50));
    expect(ours.every((death) => death.signal === 9)).toBe(true);
  });

  it('polls through a new control client after the old one is killed', async () => {
    const control = t.server.controlClient!;
    await t.server.listPanes(session);
    const before = { pid: control.pid!, connections: control.connections };
    const { deathOf } = watch();
    process.kill(before.pid, 'SIGKILL');
    await waitFor(() => control.connections > before.connections && control.pid !== undefined, {
      what: 'a new control client',
    });
    expect(control.pid).not.toBe(before.pid);
    expect(processesOnSocket(t.socketName)).not.toContain(before.pid);
    const { pid } = await t.server.spawnPane(session, sleeper());
    process.kill(pid, 'SIGKILL');
    await deathOf(pid);
  });

  it('falls back to the CLI when no control client can attach', async () => {
    const { TmuxServer } = await import('../../src/infra/tmux/client.ts');
    const cli = new TmuxServer({ socketName: t.socketName, control: false });
    const { pid } = await cli.spawnPane(session, sleeper());
    const panes = await cli.listPanes(session);
    expect(panes.map((pane) => pane.pid)).toContain(pid);
    expect(cli.controlClient).toBeUndefined();
  });

  it('is woken by the pane-died hook between polls', { timeout: 120_000 }, async () => {
    const spawned = await Promise.all(Array.from({ length: 10 }, () => t.server.spawnPane(session, sleeper())));
    const { watcher, next } = watch({ intervalMs: 600_000 });
    await watcher.poll(); // the first poll has run and armed the hook
    await waitFor(async () => (await t.server.run(['show-hooks', '-w', '-t', `=${session}:`])).includes('wait-for'));
    await waitFor(() => processesOnSocket(t.socketName).length >= 3, { what: 'the wait-for client' });
    // On tmux 3.3a a death's hook sometimes comes only with the server's next SIGCHLD (seen here:
    // one death in five to ten under load; its pane reads dead at once, the hook fires at the next
    // death). So one of ten deaths (one at a time: two signals on a channel nobody waits on cancel
    // out) is enough to show the wake-up; each is given 8 s, far below the 600 s poll.
    let woken = false;
    for (const { pid } of spawned) {
      const reported = next();
      process.kill(pid, 'SIGKILL');
      const deadline = new Promise<boolean>((resolve) => setTimeout(resolve, 8_000, false).unref());
      woken = await Promise.race([reported.then(() => true), deadline]);
      if (woken) break;
    }
    expect(woken).toBe(true);
  });

  it('stops: no timer, no waiting client, the hook removed', async () => {
    const { watcher } = watch({ intervalMs: 20 });
    await watcher.poll();
    await waitFor(() => processesOnSocket(t.socketName).length >= 3, { what: 'the wait-for client' });
    await watcher.stop();
    expect(await t.server.run(['show-hooks', '-w', '-t', `=${session}:`])).not.toContain('wait-for');
    const clients = processesOnSocket(t.socketName);
    expect(clients).toHaveLength(2); // the server and the control client
  });
});
