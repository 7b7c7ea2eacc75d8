/**
 * Data given to tmux stays data: titles are shown literally, argv, env and cwd reach the program
 * exactly, and nothing else runs (no PWNED file appears anywhere under the temp directory).
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paneTitleText } from '../../src/infra/tmux/args.ts';
import { TmuxServer } from '../../src/infra/tmux/client.ts';
import { waitFor } from '../support/wait.ts';
import { tmuxFixture, uniqueSocketName, type TmuxFixture } from './helpers.ts';

const session = 'inject';
let t: TmuxFixture;
let hostile: string[];

beforeAll(async () => {
  t = await tmuxFixture();
  const pwn = (tag: string) => path.join(t.dir, `PWNED-${tag}`);
  hostile = [
    `$(touch ${pwn('dollar')})`,
    `\`touch ${pwn('backtick')}\``,
    `#(touch ${pwn('format')})`,
    '#{pane_id} #{session_name} ##{x}',
    '#[fg=red,bg=blue]styled',
    `'; touch ${pwn('quote')}; '`,
    `"; touch ${pwn('dquote')}; "`,
    `x; touch ${pwn('semi')};`,
    ';',
    'trailing\\;',
    '$HOME ~ ~root %if #{?1,a,b}',
    '-t',
    '--',
    '{ kill-server }',
    ' ',
    'line one\nline two\r\n\ttab',
    'カエデ Kaede 🍁',
    'x'.repeat(2_000),
  ];
  await t.server.ensureSession(session, { cwd: t.dir });
});
afterAll(() => t.dispose());

describe('pane titles', () => {
  it('are stored as given (control characters as spaces) and nothing runs', async () => {
    const { paneId } = await t.server.spawnPane(session, { title: hostile[0]!, argv: ['sleep', '600'], cwd: t.dir });
    for (const title of hostile) {
      await t.server.setPaneTitle(paneId, title);
      expect((await t.server.paneInfo(paneId))?.title).toBe(paneTitleText(title));
    }
    expect(t.pwned()).toEqual([]);
  });

  it('are drawn literally in the pane border of an attached client', async () => {
    const titles = [
      `$(touch ${path.join(t.dir, 'PWNED-b')}) \`id\``,
      '#{pane_id} ##{x} #(id) #[fg=red]x "q" \'s\'',
    ];
    await t.server.run(['kill-pane', '-a', '-t', (await t.server.listPanes(session))[0]!.paneId]);
    for (const [index, title] of titles.entries()) {
      if (index === 0) await t.server.setPaneTitle((await t.server.listPanes(session))[0]!.paneId, title);
      else await t.server.spawnPane(session, { title, argv: ['sleep', '600'], cwd: t.dir });
    }
    // A person attaching: a real client inside a pane of a second private server, whose screen we read.
    const outer = new TmuxServer({ socketName: uniqueSocketName(), control: false });
    try {
      await outer.ensureSession('viewer', { cwd: t.dir, width: 220, height: 30 });
      const client = ['env', '-u', 'TMUX', 'tmux', '-L', t.socketName, 'attach-session', '-t', `=${session}`];
      const { paneId } = await outer.spawnPane('viewer', { title: 'viewer', argv: client, cwd: t.dir });
      await waitFor(
        async () => {
          const text = await outer.capturePane(paneId);
          return titles.every((title) => text.includes(title));
        },
        { what: 'both titles in the border' },
      );
    } finally {
      await outer.killServer();
    }
    expect(t.pwned()).toEqual([]);
  });
});

describe('pane commands', () => {
  it('get their argv exactly, with no shell in between', async () => {
    const out = path.join(t.dir, 'argv.json');
    const argv = hostile.filter((arg) => arg.length < 1_000).concat('', 'y'.repeat(8_000));
    const { pid } = await t.server.spawnPane(session, {
      title: 'argv',
      argv: ['node', t.recorder, ...argv],
      env: { MIYABI_TEST_OUT: out },
      cwd: t.dir,
    });
    const got = await t.recorded(out);
    expect(got.argv).toEqual(argv);
    expect(got.pid).toBe(pid);
    expect(got.ppid).toBe((await t.server.paneInfo((await t.server.listPanes(session)).at(-1)!.paneId))?.serverPid);
    expect(t.pwned()).toEqual([]);
  });

  it('get env values and a working directory exactly', async () => {
    const out = path.join(t.dir, 'env.json');
    const cwd = path.join(t.dir, `dir #{pane_id} $(touch PWNED-cwd) it's;`);
    await mkdir(cwd);
    const env = Object.fromEntries(hostile.map((value, index) => [`MIYABI_HOSTILE_${index}`, value]));
    const { paneId } = await t.server.spawnPane(session, {
      title: 'env',
      argv: ['node', t.recorder],
      env: { ...env, MIYABI_TEST_OUT: out },
      cwd,
    });
    const got = await t.recorded(out);
    for (const [name, value] of Object.entries(env)) expect(got.env[name]).toBe(value);
    expect(got.cwd).toBe(cwd);
    await t.server.respawnPane(paneId, { argv: ['node', t.recorder, 'respawned'], env: { ...env, MIYABI_TEST_OUT: `${out}.2` }, cwd });
    const again = await t.recorded(`${out}.2`);
    expect(again.argv).toEqual(['respawned']);
    expect(again.cwd).toBe(cwd);
    expect(again.env.MIYABI_HOSTILE_0).toBe(hostile[0]);
    expect(t.pwned()).toEqual([]);
  });

  it('run a lone program without parsing its path as shell text', async () => {
    const out = path.join(t.dir, 'lone.json');
    const program = path.join(t.dir, `lone $(touch PWNED-lone) 'x';`);
    await writeFile(program, `#!/bin/sh\nexec node ${JSON.stringify(t.recorder)} lone\n`);
    await chmod(program, 0o755);
    await t.server.spawnPane(session, { title: 'lone', argv: [program], env: { MIYABI_TEST_OUT: out }, cwd: t.dir });
    expect((await t.recorded(out)).argv).toEqual(['lone']);
    expect(t.pwned()).toEqual([]);
  });
});
