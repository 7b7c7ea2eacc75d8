/** The chaos suite's own parts: a plan is the same for the same seed, and each invariant catches what it names. */
import { describe, expect, it } from 'vitest';
import type { TaskMarker } from '../../src/infra/panes/log.ts';
import { duplicateRuns, lostIssues } from './invariants.ts';
import { FAULT_KINDS, planChaos } from './plan.ts';

describe('planChaos', () => {
  it('is the same for the same seed and differs for another; dependencies only on earlier issues', () => {
    const plan = planChaos({ seed: 51, issues: 30, faults: 12 });
    expect(planChaos({ seed: 51, issues: 30, faults: 12 })).toEqual(plan);
    expect(planChaos({ seed: 52, issues: 30, faults: 12 })).not.toEqual(plan);
    for (const issue of plan.issues) for (const dependency of issue.dependsOn) expect(dependency).toBeLessThan(issue.number);
    expect(plan.faults.map((fault) => fault.afterStages)).toEqual([...plan.faults.map((fault) => fault.afterStages)].sort((a, b) => a - b));
    for (const fault of plan.faults) expect(FAULT_KINDS).toContain(fault.kind);
  });
});

describe('chaos invariants', () => {
  it('lost: an issue not done and without a reason, or never seen', () => {
    const rows = [
      { issue: 1, state: 'done', reason: undefined },
      { issue: 2, state: 'failed', reason: 'the agent gave up' },
      { issue: 3, state: 'failed', reason: undefined },
      { issue: 4, state: 'working', reason: undefined },
    ];
    expect(lostIssues([1, 2, 3, 4, 5], rows)).toEqual(['#3: failed with no reason', '#4: working with no reason', '#5: never seen by the orchestra']);
  });

  it('duplicated: one attempt started twice, or a task run again after it answered; a retry is not a duplicate', () => {
    const marker = (kind: 'start' | 'end', taskId: string, attempt: number, at: string, status?: string) =>
      (kind === 'start' ? { kind, taskId, attempt, at } : { kind, taskId, at, status }) as unknown as TaskMarker;
    const markers = [
      marker('start', 'issue-1.g1.codegen.r0', 1, '2030-01-01T00:00:01Z'),
      marker('end', 'issue-1.g1.codegen.r0', 1, '2030-01-01T00:00:02Z', 'retry'),
      marker('start', 'issue-1.g1.codegen.r0', 2, '2030-01-01T00:00:03Z'),
      marker('end', 'issue-1.g1.codegen.r0', 2, '2030-01-01T00:00:04Z', 'success'),
      marker('start', 'issue-2.g1.pr.r0', 1, '2030-01-01T00:00:05Z'),
      marker('start', 'issue-2.g1.pr.r0', 1, '2030-01-01T00:00:06Z'),
      marker('start', 'issue-1.g1.codegen.r0', 3, '2030-01-01T00:00:07Z'),
    ];
    expect(duplicateRuns(markers.slice(0, 4))).toEqual([]);
    expect(duplicateRuns(markers)).toEqual(['issue-2.g1.pr.r0 attempt 1 started twice', 'issue-1.g1.codegen.r0 attempt 3 started after the task had answered']);
  });
});
