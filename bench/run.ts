/**
 * `npm run bench`: runs every benchmark, prints one table, and writes it to docs/BENCHMARKS.md
 * with the machine it ran on. Compare ratios within one run; absolute times drift on shared machines.
 */
import { execa } from 'execa';
import { readFile, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { benchBeforeAfter } from './before-after.ts';
import { benchBrokerLoss } from './broker-loss.ts';
import { benchBus } from './bus.ts';
import { benchDag } from './dag.ts';
import { benchDispatch } from './dispatch.ts';
import { benchHandoff } from './handoff.ts';
import { benchInspection } from './inspection.ts';
import { benchLogs } from './logs.ts';
import { benchOrchestra } from './orchestra.ts';
import { benchPanes } from './panes.ts';
import { benchParse } from './parse.ts';
import { benchRestart } from './restart.ts';
import { benchScale } from './scale.ts';
import { benchSupervisor } from './supervisor.ts';
import { benchUtilization } from './utilization.ts';
import type { BenchRow } from './types.ts';

const suites: Array<[string, () => Promise<BenchRow[]>]> = [
  ['bus', benchBus],
  ['supervisor', benchSupervisor],
  ['orchestra', benchOrchestra],
  ['broker-loss', benchBrokerLoss],
  ['panes', benchPanes],
  ['dag', benchDag],
  ['dispatch', benchDispatch],
  ['inspection', benchInspection],
  ['handoff', benchHandoff],
  ['utilization', benchUtilization],
  // 50 runners, then 20 in tmux: minutes.
  ['scale', benchScale],
  ['parse', benchParse],
  // A restart on 1,000 and 10,000 finished issues (issue #18): a minute or two.
  ['restart', benchRestart],
  // Writes and indexes 256 MiB of logs (MIYABI_BENCH_LOG_MB=1024 for the full gigabyte): minutes.
  ['logs', benchLogs],
  // The old code beside the current, DAG and dispatch (issue #17): minutes, so last.
  ['before-after', benchBeforeAfter],
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
const unknown = only.filter((name) => !suites.some(([suite]) => suite === name));
if (unknown.length > 0) {
  process.stderr.write(`unknown suite(s) ${unknown.join(', ')}; known: ${suites.map(([name]) => name).join(', ')}\n`);
  process.exit(2);
}
const target = resolve(import.meta.dirname, '../docs/BENCHMARKS.md');
// A run of some suites replaces their sections and keeps the others' (each says when it ran).
const sections = await previousSections(target);
for (const [name, run] of suites) {
  if (only.length > 0 && !only.includes(name)) continue;
  process.stderr.write(`running ${name} benchmarks…\n`);
  const rows = await run();
  const table = [
    '| benchmark | value | unit | note |',
    '| --- | ---: | --- | --- |',
    ...rows.map((row) => `| ${row.name} | ${format(row.value)} | ${row.unit} | ${row.note ?? ''} |`),
  ];
  process.stdout.write(`${table.join('\n')}\n`);
  sections.set(name, [`### ${name}`, '', `Run ${new Date().toISOString()} on the machine above.`, '', ...table].join('\n'));
}
const document = [
  '# Benchmarks',
  '',
  'Written by `npm run bench` (`npm run bench -- <suite> …` runs some suites and keeps the other',
  'sections). The machines are shared and noisy: compare the ratios measured in one run (our path',
  'against raw JetStream or a floor on the same server), not absolute times across runs. The',
  '`before-after` section runs the DAG and dispatch suites of the code before the restructuring of',
  'issue #17 (4b76f6d) beside those of this checkout, alternated in the same run (bench/before-after.ts).',
  '',
  '## Machine (of the last run)',
  '',
  ...(await machine()),
  '',
  '## Results',
  '',
  ...suites.flatMap(([name]) => (sections.has(name) ? [sections.get(name)!, ''] : [])),
];
await writeFile(target, document.join('\n'));
process.stderr.write('wrote docs/BENCHMARKS.md\n');

/** The sections of the existing file, by suite (`### <suite>`); none when it has the older one-table form. */
async function previousSections(file: string): Promise<Map<string, string>> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const sections = new Map<string, string>();
  for (const part of text.split(/^(?=### )/m).slice(1)) {
    const name = /^### (\S+)/.exec(part)?.[1];
    if (name) sections.set(name, part.trimEnd());
  }
  return sections;
}
