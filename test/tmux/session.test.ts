import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TmuxServer } from '../../src/infra/tmux/client.ts';
import { waitFor } from '../support/wait.ts';
import { processesOnSocket, tmuxFixture, uniqueSocketName, type TmuxFixture } from './helpers.ts';

const session = 'miyabi-orchestra';
const agents = ['conductor', 'kaede', 'sakura', 'tsubaki', 'botan'];
let t: TmuxFixture;

beforeAll(async () => {
  t = await tmuxFixture();
});
afterAll(() => t.dispose());

describe('a session of five panes', () => {
  it('is created once, detached, with its options', async () => {
    expect(await t.server.ensureSession(session, { cwd: t.dir, width: 160, height: 48 })).toEqual({ created: true });
    expect(await t.server.ensureSession(session, { cwd: t.dir })).toEqual({ created: false });
    const show = (args: string[]) => t.server.run(['show-options', '-v', ...args]).then((out) => out.trim());
    expect(await show(['-g', '-w', 'remain-on-exit'])).toBe('on');
    expect(await show(['-g', '-w', 'pane-border-status'])).toBe('top');
    expect(await show(['-g', '-w', 'pane-border-format'])).toContain('#{q/h:pane_title}');
    expect(await show(['-t', `=${session}:`, 'status'])).toBe('on');
    const panes = await t.server.listPanes(session);
    expect(panes).toHaveLength(1);
    expect(panes[0]?.placeholder).toBe(true);
  });

  it('runs five programs in five tiled panes, the first in the placeholder', async () => {
    const spawned = await Promise.all(
      agents.map((name) =>
        t.server.spawnPane(session, {
          title: `${name} · idle`,
          argv: ['node', t.recorder, name],
          env: { MIYABI_TEST_OUT: path.join(t.dir, `${name}.json`) },
          cwd: t.dir,
        }),
      ),
    );
    expect(new Set(spawned.map((pane) => pane.paneId)).size).toBe(5);
    const panes = await t.server.listPanes(session);
    expect(panes.map((pane) => pane.paneId).sort()).toEqual(spawned.map((pane) => pane.paneId).sort());
    expect(panes.every((pane) => !pane.placeholder && !pane.dead)).toBe(true);
    expect(panes.map((pane) => pane.title).sort()).toEqual(
      ['botan · idle', 'conductor · idle', 'kaede · idle', 'sakura · idle', 'tsubaki · idle'],
    );
    for (const [index, name] of agents.entries()) {
      expect((await t.recorded(path.join(t.dir, `${name}.json`))).pid).toBe(spawned[index]?.pid);
    }
    // tiled: every pane gets a real share of the 160 × 48 window
    const sizes = (await t.server.run(['list-panes', '-t', `=${session}:`, '-F', '#{pane_width} #{pane_height}']))
      .trim()
      .split('\n')
      .map((line) => line.split(' ').map(Number));
    expect(sizes.every(([width = 0, height = 0]) => width >= 40 && height >= 10)).toBe(true);
  });

  it('respawns a pane with a new process', async () => {
    const [pane] = await t.server.listPanes(session);
    const out = path.join(t.dir, 'respawned.json');
    const respawned = await t.server.respawnPane(pane!.paneId, {
      argv: ['node', t.recorder, 'again'],
      env: { MIYABI_TEST_OUT: out },
      cwd: t.dir,
    });
    expect(respawned.pid).not.toBe(pane!.pid);
    const got = await t.recorded(out);
    expect(got).toMatchObject({ argv: ['again'], pid: respawned.pid });
    expect((await t.server.paneInfo(pane!.paneId))?.pid).toBe(respawned.pid);
  });

  it('kills panes; the last one becomes the placeholder and the session stays', async () => {
    const panes = await t.server.listPanes(session);
    for (const pane of panes) await t.server.killPane(pane.paneId);
    const left = await t.server.listPanes(session);
    expect(left).toHaveLength(1);
    expect(left[0]?.placeholder).toBe(true);
    expect(await t.server.paneInfo(panes[0]!.paneId)).toBeUndefined();
    await t.server.killPane(panes[0]!.paneId); // gone already: no-op
    const next = await t.server.spawnPane(session, { title: 'again', argv: ['sleep', '600'], cwd: t.dir });
    expect(next.paneId).toBe(left[0]?.paneId);
  });

  it('captures what a pane shows', async () => {
    const { paneId } = await t.server.spawnPane(session, {
      title: 'echo',
      argv: ['sh', '-c', 'echo hello from the pane; exec sleep 600'],
      cwd: t.dir,
    });
    await waitFor(async () => (await t.server.capturePane(paneId)).includes('hello from the pane'));
  });
});

describe('killServer', () => {
  it('leaves no tmux process and no socket behind', async () => {
    const socketName = uniqueSocketName();
    const server = new TmuxServer({ socketName });
    await server.ensureSession('s', { cwd: t.dir });
    await server.spawnPane('s', { title: 'x', argv: ['sleep', '600'], cwd: t.dir });
    await server.listPanes('s'); // the control client is attached
    expect(server.controlClient?.pid).toBeGreaterThan(0);
    expect(processesOnSocket(socketName).length).toBeGreaterThanOrEqual(2);
    await server.killServer();
    expect(processesOnSocket(socketName)).toEqual([]);
    expect(existsSync(path.join(tmpdir(), `tmux-${process.getuid?.() ?? 0}`, socketName))).toBe(false);
    expect(await server.hasSession('s')).toBe(false);
    await server.killServer(); // no server: no-op
  });

  it('reports a clear error for a session that does not exist', async () => {
    await expect(t.server.listPanes('no-such-session')).rejects.toMatchObject({ code: 'tmux_command_failed' });
    await expect(t.server.ensureSession('bad name', { cwd: t.dir })).rejects.toMatchObject({ code: 'invalid_argument' });
  });
});
