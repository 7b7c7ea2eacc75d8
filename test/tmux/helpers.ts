/**
 * A private tmux server per test file (`tmux -L miyabi-test-<random>`), a temp directory, and a
 * program that records how it was started (argv, env, cwd) as JSON, to check that data given to
 * tmux reaches the program exactly.
 *
 *   const t = await tmuxFixture();
 *   afterAll(() => t.dispose());
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TmuxServer } from '../../src/infra/tmux/client.ts';
import { waitFor } from '../support/wait.ts';

export interface Recorded {
  argv: string[];
  env: Record<string, string | undefined>;
  cwd: string;
  pid: number;
  ppid: number;
}

export interface TmuxFixture {
  server: TmuxServer;
  socketName: string;
  /** A temp directory: panes' cwd, and where hostile payloads would leave a PWNED file. */
  dir: string;
  /** `node <recorder>` writes what it got to `$MIYABI_TEST_OUT`, then waits (or exits with `$MIYABI_TEST_EXIT`). */
  recorder: string;
  /** Waits for the recorder's JSON at `file`. */
  recorded(file: string): Promise<Recorded>;
  /** Files named PWNED… anywhere under `dir` (what a payload that ran would leave). */
  pwned(): string[];
  dispose(): Promise<void>;
}

const recorderSource = `
const fs = require('node:fs');
fs.writeFileSync(process.env.MIYABI_TEST_OUT + '.tmp', JSON.stringify({
  argv: process.argv.slice(2), env: process.env, cwd: process.cwd(), pid: process.pid, ppid: process.ppid,
}));
fs.renameSync(process.env.MIYABI_TEST_OUT + '.tmp', process.env.MIYABI_TEST_OUT);
if (process.env.MIYABI_TEST_EXIT !== undefined) process.exit(Number(process.env.MIYABI_TEST_EXIT));
setInterval(() => {}, 1 << 30);
`;

export function uniqueSocketName(): string {
  return `miyabi-test-${randomBytes(6).toString('hex')}`;
}

export async function tmuxFixture(options: { control?: boolean } = {}): Promise<TmuxFixture> {
  const dir = await mkdtemp(path.join(tmpdir(), 'miyabi-tmux-'));
  const recorder = path.join(dir, 'recorder.cjs');
  await writeFile(recorder, recorderSource);
  await chmod(recorder, 0o755);
  const socketName = uniqueSocketName();
  const server = new TmuxServer({ socketName, control: options.control });
  return {
    server,
    socketName,
    dir,
    recorder,
    async recorded(file) {
      return JSON.parse(await waitFor(() => existsSync(file) && readFile(file, 'utf8'), { what: file })) as Recorded;
    },
    pwned() {
      return (readdirSync(dir, { recursive: true }) as string[]).filter((name) => path.basename(name).startsWith('PWNED'));
    },
    async dispose() {
      await server.killServer();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Processes whose command line names this socket (the server, clients, control clients). */
export function processesOnSocket(socketName: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      const state = readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]?.[0];
      if (cmdline.includes(socketName) && state !== 'Z') pids.push(Number(entry));
    } catch {
      // ended while we looked
    }
  }
  return pids;
}
