/**
 * `npm pack` makes a package that installs and works from a clean directory, as a user would
 * use it: the tarball holds the compiled bundles, the bin, the config, prompts, examples and
 * deploy files and nothing of the sources or tests; `npm install <tarball>` into an empty project
 * (offline: its dependencies are copied from this checkout's node_modules beforehand, as if they
 * were in npm's cache, since the machine may have no registry) gives a `miyabi-orchestra` that
 * runs `up --once` on a one-issue local backlog with the package's example agents to the end,
 * through the bundle (no TypeScript, no build step), and leaves no process behind.
 *
 * Packing, installing and working the issue take one to two minutes on a loaded 2-core machine:
 * that whole run is `npm run test:pack` (MIYABI_PACK_INSTALL=1). The default suite checks what the
 * package holds (`npm pack --dry-run`, after the suite's global build), which is what goes wrong.
 */
import { execa } from 'execa';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { cp, mkdir, readFile, realpath, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, tempDir, type TempDir } from '../support/cli.ts';

let dir: TempDir;
beforeAll(async () => {
  dir = await tempDir('miyabi-pack-');
});
afterAll(async () => {
  await dir?.[Symbol.asyncDispose]();
});

/** npm's own variables (set when the suite runs under `npm test`) would steer the inner npm. */
function cleanEnv(): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter(([name, value]) => value !== undefined && !/^npm_/i.test(name))) as Record<string, string>;
}

/** The checkout's production dependencies (package-lock.json), copied into `target` (real copies: npm writes there). */
async function copyProductionDependencies(target: string): Promise<void> {
  const lock = JSON.parse(await readFile(join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  const source = await realpath(join(repoRoot, 'node_modules'));
  const tops = Object.entries(lock.packages)
    .filter(([key, entry]) => key.startsWith('node_modules/') && !entry.dev && key.lastIndexOf('node_modules/') === 0)
    .map(([key]) => key.slice('node_modules/'.length));
  for (const name of tops) {
    if (existsSync(join(source, name))) await cp(join(source, name), join(target, name), { recursive: true, verbatimSymlinks: true });
  }
}

/** Processes whose command line names `path`: none may outlive the run. */
function processesUnder(path: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmdline.includes(path)) found.push(`${pid} ${cmdline}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

type PackManifest = { filename: string; files: Array<{ path: string }> };

/** The bundles (the console's script and style among them), the bin, the config and prompts, the examples and deploy files; no sources, tests or dot files. */
function expectPackageContents(manifest: PackManifest): void {
  const files = manifest.files.map((file) => file.path);
  for (const needed of ['bin/miyabi-orchestra', 'dist/miyabi-orchestra.mjs', 'dist/miyabi-runner.mjs', 'dist/console.js', 'dist/console.css', 'config/miyabi.yaml', 'config/prompts/codegen.md', 'examples/agents/codegen.mjs', 'examples/backlog/01-config-loader.md', 'deploy/miyabi-orchestra.service', 'package.json']) {
    expect(files, needed).toContain(needed);
  }
  expect(files.filter((file) => /^(src|test|bench|scripts|node_modules)\//.test(file) || file.startsWith('.'))).toEqual([]);
}

describe('npm pack', { timeout: 180_000 }, () => {
  it('holds what the package needs and nothing of the sources or tests', async () => {
    const packed = await execa('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: repoRoot, env: cleanEnv(), extendEnv: false, timeout: 60_000 });
    expectPackageContents((JSON.parse(packed.stdout) as PackManifest[])[0]!);
  });

  it.runIf(process.env.MIYABI_PACK_INSTALL === '1')('makes a package that installs offline and runs up --once from a clean directory', async () => {
    const packed = await execa('npm', ['pack', '--json', '--pack-destination', dir.path], { cwd: repoRoot, env: cleanEnv(), extendEnv: false, timeout: 60_000 });
    const [manifest] = JSON.parse(packed.stdout) as PackManifest[];
    expectPackageContents(manifest!);

    const app = join(dir.path, 'app');
    await mkdir(join(app, 'node_modules'), { recursive: true });
    await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'miyabi-user', private: true }));
    await copyProductionDependencies(join(app, 'node_modules'));
    const installed = await execa('npm', ['install', '--offline', '--omit=dev', '--no-audit', '--no-fund', join(dir.path, manifest!.filename)], {
      cwd: app,
      env: cleanEnv(),
      extendEnv: false,
      reject: false,
      timeout: 60_000,
    });
    expect(installed.exitCode, installed.stderr).toBe(0);
    const pkg = join(app, 'node_modules/miyabi-orchestra');
    expect(existsSync(join(pkg, 'dist/miyabi-orchestra.mjs'))).toBe(true);
    expect(existsSync(join(pkg, 'src'))).toBe(false);

    await mkdir(join(app, 'issues'));
    await writeFile(join(app, 'issues/1.md'), ['---', 'number: 1', 'title: Say hello', 'labels: [miyabi]', 'author: aiko', '---', 'Add a greeting.', ''].join('\n'));
    const agent = (role: string) => `  ${role}: { command: [node, "{packageRoot}/examples/agents/${role}.mjs"] }`;
    await writeFile(
      join(app, 'miyabi.yaml'),
      ['http: { enabled: false }', 'issues: { local: { dir: ./issues, pollIntervalMs: 500 } }', `panes: { backend: process, socket: miyabi-pack-${process.pid} }`, 'agents:', ...['codegen', 'review', 'pr'].map(agent), ''].join('\n'),
    );
    try {
      const up = await execa(join(app, 'node_modules/.bin/miyabi-orchestra'), ['up', '--once', '--config', 'miyabi.yaml'], {
        cwd: app,
        env: cleanEnv(),
        extendEnv: false,
        reject: false,
        timeout: 120_000,
      });
      expect(up.exitCode, `${up.stdout}\n${up.stderr}`).toBe(0);
      expect(up.stdout).toMatch(/#1\s+codegen → review → pr → merge\s+done/);
      expect(up.stdout).toContain('1 of 1 issue(s) done');
      // The daemon and its runners ran the bundles: nothing was compiled, no tsx was loaded.
      const log = await readFile(join(app, '.miyabi/logs/orchestra.log'), 'utf8');
      expect(log).not.toContain('runner bundle not built');
      expect(log).not.toContain('tsx');
      expect(processesUnder(dir.path)).toEqual([]);
    } finally {
      for (const line of processesUnder(dir.path)) process.kill(Number(line.split(' ')[0]), 'SIGKILL');
    }
  });
});
