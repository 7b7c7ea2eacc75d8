/** The chaos suite's own parts: a plan is the same for the same seed, and each invariant catches what it names. */
import { describe, expect, it } from 'vitest';
import type { TaskMarker } from '../../src/infra/panes/log.ts';
import { duplicateRuns, lostIssues } from './invariants.ts';
import { FAULT_KINDS, planChaos } from './plan.ts';
import { trackerDuplicates } from './tracker.ts';
import { startFakeGitHub } from '../support/fake-github.ts';
import { token } from '../support/github-orchestra.ts';

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

describe('chaos invariants on the fake GitHub', () => {
  it('duplicated: a comment key twice, a second pull request, a merge applied twice, done labelled twice, two state labels', async () => {
    const fake = await startFakeGitHub({ owner: 'acme', repo: 'widgets', token });
    try {
      const once = fake.addIssue({ title: 'once' });
      const twice = fake.addIssue({ title: 'twice' });
      for (const issue of [once, twice]) {
        fake.addComment(issue.number, `<!-- miyabi-orchestra:key=issue-${issue.number}.done sig=ab12 -->\nDone.`, 'miyabi-bot');
        fake.addPull({ head: `miyabi/issue-${issue.number}` });
        fake.labelIssue(issue.number, 'miyabi:done', 'miyabi-bot');
      }
      expect(trackerDuplicates(fake, [once.number, twice.number])).toEqual([]);

      fake.addComment(twice.number, `<!-- miyabi-orchestra:key=issue-${twice.number}.done sig=cd34 -->\nDone again.`, 'miyabi-bot');
      const second = fake.addPull({ head: `miyabi/issue-${twice.number}` });
      const merge = (pull: number) =>
        fetch(`${fake.url}/repos/acme/widgets/pulls/${pull}/merge`, { method: 'PUT', headers: { authorization: `token ${token}` }, body: '{}' });
      // The second PUT's answer lost after it was applied: counted as a merge all the same.
      fake.fail({ kind: 'answer_lost', status: 502, method: 'PUT' });
      expect((await merge(second.number)).status).toBe(502);
      fake.unlabelIssue(twice.number, 'miyabi:done', 'acme');
      fake.labelIssue(twice.number, 'miyabi:done', 'miyabi-bot');
      fake.labelIssue(twice.number, 'miyabi:working', 'miyabi-bot');
      expect(trackerDuplicates(fake, [once.number, twice.number])).toEqual([
        `#${twice.number}: comment issue-${twice.number}.done posted twice`,
        `#${twice.number}: 2 pull requests (#4, #${second.number})`,
        `#${twice.number}: miyabi:done applied 2 times`,
        `#${twice.number}: 2 state labels at once (miyabi:done, miyabi:working)`,
      ]);
      // A second merge of the same pull request applied (the fake, as GitHub, refuses one: 405):
      // as the record of such a request would show it.
      expect((await merge(second.number)).status).toBe(405);
      fake.state.requests.push({ method: 'PUT', path: `/repos/acme/widgets/pulls/${second.number}/merge`, query: '', status: 200, counted: true, at: Date.now() });
      expect(trackerDuplicates(fake, [twice.number])).toContain(`#${twice.number}: pull request #${second.number} merged 2 times`);
    } finally {
      await fake.close();
    }
  });
});
