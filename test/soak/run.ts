/**
 * `npm run soak -- [--duration 1h] [--issue-every 4s] [--fault-every 30s] [--sample-every 10s] [--seed S] [--backend tmux|process] [--keep]`:
 * a soak at the size asked for; exit 1 when a resource grows without bound or anything was lost,
 * duplicated or leaked (docs/SOAK.md).
 */
import { parseArgs } from 'node:util';
import { describeSoak, runSoak } from './soak.ts';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '1h' },
    'issue-every': { type: 'string', default: '4s' },
    'fault-every': { type: 'string', default: '30s' },
    'sample-every': { type: 'string', default: '10s' },
    drain: { type: 'string', default: '5m' },
    seed: { type: 'string' },
    backend: { type: 'string', default: 'tmux' },
    keep: { type: 'boolean', default: false },
  },
});

function duration(name: string, text: string): number {
  const match = /^(\d+)(s|m|h)$/.exec(text);
  if (!match) throw new Error(`--${name} ${JSON.stringify(text)}: a number with s, m or h (90s, 15m, 1h)`);
  return Number(match[1]) * { s: 1_000, m: 60_000, h: 3_600_000 }[match[2] as 's' | 'm' | 'h'];
}

if (values.backend !== 'tmux' && values.backend !== 'process') throw new Error(`--backend ${JSON.stringify(values.backend)}: tmux or process`);
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
if (!Number.isInteger(seed) || seed < 0) throw new Error(`--seed ${JSON.stringify(values.seed)}: a whole number`);
console.log(`soak seed ${seed}`);
const result = await runSoak({
  seed,
  durationMs: duration('duration', values.duration),
  issueEveryMs: duration('issue-every', values['issue-every']),
  faultEveryMs: duration('fault-every', values['fault-every']),
  sampleEveryMs: duration('sample-every', values['sample-every']),
  drainMs: duration('drain', values.drain),
  backend: values.backend,
  keep: values.keep,
  log: (line) => console.log(line),
});
console.log(describeSoak(result));
const failed = result.verdicts.some((verdict) => !verdict.ok) || result.lost.length + result.duplicated.length + result.leaked.length > 0;
process.exitCode = failed ? 1 : 0;
