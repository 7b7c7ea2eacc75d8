/** RSS of the idle orchestra: the real CLI on the embedded default, measured once it runs. */
import { execa } from 'execa';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { BenchRow } from './types.ts';

const root = resolve(import.meta.dirname, '..');

async function rssKb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

export async function benchOrchestra(): Promise<BenchRow[]> {
  const dir = await mkdtemp(join(tmpdir(), 'miyabi-bench-'));
  const config = join(dir, 'bench.yaml');
  await writeFile(config, `dataDir: ${join(dir, 'data')}\nhttp:\n  port: 0\nlog:\n  level: warn\npanes:\n  socket: miyabi-bench-${process.pid}\nworkspace:\n  repo: ${root}\n`);
  const up = execa(join(root, 'bin/miyabi-orchestra'), ['up', '--config', config], { reject: false });
  try {
    const runFile = join(dir, 'data/orchestra.json');
    const deadline = Date.now() + 60_000;
    for (;;) {
      const ready = await readFile(runFile, 'utf8').then(() => true, () => false);
      if (ready) break;
      if (Date.now() > deadline) throw new Error('orchestra did not start within 60 s');
      await new Promise((done) => setTimeout(done, 100));
    }
    // let start-up garbage settle before reading the idle footprint
    await new Promise((done) => setTimeout(done, 3_000));
    const orchestraKb = await rssKb(up.pid!);
    const bare = execa(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { reject: false });
    await new Promise((done) => setTimeout(done, 500));
    const bareKb = await rssKb(bare.pid!);
    bare.kill('SIGKILL');
    await bare;
    return [
      { name: 'orchestra: RSS idle (embedded default, compiled)', value: orchestraKb / 1024, unit: 'MiB' },
      { name: 'orchestra: RSS of a bare node process, same run', value: bareKb / 1024, unit: 'MiB', note: 'floor' },
    ];
  } finally {
    up.kill('SIGTERM');
    await up;
    await rm(dir, { recursive: true, force: true });
  }
}
