/**
 * A critical health problem of a running orchestra on the fake GitHub becomes an issue of its
 * own (`notify.githubIssues`): an infrastructure actor killed, and kept down by the supervisor's
 * restart backoff, is `actor_down` (critical) — one issue is opened, labelled, not a work item;
 * when the actor is back, the issue is commented and closed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeGitHub, type FakeGitHub } from '../support/fake-github.ts';
import { githubAgents, githubConfig, githubEnv, token } from '../support/github-orchestra.ts';
import { startTestOrchestra, type TestOrchestra } from '../support/orchestra.ts';
import { waitFor } from '../support/wait.ts';

describe('critical health problems as GitHub issues', { timeout: 120_000 }, () => {
  let fake: FakeGitHub;
  let test: TestOrchestra;
  const healthIssues = () => [...fake.state.issues.values()].filter((issue) => issue.labels.includes('miyabi:health'));

  beforeAll(async () => {
    githubEnv();
    fake = await startFakeGitHub({ owner: 'acme', repo: 'widgets', token });
    test = await startTestOrchestra({
      backend: 'process',
      agents: githubAgents(),
      config: {
        ...githubConfig(fake),
        health: { checkIntervalMs: 100 },
        // A killed actor waits 3 s before its restart: long enough for the monitor to see it down.
        supervisor: { backoff: { minMs: 3_000, maxMs: 3_000, randomFactor: 0 } },
        notify: { githubIssues: { enabled: true, commentIntervalMs: 0 } },
      },
    });
  }, 120_000);
  afterAll(async () => {
    await test?.stop();
    await fake?.close();
  });

  it('opens one issue while the actor is down and closes it when it is back', async () => {
    expect(healthIssues()).toEqual([]);
    test.orchestra.root()!.childSupervisor('core')!.childActor('workspace')!.stop();
    const [opened] = await waitFor(() => (healthIssues().length > 0 ? healthIssues() : undefined), { timeoutMs: 30_000, what: 'a health issue' });
    expect(opened).toMatchObject({ title: 'Miyabi health: actor down (root/core/workspace)', state: 'open', labels: ['miyabi:health'] });
    expect(opened!.user.login).toBe('miyabi-bot');
    await waitFor(() => opened!.state === 'closed', { timeoutMs: 30_000, what: 'the health issue closed' });
    expect(healthIssues()).toHaveLength(1);
    // One "Resolved", last; before it only a change of what the problem says (down, then
    // starting again while its restart runs, on a loaded host), never the same thing twice.
    const bodies = fake.state.comments.filter((comment) => comment.issue === opened!.number).map((comment) => comment.body);
    expect(bodies.at(-1)).toContain('Resolved: the health monitor no longer finds it.');
    expect(bodies.filter((body) => body.includes('Resolved'))).toHaveLength(1);
    const changes = bodies.slice(0, -1).map((body) => /Still critical:\n\n> (.*)\n/.exec(body)?.[1]);
    expect(changes.every((detail) => detail !== undefined), bodies.join('\n---\n')).toBe(true);
    expect(new Set(changes).size).toBe(changes.length);
  });
});
