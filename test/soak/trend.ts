/**
 * Does a resource grow without bound over a soak? Pure judgements over the samples
 * (docs/SOAK.md):
 *
 * - a **flat** resource (memory, fds, processes, panes, worktrees) must not trend: the Theil–Sen
 *   slope (the median of the slopes between every two samples: one GC spike or one busy moment
 *   moves it little) over the samples after the warm-up, times the length of that stretch, must
 *   stay within `tolerance` of the stretch's median plus an absolute `slack`;
 * - a **per-issue** resource (KV keys, stream bytes, the data directory) may grow with the work
 *   kept for retention, but its growth per finished issue must stay under a bound.
 */

export interface Sample {
  /** Milliseconds since the soak began. */
  at: number;
  values: Record<string, number>;
}

export interface FlatRule {
  kind: 'flat';
  /** Allowed growth over the judged stretch, as a share of its median (0.25: a quarter). */
  tolerance: number;
  /** Allowed growth in the resource's own unit on top (a few fds, a few MB). */
  slack: number;
}

export interface PerIssueRule {
  kind: 'per-issue';
  /** Allowed growth per finished issue, in the resource's unit. */
  bound: number;
}

export type TrendRule = FlatRule | PerIssueRule;

export interface Verdict {
  name: string;
  ok: boolean;
  detail: string;
}

/** The share of the soak left out at the start: pools filling, caches warming, the first issues arriving. */
export const WARM_UP_SHARE = 0.25;

export function theilSenSlope(points: ReadonlyArray<readonly [number, number]>): number {
  const slopes: number[] = [];
  for (let i = 0; i < points.length; i += 1) {
    for (let j = i + 1; j < points.length; j += 1) {
      const dx = points[j]![0] - points[i]![0];
      if (dx !== 0) slopes.push((points[j]![1] - points[i]![1]) / dx);
    }
  }
  return median(slopes);
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function judgeFlat(name: string, samples: readonly Sample[], rule: FlatRule): Verdict {
  const judged = samples.slice(Math.floor(samples.length * WARM_UP_SHARE));
  const points = judged.flatMap((sample) => (name in sample.values ? [[sample.at, sample.values[name]!] as const] : []));
  if (points.length < 3) return { name, ok: false, detail: `${points.length} samples after the warm-up: too few to judge` };
  const span = points.at(-1)![0] - points[0]![0];
  const growth = theilSenSlope(points) * span;
  const typical = median(points.map(([, value]) => value));
  const allowed = rule.tolerance * typical + rule.slack;
  const detail = `growth ${round(growth)} over ${(span / 1000).toFixed(0)} s (median ${round(typical)}, allowed ${round(allowed)})`;
  return { name, ok: growth <= allowed, detail };
}

export function judgePerIssue(name: string, samples: readonly Sample[], issuesFinished: number, rule: PerIssueRule): Verdict {
  const values = samples.flatMap((sample) => (name in sample.values ? [sample.values[name]!] : []));
  if (values.length < 2 || issuesFinished === 0) return { name, ok: false, detail: `${values.length} samples, ${issuesFinished} issues finished: nothing to judge` };
  const perIssue = (values.at(-1)! - values[0]!) / issuesFinished;
  return { name, ok: perIssue <= rule.bound, detail: `${round(perIssue)} per finished issue (bound ${round(rule.bound)}) over ${issuesFinished} issues` };
}

export function judgeAll(samples: readonly Sample[], rules: Readonly<Record<string, TrendRule>>, issuesFinished: number): Verdict[] {
  return Object.entries(rules).map(([name, rule]) => (rule.kind === 'flat' ? judgeFlat(name, samples, rule) : judgePerIssue(name, samples, issuesFinished, rule)));
}

function round(value: number): string {
  return Math.abs(value) >= 100 ? Math.round(value).toString() : value.toFixed(2);
}
