/**
 * The chaos suite on the fake GitHub (issue #15): the backlog filed there as trusted issues, the
 * tracker's faults (test/support/fake-github/faults.ts) struck at the plan's points beside the
 * process faults, and the side effects read back from GitHub's side, where a retry that should
 * not have happened shows: a comment key posted twice, a second pull request, a second merge, a
 * state label applied again once the issue was done.
 */
import { execa } from 'execa';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeGitHub, type FakeGitHub } from '../support/fake-github.ts';
import { githubConfig, token, TOKEN_ENV } from '../support/github-orchestra.ts';
import { issueBody, type PlannedIssue, type TrackerFaultKind } from './plan.ts';

export interface ChaosTracker {
  fake: FakeGitHub;
  /** The sections of `up`'s config that point the github source at the fake. */
  config: Record<string, unknown>;
  env: Record<string, string>;
  /** Makes the workspace repository a clone of the fake's origin: its `origin` remote, main pushed there. */
  connect(repo: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * The fake GitHub with a real bare repository behind it: its merges are real git merges there, so
 * a dependent issue's branch, started from main fetched from origin, holds its dependencies' work.
 */
export async function startChaosTracker(): Promise<ChaosTracker> {
  const dir = await mkdtemp(join(tmpdir(), 'miyabi-chaos-origin-'));
  const origin = join(dir, 'origin.git');
  await execa('git', ['init', '-q', '--bare', '-b', 'main', origin]);
  const fake = await startFakeGitHub({ owner: 'acme', repo: 'widgets', token, origin });
  // CI: no check required (green at once); the merge happens on GitHub, once.
  const { issues, workflow } = githubConfig(fake, { ci: { checks: [] } });
  return {
    fake,
    config: { issues, workflow },
    env: { [TOKEN_ENV]: token },
    connect: async (repo) => {
      await execa('git', ['remote', 'add', 'origin', origin], { cwd: repo });
      await execa('git', ['push', '-q', 'origin', 'main'], { cwd: repo });
    },
    close: async () => {
      await fake.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Files the plan's issues on the fake, in order (so #n is issue n), each trusted: the owner's, labelled by the owner. */
export function fileIssues(fake: FakeGitHub, issues: readonly PlannedIssue[]): void {
  for (const planned of issues) {
    const body = issueBody(planned);
    const labels = ['type:docs', ...(planned.slow ? ['demo:slow'] : [])];
    const filed = fake.addIssue({ title: `Chaos note ${planned.number}`, body, author: 'acme', authorAssociation: 'OWNER', labels });
    if (filed.number !== planned.number) throw new Error(`the fake filed #${filed.number} for the plan's #${planned.number}: it was not empty`);
    fake.labelIssue(filed.number, 'miyabi', 'acme');
  }
}

/** One tracker fault, from the next request on; what it is, as the report shows it. */
export function injectTrackerFault(fake: FakeGitHub, kind: TrackerFaultKind): string {
  switch (kind) {
    case 'tracker_5xx':
      fake.fail({ kind: 'server_error', status: 502, times: 4 });
      return 'GitHub: the next 4 requests answer 502';
    case 'tracker_secondary_limit':
      fake.fail({ kind: 'secondary_rate_limit', retryAfter: 2, window: true });
      return 'GitHub: a secondary rate limit (403, retry-after 2 s), every request refused for 2 s';
    case 'tracker_drop':
      // Dropped before the request is applied, and after (the write done, its answer lost): the
      // second is the one that tempts a client to write twice.
      fake.fail({ kind: 'network', times: 2 });
      fake.fail({ kind: 'answer_lost', method: 'POST' });
      fake.fail({ kind: 'answer_lost', method: 'PUT' });
      return 'GitHub: 2 connections dropped, then the next POST and PUT applied with their answers lost';
    case 'tracker_slow':
      fake.fail({ kind: 'slow', delayMs: 2_500, times: 6 });
      return 'GitHub: the next 6 requests answered 2.5 s late';
  }
}

const MARKER = /^<!-- miyabi-orchestra:key=(\S+?)(?: sig=[0-9a-f]+)? -->/;

/** Side effects on GitHub done twice for the plan's issues. */
export function trackerDuplicates(fake: FakeGitHub, issues: readonly number[]): string[] {
  const found: string[] = [];
  const merges = fake.requestsTo('PUT', /\/pulls\/\d+\/merge$/).filter((request) => request.status === 200 || request.appliedStatus === 200);
  for (const issue of issues) {
    const keys = fake.state.comments.filter((comment) => comment.issue === issue).flatMap((comment) => MARKER.exec(comment.body)?.[1] ?? []);
    for (const key of new Set(keys)) if (keys.filter((other) => other === key).length > 1) found.push(`#${issue}: comment ${decodeURIComponent(key)} posted twice`);
    const pulls = fake.pullsForHead(`miyabi/issue-${issue}`);
    if (pulls.length > 1) found.push(`#${issue}: ${pulls.length} pull requests (${pulls.map((pull) => `#${pull.number}`).join(', ')})`);
    for (const pull of pulls) {
      const puts = merges.filter((request) => request.path.endsWith(`/pulls/${pull.number}/merge`)).length;
      if (puts > 1) found.push(`#${issue}: pull request #${pull.number} merged ${puts} times`);
    }
    const done = fake.state.events.filter((event) => event.issue === issue && event.event === 'labeled' && event.label === 'miyabi:done').length;
    if (done > 1) found.push(`#${issue}: miyabi:done applied ${done} times`);
    const stateLabels = fake.state.issues.get(issue)?.labels.filter((label) => label.startsWith('miyabi:')) ?? [];
    if (stateLabels.length > 1) found.push(`#${issue}: ${stateLabels.length} state labels at once (${stateLabels.join(', ')})`);
  }
  return found;
}
