/** The soak's judgement of growth: a leak is caught, a sawtooth and a busy start are not. */
import { describe, expect, it } from 'vitest';
import { judgeFlat, judgePerIssue, median, theilSenSlope, type Sample } from './trend.ts';

const series = (values: number[], name = 'x'): Sample[] => values.map((value, index) => ({ at: index * 1_000, values: { [name]: value } }));

describe('theilSenSlope', () => {
  it('is the line through exact points and shrugs off one outlier', () => {
    expect(theilSenSlope([[0, 1], [1, 3], [2, 5], [3, 7]])).toBe(2);
    expect(theilSenSlope([[0, 10], [1, 10], [2, 1_000], [3, 10], [4, 10]])).toBe(0);
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
  });
});

describe('judgeFlat', () => {
  const rule = { kind: 'flat' as const, tolerance: 0.1, slack: 2 };

  it('a steady leak grows without bound', () => {
    const leak = series(Array.from({ length: 40 }, (_, i) => 100 + 3 * i));
    expect(judgeFlat('x', leak, rule)).toMatchObject({ ok: false });
  });

  it('a sawtooth (a GC cycle) and a busy warm-up are bounded', () => {
    const sawtooth = series(Array.from({ length: 40 }, (_, i) => 100 + ((i * 7) % 20)));
    expect(judgeFlat('x', sawtooth, rule)).toMatchObject({ ok: true });
    const warmUp = series([...Array.from({ length: 10 }, (_, i) => 10 * i), ...Array.from({ length: 30 }, () => 100)]);
    expect(judgeFlat('x', warmUp, rule)).toMatchObject({ ok: true });
  });

  it('too few samples is no verdict of health', () => {
    expect(judgeFlat('x', series([1, 2]), rule)).toMatchObject({ ok: false });
    expect(judgeFlat('y', series([1, 2, 3, 4, 5]), rule).detail).toContain('0 samples');
  });
});

describe('judgePerIssue', () => {
  it('growth per finished issue against the bound', () => {
    const grown = series([1_000, 1_500, 2_000]);
    expect(judgePerIssue('x', grown, 10, { kind: 'per-issue', bound: 100 })).toMatchObject({ ok: true, detail: expect.stringContaining('100 per finished issue') });
    expect(judgePerIssue('x', grown, 5, { kind: 'per-issue', bound: 100 })).toMatchObject({ ok: false });
    expect(judgePerIssue('x', grown, 0, { kind: 'per-issue', bound: 100 })).toMatchObject({ ok: false });
  });
});
