/**
 * Needs input, the round trip on GitHub — the fake GitHub REST server over real HTTP, the real
 * octokit client, real git and NATS, a test agent that asks: its question becomes a comment and
 * the `miyabi:waiting-for-human` label; a reply by someone not trusted does nothing; a trusted
 * person's reply, found by polling or delivered by a signed webhook, runs the stage again with
 * the answer in its task, and the issue ends done, merged.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeGitHub, type FakeGitHub } from '../support/fake-github.ts';
import {
  commentsOf,
  deliverComment,
  githubAgents,
  githubConfig,
  githubEnv,
  pullOf,
  SECRET_ENV,
  stateLabels,
  stateOf,
  taskFiles,
  token,
  trustedIssue,
  waitState,
} from '../support/github-orchestra.ts';
import { startTestOrchestra, type TestOrchestra } from '../support/orchestra.ts';
import { waitFor } from '../support/wait.ts';

beforeAll(githubEnv);

let fake: FakeGitHub | undefined;
let test: TestOrchestra | undefined;
afterEach(async () => {
  await test?.stop();
  await fake?.close();
  test = undefined;
  fake = undefined;
});

const QUESTION = 'Which output format should #1 use?';
/** No CI required, none reported: green at once, so the issue merges as soon as it is through pr. */
const noCi = { ci: { checks: [] } };

async function metric(pattern: RegExp): Promise<boolean> {
  return pattern.test(await test!.orchestra.resources.metrics.render());
}

/** The issue asked its question: waiting for a person, labelled so, the question a comment. */
async function asked(issue: number): Promise<void> {
  await waitState(test!, issue, 'waiting_for_human');
  await waitFor(() => stateLabels(fake!, issue).join() === 'miyabi:waiting-for-human', { what: 'the waiting label on GitHub' });
  const question = await waitFor(() => commentsOf(fake!, issue).find((body) => body.includes(QUESTION)), { what: 'the question as a comment' });
  expect(question).toContain('needs an answer');
  expect(await metric(/miyabi_human_interventions_total\{kind="needs_input"\} 1/)).toBe(true);
}

/** Done and merged, the answer in the task file of the codegen run after it. */
async function answeredAndDone(issue: number, by: string, answer: string): Promise<void> {
  await waitState(test!, issue, 'done');
  const codegens = await taskFiles(test!.dataDir, issue, 'codegen');
  // The run that asked and the run after the answer: two dispatches, each with its own task.
  expect(codegens).toHaveLength(2);
  expect(codegens[0]!.answers ?? []).toEqual([]);
  const last = codegens.at(-1)!;
  expect(last.answers).toEqual([{ stage: 'codegen', question: QUESTION, answer, by }]);
  expect(last.attempt).toBe(1);
  expect(pullOf(fake!, issue).pull!.merged).toBeDefined();
  expect(await metric(/miyabi_human_interventions_total\{kind="answer"\} 1/)).toBe(true);
  await test!.orchestra.resources.workflow!.flush();
  expect(stateLabels(fake!, issue)).toEqual(['miyabi:done']);
  // Asked once: no second question after the answer.
  expect(commentsOf(fake!, issue).filter((body) => body.includes(QUESTION))).toHaveLength(1);
}

describe('needs input on GitHub', { timeout: 120_000 }, () => {
  it('by polling: an untrusted reply does nothing; a member\'s reply resumes the stage with the answer → done', async () => {
    fake = await startFakeGitHub({ owner: 'acme', repo: 'widgets', token });
    const issue = trustedIssue(fake, 'Export the report');
    test = await startTestOrchestra({ backend: 'process', agents: githubAgents('ask'), config: githubConfig(fake, noCi) });
    await asked(issue.number);

    fake.addComment(issue.number, 'Use XML!', 'eve');
    expect(fake.state.comments.at(-1)!.authorAssociation).toBe('NONE');
    await waitFor(() => metric(/miyabi_issues_ignored_total\{reason="untrusted_commenter"\} 1/), { what: 'the untrusted reply ignored' });
    // A poll or two more: still waiting, the stranger's reply was no answer.
    const polls = test.orchestra.resources.watcher!.polls;
    await waitFor(() => test!.orchestra.resources.watcher!.polls >= polls + 2, { what: 'two more polls' });
    expect(stateOf(test, issue.number)).toBe('waiting_for_human');
    expect(await metric(/miyabi_human_interventions_total\{kind="answer"\} 0/)).toBe(true);

    const reply = fake.addComment(issue.number, 'JSON, please.', 'maya');
    reply.authorAssociation = 'MEMBER';
    await answeredAndDone(issue.number, 'maya', 'JSON, please.');
  });

  it('by a signed webhook delivery: an untrusted one does nothing; the owner\'s resumes it → done', async () => {
    fake = await startFakeGitHub({ owner: 'acme', repo: 'widgets', token });
    const issue = trustedIssue(fake, 'Export the report');
    test = await startTestOrchestra({
      backend: 'process',
      agents: githubAgents('ask'),
      config: {
        // Polls are far apart: the answer comes by the webhook.
        ...githubConfig(fake, { ...noCi, github: { pollIntervalMs: 600_000, webhook: { path: '/webhooks/github', secretEnv: SECRET_ENV } } }),
        http: { enabled: true, port: 0 },
      },
    });
    await asked(issue.number);
    const url = `${test.orchestra.resources.httpUrl}/webhooks/github`;
    const polls = test.orchestra.resources.watcher!.polls;

    // GitHub delivers the orchestra's own question too, by a login that may answer (a PAT of the
    // owner): the receiver knows it by its login and signature, so it does not answer itself.
    const question = fake.state.comments.find((comment) => comment.issue === issue.number && comment.body.includes('.needs-input.'))!;
    expect(await deliverComment(url, fake, issue.number, { id: question.id, body: question.body, author: question.user.login, association: 'OWNER' })).toBeLessThan(300);

    const stranger = fake.addComment(issue.number, 'Use XML!', 'eve');
    expect(await deliverComment(url, fake, issue.number, { id: stranger.id, body: stranger.body, author: 'eve', association: 'NONE' })).toBeLessThan(300);
    await waitFor(() => metric(/miyabi_issues_ignored_total\{reason="untrusted_commenter"\} 1/), { what: 'the untrusted reply ignored' });
    expect(stateOf(test, issue.number)).toBe('waiting_for_human');

    const reply = fake.addComment(issue.number, 'JSON, please.', 'acme');
    const sentAt = Date.now();
    expect(await deliverComment(url, fake, issue.number, { id: reply.id, body: reply.body, author: 'acme', association: 'OWNER' })).toBeLessThan(300);
    await waitFor(() => stateOf(test!, issue.number) !== 'waiting_for_human', { what: 'resumed' });
    console.log(`webhook answer → resumed in ${Date.now() - sentAt} ms`);
    await answeredAndDone(issue.number, 'acme', 'JSON, please.');
    // No poll found it: the webhook did.
    expect(test.orchestra.resources.watcher!.polls).toBe(polls);
  });
});
