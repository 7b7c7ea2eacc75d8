import { describe, expect, it } from 'vitest';
import { detectAnomalies, type RoleSamples } from '../../src/machines/health-anomaly.ts';

/** Durations around `center` with a little noise, deterministic. */
const steady = (count: number, center: number) => Array.from({ length: count }, (_, index) => center + ((index * 7) % 5) - 2);
const role = (durations: number[], failures: boolean[] = durations.map(() => false)): RoleSamples => ({ durations, failures });

describe('detectAnomalies', () => {
  it('flags a role whose tasks got slower, not one with a single slow task', () => {
    const slower = detectAnomalies({ codegen: role([...steady(30, 60), ...steady(5, 180)]) }, new Set());
    expect(slower.anomalies).toMatchObject([{ role: 'codegen', kind: 'slow_tasks' }]);
    const outlier = detectAnomalies({ codegen: role([...steady(30, 60), 60, 61, 900, 59, 60]) }, new Set());
    expect(outlier.anomalies).toEqual([]);
  });

  it('needs a minimum baseline before it judges', () => {
    expect(detectAnomalies({ codegen: role([...steady(10, 60), ...steady(5, 300)]) }, new Set()).anomalies).toEqual([]);
  });

  it('flags a doubling of failures, not one failure more', () => {
    const base = Array.from({ length: 30 }, (_, index) => index % 10 === 0); // 10 %
    const doubled = detectAnomalies({ review: role(steady(35, 60), [...base, true, true, true, false, false]) }, new Set());
    expect(doubled.anomalies).toMatchObject([{ role: 'review', kind: 'failure_rate' }]);
    const one = detectAnomalies({ review: role(steady(35, 60), [...base, true, false, false, false, false]) }, new Set());
    expect(one.anomalies).toEqual([]);
  });

  it('keeps a flag until the value is well back (hysteresis)', () => {
    const baseline = steady(30, 60);
    const first = detectAnomalies({ codegen: role([...baseline, ...steady(5, 100)]) }, new Set());
    expect(first.anomalies).toHaveLength(1);
    // On the edge: would not raise a flag, but does not clear one.
    const edge = [...baseline, 70, 71, 70, 72, 70];
    expect(detectAnomalies({ codegen: role(edge) }, new Set()).anomalies).toEqual([]);
    expect(detectAnomalies({ codegen: role(edge) }, first.flagged).anomalies).toHaveLength(1);
    expect(detectAnomalies({ codegen: role([...baseline, ...steady(5, 60)]) }, first.flagged).anomalies).toEqual([]);
  });
});
