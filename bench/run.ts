/**
 * `npm run bench`: runs every benchmark, prints one table, and writes it to docs/BENCHMARKS.md
 * with the machine it ran on. Compare ratios within one run; absolute times drift on shared machines.
 */
import { execa } from 'execa';
import { writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { benchBus } from './bus.ts';
import { benchDag } from './dag.ts';
import { benchDispatch } from './dispatch.ts';
import { benchOrchestra } from './orchestra.ts';
import { benchPanes } from './panes.ts';
import { benchSupervisor } from './supervisor.ts';
import type { BenchRow } from './types.ts';

const suites: Array<[string, () => Promise<BenchRow[]>]> = [
  ['bus', benchBus],
  ['supervisor', benchSupervisor],
  ['orchestra', benchOrchestra],
  ['panes', benchPanes],
  ['dag', benchDag],
  ['dispatch', benchDispatch],
];

function format(value: number): string {
  if (value >= 100) return value.toFixed(0);
  if (value >= 1) return value.toFixed(2);
  return value.toFixed(3);
}

async function machine(): Promise<string[]> {
  const nats = await execa('nats-server', ['--version'], { reject: false });
  return [
    `- date: ${new Date().toISOString()}`,
    `- cpu: ${cpus()[0]?.model ?? 'unknown'} × ${cpus().length}`,
    `- memory: ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `- node: ${process.version}, nats-server: ${nats.stdout.trim() || 'unknown'}`,
  ];
}

const only = process.argv.slice(2);
const rows: BenchRow[] = [];
for (const [name, run] of suites) {
  if (only.length > 0 && !only.includes(name)) continue;
  process.stderr.write(`running ${name} benchmarks…\n`);
  rows.push(...(await run()));
}
const table = [
  '| benchmark | value | unit | note |',
  '| --- | ---: | --- | --- |',
  ...rows.map((row) => `| ${row.name} | ${format(row.value)} | ${row.unit} | ${row.note ?? ''} |`),
];
process.stdout.write(`${table.join('\n')}\n`);
const document = [
  '# Benchmarks',
  '',
  'Written by `npm run bench`. The machines are shared and noisy: compare the ratios measured in one',
  'run (our path against raw JetStream on the same server), not absolute times across runs.',
  '',
  '## Machine',
  '',
  ...(await machine()),
  '',
  '## Results',
  '',
  ...table,
  '',
];
await writeFile(resolve(import.meta.dirname, '../docs/BENCHMARKS.md'), document.join('\n'));
process.stderr.write('wrote docs/BENCHMARKS.md\n');
