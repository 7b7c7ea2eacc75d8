/** Runs the real CLI (bin/miyabi-orchestra) as a child process, the way an operator would. */
import { execa, type ResultPromise } from 'execa';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { waitFor } from './wait.ts';

export const repoRoot = resolve(import.meta.dirname, '../..');
export const cliPath = join(repoRoot, 'bin/miyabi-orchestra');

export function runCli(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
  return execa(cliPath, args, { cwd: options.cwd ?? repoRoot, env: options.env, reject: false, timeout: 60_000 });
}

/** Starts `up` in the background; the caller must stop it (SIGTERM) and await it. */
export function startUp(args: string[], options: { cwd?: string } = {}): ResultPromise {
  return execa(cliPath, ['up', ...args], { cwd: options.cwd ?? repoRoot, reject: false, timeout: 120_000 });
}

/**
 * Waits for `count` lines saying `msg` in the orchestra log under `dataDir`. A cheap gate before
 * asking the CLI: polled back to back, each CLI call is a Node process start, a core's worth of
 * them taken from the orchestra the test waits on.
 */
export async function waitLogged(dataDir: string, msg: string, count: number, timeoutMs: number): Promise<void> {
  const logged = async () => (await readFile(join(dataDir, 'logs', 'orchestra.log'), 'utf8').catch(() => '')).split(`"msg":"${msg}"`).length - 1;
  await waitFor(async () => (await logged()) >= count, { timeoutMs, intervalMs: 50, what: `${count} "${msg}" in the orchestra log` });
}

export interface TempDir {
  path: string;
  file(name: string, text: string): Promise<string>;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function tempDir(prefix = 'miyabi-test-'): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return {
    path,
    async file(name, text) {
      const filePath = join(path, name);
      await writeFile(filePath, text);
      return filePath;
    },
    async [Symbol.asyncDispose]() {
      await rm(path, { recursive: true, force: true });
    },
  };
}

/**
 * A config file in `dir` for a local backlog in `<dir>/issues` worked in `<dir>/repo` by the
 * example agents (codegen, review, pr) as plain processes; `extra` adds or replaces sections.
 */
export async function exampleAgentsConfig(dir: TempDir, socket: string, extra: Record<string, unknown> = {}): Promise<string> {
  const agent = (role: string) => ({ command: ['node', join(repoRoot, `examples/agents/${role}.mjs`)], min: 1 });
  return dir.file(
    'c.yaml',
    JSON.stringify({
      dataDir: join(dir.path, 'data'),
      http: { enabled: false },
      issues: { local: { dir: join(dir.path, 'issues'), pollIntervalMs: 500 } },
      panes: { backend: 'process', socket },
      workspace: { repo: join(dir.path, 'repo') },
      agents: { codegen: agent('codegen'), review: agent('review'), pr: agent('pr') },
      ...extra,
    }),
  );
}
