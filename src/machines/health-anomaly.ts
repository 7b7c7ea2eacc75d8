/**
 * Anomalies per role, pure: task durations and failure rates of the recent tasks against the
 * role's own baseline (the tasks before them). Robust and slow to excite:
 *
 *   durations   the median of the last `recent` tasks above the baseline's median by more than
 *               `k` × its MAD (scaled to a standard deviation; at least 10 % of the median), with
 *               at least `minSamples` in the baseline — one slow task moves a median of five by
 *               nothing, a role that got slower moves it;
 *   failures    the failure share of the last `recent` tasks at least twice the baseline's (and
 *               at least `minFailures` failures), with the same minimum baseline.
 *
 * Hysteresis: a flagged role stays flagged until its recent value is back under half the margin
 * (durations) or under 1.5 × the baseline's share (failures), so a value on the edge does not
 * flap.
 */
export interface RoleSamples {
  /** Task durations in seconds, oldest first. */
  durations: readonly number[];
  /** Task outcomes, oldest first: true for a failure. */
  failures: readonly boolean[];
}

export interface AnomalyOptions {
  minSamples: number;
  recent: number;
  k: number;
  minFailures: number;
}

export const DEFAULT_ANOMALY_OPTIONS: AnomalyOptions = { minSamples: 20, recent: 5, k: 3, minFailures: 3 };

export interface Anomaly {
  role: string;
  kind: 'slow_tasks' | 'failure_rate';
  message: string;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function durationAnomaly(durations: readonly number[], flagged: boolean, options: AnomalyOptions): { flagged: boolean; message: string } {
  const baseline = durations.slice(0, -options.recent);
  if (baseline.length < options.minSamples || durations.length - baseline.length < options.recent) return { flagged: false, message: '' };
  const center = median(baseline);
  const spread = Math.max(1.4826 * median(baseline.map((value) => Math.abs(value - center))), 0.1 * center);
  const recent = median(durations.slice(-options.recent));
  const margin = options.k * spread;
  const over = recent - center;
  return { flagged: flagged ? over > margin / 2 : over > margin, message: `median of the last ${options.recent} tasks ${recent.toFixed(1)} s against ${center.toFixed(1)} s before` };
}

function failureAnomaly(failures: readonly boolean[], flagged: boolean, options: AnomalyOptions): { flagged: boolean; message: string } {
  const baseline = failures.slice(0, -options.recent);
  if (baseline.length < options.minSamples || failures.length - baseline.length < options.recent) return { flagged: false, message: '' };
  const recent = failures.slice(-options.recent);
  const share = (list: readonly boolean[]) => list.filter(Boolean).length / list.length;
  const before = share(baseline);
  const now = share(recent);
  const count = recent.filter(Boolean).length;
  const raised = flagged ? now >= 1.5 * before && now > 0 : count >= options.minFailures && now >= 2 * before;
  return { flagged: raised, message: `${count} of the last ${recent.length} tasks failed against ${(before * 100).toFixed(0)} % before` };
}

/** The anomalies of every role, and the set flagged now (pass it back next time). */
export function detectAnomalies(
  samples: Readonly<Record<string, RoleSamples>>,
  flagged: ReadonlySet<string>,
  options: AnomalyOptions = DEFAULT_ANOMALY_OPTIONS,
): { anomalies: Anomaly[]; flagged: Set<string> } {
  const anomalies: Anomaly[] = [];
  const next = new Set<string>();
  for (const [role, { durations, failures }] of Object.entries(samples)) {
    const slow = durationAnomaly(durations, flagged.has(`slow_tasks:${role}`), options);
    if (slow.flagged) anomalies.push({ role, kind: 'slow_tasks', message: `${role} tasks are slower: ${slow.message}` });
    const failing = failureAnomaly(failures, flagged.has(`failure_rate:${role}`), options);
    if (failing.flagged) anomalies.push({ role, kind: 'failure_rate', message: `${role} tasks fail more: ${failing.message}` });
  }
  for (const anomaly of anomalies) next.add(`${anomaly.kind}:${anomaly.role}`);
  return { anomalies, flagged: next };
}

/** The last `keep` tasks of each role, for `detectAnomalies`. */
export class TaskSamples {
  readonly #roles = new Map<string, { durations: number[]; failures: boolean[] }>();
  constructor(private readonly keep = 100) {}

  record(role: string, seconds: number, failed: boolean): void {
    let samples = this.#roles.get(role);
    if (!samples) this.#roles.set(role, (samples = { durations: [], failures: [] }));
    samples.durations.push(seconds);
    samples.failures.push(failed);
    if (samples.durations.length > this.keep) {
      samples.durations.shift();
      samples.failures.shift();
    }
  }

  snapshot(): Record<string, RoleSamples> {
    return Object.fromEntries([...this.#roles].map(([role, samples]) => [role, { durations: [...samples.durations], failures: [...samples.failures] }]));
  }
}
