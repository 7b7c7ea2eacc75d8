/**
 * Issue-body parsing on bodies built to make a regular expression backtrack
 * (test/support/backtracking-bodies.ts): the time of each at 1 MiB and at 4 MiB, and how it grows.
 * A linear parse takes about 4× as long on a body 4× as long; a quadratic one about 16×. The
 * unit test checks what the parser finds in them; this is where linearity is shown.
 */
import { parseBodyDependencies } from '../src/issues/dependencies.ts';
import { backtrackingBodies } from '../test/support/backtracking-bodies.ts';
import type { BenchRow } from './types.ts';

const small = 2 ** 20;
const large = 4 * small;
const runs = 5;

/** The median time of `runs` parses of `body`, ms. */
function median(body: string): number {
  const times: number[] = [];
  for (let run = 0; run < runs; run += 1) {
    const begin = performance.now();
    parseBodyDependencies(body);
    times.push(performance.now() - begin);
  }
  return times.sort((a, b) => a - b)[Math.floor(runs / 2)]!;
}

export async function benchParse(): Promise<BenchRow[]> {
  const smallBodies = backtrackingBodies(small);
  const largeBodies = backtrackingBodies(large);
  // Warm the regexps (and the JIT) once before measuring.
  for (const body of smallBodies) median(body);
  const measured = smallBodies.map((body, index) => ({ index, small: median(body), large: median(largeBodies[index]!) }));
  const worst = measured.reduce((a, b) => (b.large / Math.max(b.small, 0.01) > a.large / Math.max(a.small, 0.01) ? b : a));
  return [
    { name: `parse ${measured.length} backtracking bodies of 1 MiB`, value: measured.reduce((sum, m) => sum + m.small, 0), unit: 'ms', note: `median of ${runs}, all bodies` },
    { name: `parse ${measured.length} backtracking bodies of 4 MiB`, value: measured.reduce((sum, m) => sum + m.large, 0), unit: 'ms', note: `median of ${runs}, all bodies` },
    {
      name: 'growth 1 → 4 MiB, slowest-growing body',
      value: worst.large / Math.max(worst.small, 0.01),
      unit: '×',
      note: `body ${worst.index} (${worst.small.toFixed(1)} → ${worst.large.toFixed(1)} ms); linear ≈ 4, quadratic ≈ 16`,
    },
    { name: 'slowest body at 4 MiB', value: Math.max(...measured.map((m) => m.large)), unit: 'ms', note: `median of ${runs}` },
  ];
}
