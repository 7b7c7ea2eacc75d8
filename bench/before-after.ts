/**
 * The DAG and dispatch benchmarks of the code before the restructuring of issue #17 (the workflow
 * as a supervisor over `dag`, `scheduler` and `lifecycles` actors, infra in packages, long files
 * split) beside the code of this checkout, in one run on one machine: `npm run bench --
 * before-after`.
 *
 * The old code is the tree of BEFORE (`MIYABI_BENCH_BEFORE` names another revision), written by
 * `git archive` into a temporary folder with this checkout's node_modules linked in: no git
 * worktree is registered, so an interrupted run leaves nothing in the repository. Each side's own
 * bench/dag.ts and bench/dispatch.ts run there, each in a fresh `node --import tsx` process, the
 * two sides alternated (before, after, after, before, …) so that a machine growing busier or
 * quieter during the run weighs on both alike. Each figure is the median of its ROUNDS runs; the
 * row's value is after / before, its note says both and which way is better. The raw JetStream
 * rows of the dispatch suite are a control: the code under them is the same on both sides, so
 * their ratio shows how far the run's noise goes.
 */
import { execa } from 'execa';
import { mkdtemp, realpath, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BenchRow } from './types.ts';

/** The last commit before the restructuring (2026-11-24): the workflow still one actor with its engines inside. */
const BEFORE = process.env.MIYABI_BENCH_BEFORE ?? '4b76f6d';
/** Runs of each suite on each side; even, so that the alternation puts each side first as often. */
const ROUNDS = 4;
const suites = [
  { file: 'dag.ts', run: 'benchDag' },
  { file: 'dispatch.ts', run: 'benchDispatch' },
] as const;

const here = resolve(import.meta.dirname, '..');

/** The rows of one suite, run in a fresh process from the tree at `root`. */
async function runSuite(root: string, suite: (typeof suites)[number]): Promise<BenchRow[]> {
  const script = [
    `const { ${suite.run} } = await import(${JSON.stringify(pathToFileURL(join(root, 'bench', suite.file)).href)});`,
    `process.stdout.write('\\n' + JSON.stringify(await ${suite.run}()));`,
  ].join('\n');
  const child = await execa(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root });
  return JSON.parse(child.stdout.split('\n').at(-1)!) as BenchRow[];
}

/** The tree of `revision`, in a temporary folder, with this checkout's packages. */
async function checkout(revision: string): Promise<{ root: string; commit: string; remove: () => Promise<void> }> {
  const commit = (await execa('git', ['rev-parse', '--short', `${revision}^{commit}`], { cwd: here })).stdout.trim();
  const root = await mkdtemp(join(tmpdir(), `miyabi-bench-${commit}-`));
  const remove = () => rm(root, { recursive: true, force: true });
  try {
    await execa('git', ['archive', '--format=tar', commit], { cwd: here }).pipe('tar', ['-x', '-C', root]);
    await symlink(await realpath(join(here, 'node_modules')), join(root, 'node_modules'));
  } catch (error) {
    await remove();
    throw error;
  }
  return { root, commit, remove };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Rates and the orchestra / raw ratio are better higher; times are better lower. */
function higherIsBetter(unit: string): boolean {
  return unit.endsWith('/s') || unit === '×';
}

function figure(value: number, unit: string): string {
  const digits = value >= 100 ? 0 : value >= 1 ? 2 : 3;
  return `${value.toFixed(digits)} ${unit}`;
}

export async function benchBeforeAfter(): Promise<BenchRow[]> {
  const before = await checkout(BEFORE);
  const after = (await execa('git', ['rev-parse', '--short', 'HEAD'], { cwd: here })).stdout.trim();
  try {
    const rows: BenchRow[] = [];
    for (const suite of suites) {
      const runs = { before: [] as BenchRow[][], after: [] as BenchRow[][] };
      for (let round = 0; round < ROUNDS; round += 1) {
        const order = round % 2 === 0 ? (['before', 'after'] as const) : (['after', 'before'] as const);
        for (const side of order) {
          process.stderr.write(`  ${suite.file} ${side} (${side === 'before' ? before.commit : 'this checkout'}), round ${round + 1} of ${ROUNDS}\n`);
          runs[side].push(await runSuite(side === 'before' ? before.root : here, suite));
        }
      }
      for (const row of runs.after[0]!) {
        const old = runs.before.map((run) => run.find((r) => r.name === row.name)?.value);
        if (old.some((value) => value === undefined)) continue; // a figure the old bench did not have
        const was = median(old as number[]);
        const now = median(runs.after.map((run) => run.find((r) => r.name === row.name)!.value));
        const control = row.name.startsWith('dispatch: raw JetStream') ? 'control, the same code on both sides: the run\'s noise; ' : '';
        rows.push({
          name: `${row.name}: after / before`,
          value: now / was,
          unit: '×',
          note: `${control}before ${figure(was, row.unit)}, after ${figure(now, row.unit)}; ${higherIsBetter(row.unit) ? 'higher' : 'lower'} is better`,
        });
      }
    }
    rows.push({
      name: 'before-after: the two sides',
      value: ROUNDS,
      unit: 'runs each',
      note: `before = ${before.commit} (git archive), after = ${after} with this checkout's changes; each figure the median of its runs, the sides alternated, each run a fresh process`,
    });
    return rows;
  } finally {
    await before.remove();
  }
}
