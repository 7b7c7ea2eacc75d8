/**
 * Critical health problems as GitHub issues (`notify.githubIssues`), through the real octokit
 * client against the fake GitHub: one issue per problem however many checks find it, a comment
 * when it changes while it lasts, closed when it is resolved; warnings never; a restarted
 * reporter, or an open whose answer was lost, finds the issue it opened instead of opening another,
 * and a restarted reporter closes what an earlier one opened when its problem is gone; a storm of
 * critical problems is one issue.
 */
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/infra/observe/logger.ts';
import { HealthIssueReporter } from '../../src/actors/health-issues.ts';
import type { HealthProblem } from '../../src/machines/health-judge.ts';
import { githubSourceHarness } from '../support/github-source.ts';

const harness = githubSourceHarness();
const logger = createLogger({ level: 'silent' });
const label = 'miyabi:health';

const busDown: HealthProblem = { kind: 'bus_disconnected', severity: 'critical', subject: 'bus', message: 'bus not connected' };
const disk = (percent: number): HealthProblem => ({ kind: 'disk_low', severity: 'critical', subject: 'dataDir', message: `${percent} % free on the data directory's disk` });
const agentDown: HealthProblem = { kind: 'agent_down', severity: 'warning', subject: 'codegen-1', message: 'agent codegen-1 (codegen) is backoff' };

async function setup(commentIntervalMs = 0, maxPerCheck = 5) {
  const github = await harness.fake();
  const source = harness.source(github);
  const reporter = (now?: () => number) => new HealthIssueReporter({ tracker: source.healthIssues(label), commentIntervalMs, maxPerCheck, logger, ...(now ? { now } : {}) });
  const healthIssues = () => [...github.state.issues.values()].filter((issue) => issue.labels.includes(label));
  const commentsOf = (number: number) => github.state.comments.filter((comment) => comment.issue === number).map((comment) => comment.body);
  return { github, reporter, healthIssues, commentsOf };
}

describe('health issues on GitHub', () => {
  it('opens one issue per critical problem while it lasts, comments its changes, closes it when resolved', async () => {
    const { reporter: create, healthIssues, commentsOf } = await setup();
    const reporter = create();
    reporter.report([busDown, disk(4), agentDown]);
    reporter.report([busDown, disk(4), agentDown]);
    await reporter.idle();
    expect(healthIssues().map((issue) => [issue.title, issue.state])).toEqual([
      ['Miyabi health: bus disconnected (bus)', 'open'],
      ['Miyabi health: disk low (dataDir)', 'open'],
    ]);
    const [bus, diskIssue] = healthIssues();
    expect(diskIssue!.body).toContain("4 % free on the data directory's disk");

    reporter.report([busDown, disk(3)]);
    await reporter.idle();
    expect(commentsOf(diskIssue!.number)).toEqual([expect.stringContaining("3 % free on the data directory's disk")]);
    expect(commentsOf(bus!.number)).toEqual([]);

    reporter.report([disk(3)]);
    await reporter.idle();
    expect(bus!.state).toBe('closed');
    expect(commentsOf(bus!.number)).toEqual([expect.stringContaining('Resolved')]);
    expect(diskIssue!.state).toBe('open');

    // It comes back: a new issue, the closed one stays closed.
    reporter.report([busDown, disk(3)]);
    await reporter.idle();
    expect(healthIssues().map((issue) => [issue.title, issue.state])).toEqual([
      ['Miyabi health: bus disconnected (bus)', 'closed'],
      ['Miyabi health: disk low (dataDir)', 'open'],
      ['Miyabi health: bus disconnected (bus)', 'open'],
    ]);
  });

  it('comments a changing problem at most once per commentIntervalMs', async () => {
    let now = 0;
    const { reporter: create, healthIssues, commentsOf } = await setup(60_000);
    const reporter = create(() => now);
    reporter.report([disk(4)]);
    now = 30_000;
    reporter.report([disk(3)]);
    await reporter.idle();
    const [issue] = healthIssues();
    expect(commentsOf(issue!.number)).toEqual([]);
    now = 61_000;
    reporter.report([disk(2)]);
    await reporter.idle();
    expect(commentsOf(issue!.number)).toEqual([expect.stringContaining('2 % free')]);
  });

  it('finds the open issue of a problem after a restart instead of opening another', async () => {
    const { reporter: create, healthIssues } = await setup();
    const first = create();
    first.report([busDown]);
    await first.idle();
    const second = create();
    second.report([busDown]);
    await second.idle();
    expect(healthIssues()).toHaveLength(1);
    second.report([]);
    await second.idle();
    expect(healthIssues()[0]!.state).toBe('closed');
  });

  it('closes an issue opened before a restart when the restarted reporter no longer finds its problem', async () => {
    const { reporter: create, healthIssues, commentsOf } = await setup();
    const first = create();
    first.report([busDown, disk(4)]);
    await first.idle();
    const second = create();
    second.report([disk(4)]);
    await second.idle();
    const [bus, diskIssue] = healthIssues();
    expect([bus!.state, diskIssue!.state]).toEqual(['closed', 'open']);
    expect(commentsOf(bus!.number)).toEqual([expect.stringContaining('Resolved')]);
  });

  it('opens the issue once when the answer to the open is lost', async () => {
    const { github, reporter: create, healthIssues } = await setup();
    github.fail({ kind: 'answer_lost', method: 'POST', path: '/repos/acme/widgets/issues', status: 502 });
    const reporter = create();
    reporter.report([busDown]);
    await reporter.idle();
    expect(healthIssues().map((issue) => issue.state)).toEqual(['open']);
  });

  it('tries the open again at the next check when GitHub refused it', async () => {
    const { github, reporter: create, healthIssues } = await setup();
    github.fail({ kind: 'forbidden', method: 'POST', path: '/repos/acme/widgets/issues' });
    const reporter = create();
    reporter.report([busDown]);
    await reporter.idle();
    expect(healthIssues()).toEqual([]);
    reporter.report([busDown]);
    await reporter.idle();
    expect(healthIssues().map((issue) => issue.state)).toEqual(['open']);
  });

  it('opens one issue for a storm, comments the problems that join it, and closes it when all are gone', async () => {
    const { reporter: create, healthIssues, commentsOf } = await setup(0, 2);
    const down = (path: string): HealthProblem => ({ kind: 'actor_down', severity: 'critical', subject: path, message: `${path}: backoff` });
    const reporter = create();
    reporter.report([down('root/bus'), down('root/control'), down('root/panes')]);
    await reporter.idle();
    expect(healthIssues().map((issue) => issue.title)).toEqual(['Miyabi health: 3 critical problems']);
    const [storm] = healthIssues();
    expect(storm!.body).toContain('- root/control: backoff');
    reporter.report([down('root/bus'), down('root/control'), down('root/panes'), busDown]);
    await reporter.idle();
    expect(healthIssues()).toHaveLength(1);
    expect(commentsOf(storm!.number)).toEqual([expect.stringContaining('- bus not connected')]);
    reporter.report([busDown]);
    await reporter.idle();
    expect(storm!.state).toBe('open');
    reporter.report([]);
    await reporter.idle();
    expect(storm!.state).toBe('closed');
    expect(healthIssues()).toHaveLength(1);
  });
});
