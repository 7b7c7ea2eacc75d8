/**
 * `npm run chaos -- [--issues N] [--faults N] [--seed S] [--duration T] [--backend tmux|process] [--tracker local|github] [--full-disk] [--keep]`:
 * a chaos run at the size asked for (default: 40 issues, 20 faults, 15 minutes at most, local
 * issues; `--tracker github`: on the fake GitHub, its faults in the schedule too; `--full-disk`:
 * the data directory on a tmpfs of its own, needing root, and a full disk in the schedule too), its
 * plan printed first so a failure can be replayed with the same seed. Exit 1 when anything was
 * lost, duplicated or leaked.
 */
import { parseArgs } from 'node:util';
import { describeResult, runChaos } from './chaos.ts';

const { values } = parseArgs({
  options: {
    issues: { type: 'string', default: '40' },
    faults: { type: 'string', default: '20' },
    seed: { type: 'string' },
    duration: { type: 'string', default: '15m' },
    backend: { type: 'string', default: 'tmux' },
    tracker: { type: 'string', default: 'local' },
    keep: { type: 'boolean', default: false },
    'full-disk': { type: 'boolean', default: false },
  },
});

function duration(text: string): number {
  const match = /^(\d+)(s|m|h)$/.exec(text);
  if (!match) throw new Error(`--duration ${JSON.stringify(text)}: a number with s, m or h (90s, 15m, 1h)`);
  return Number(match[1]) * { s: 1_000, m: 60_000, h: 3_600_000 }[match[2] as 's' | 'm' | 'h'];
}

function count(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} ${JSON.stringify(text)}: a whole number`);
  return value;
}

if (values.backend !== 'tmux' && values.backend !== 'process') throw new Error(`--backend ${JSON.stringify(values.backend)}: tmux or process`);
if (values.tracker !== 'local' && values.tracker !== 'github') throw new Error(`--tracker ${JSON.stringify(values.tracker)}: local or github`);
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : count('seed', values.seed);
const result = await runChaos({
  seed,
  issues: count('issues', values.issues),
  faults: count('faults', values.faults),
  durationMs: duration(values.duration),
  backend: values.backend,
  tracker: values.tracker,
  keep: values.keep,
  fullDisk: values['full-disk'],
  log: (line) => console.log(line),
});
console.log(describeResult(result));
if (values.keep) console.log(`run directory kept: ${result.runDir}`);
process.exitCode = result.lost.length + result.duplicated.length + result.leaked.length === 0 ? 0 : 1;
