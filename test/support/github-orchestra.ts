/**
 * An orchestra on the fake GitHub, for the merge stage's tests: the config that points the github
 * source at the fake (a short poll, quick retries, CI not settling by itself), the agents (the
 * test code generator of ./agents/codegen.mjs and the example pr agent), and what the tests read
 * back — an issue's lifecycle state and summary row, the head of its branch in the workspace
 * repository, its task files, the orchestra log, signed webhook deliveries.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import type { FakeGitHub } from './fake-github.ts';
import { repoRoot } from './cli.ts';
import type { TestOrchestra } from './orchestra.ts';
import { waitFor } from './wait.ts';

export const TOKEN_ENV = 'MIYABI_TEST_GITHUB_TOKEN';
export const SECRET_ENV = 'MIYABI_TEST_WEBHOOK_SECRET';
export const token = 'ghp_test_token_0123456789';
export const secret = 'webhook-secret';

/** Sets the token (and the webhook secret) the config names; call in `beforeAll`. */
export function githubEnv(): void {
  process.env[TOKEN_ENV] = token;
  process.env[SECRET_ENV] = secret;
}

const role = (command: string[]) => ({ command, min: 1, max: 1 });
/** codegen: the test agent (`plain` or `ask`); pr: the example agent. */
export const githubAgents = (codegen: 'plain' | 'ask' = 'plain') => ({
  codegen: role(['node', join(repoRoot, 'test/support/agents/codegen.mjs'), codegen]),
  pr: role(['node', join(repoRoot, 'examples/agents/pr.mjs')]),
});

/** Routes of the tests: `type:docs` is codegen → pr → merge (the default routes' shortest). */
export function githubConfig(
  github: FakeGitHub,
  options: { github?: Record<string, unknown>; workflow?: Record<string, unknown>; ci?: Record<string, unknown>; merge?: Record<string, unknown> } = {},
) {
  return {
    issues: {
      source: 'github',
      github: { owner: 'acme', repo: 'widgets', baseUrl: github.url, tokenEnv: TOKEN_ENV, pollIntervalMs: 1_000, spaceWrites: false, ...options.github },
    },
    workflow: {
      retry: { initialDelayMs: 200 },
      merge: { auto: true, ...options.merge },
      // `build` is required: the merge stage waits for it until a test reports it on the head.
      ci: { checks: ['build'], settleMs: 0, pollIntervalMs: 500, ...options.ci },
      ...options.workflow,
    },
  };
}

/** A trusted issue (the owner's, labelled by the owner) on the `type:docs` route. */
export function trustedIssue(fake: FakeGitHub, title: string, body = '') {
  const issue = fake.addIssue({ title, body, author: 'acme', authorAssociation: 'OWNER', labels: ['type:docs'] });
  fake.labelIssue(issue.number, 'miyabi', 'acme');
  return issue;
}

export const stateOf = (test: TestOrchestra, issue: number): string | undefined => {
  const snapshot = test.orchestra.resources.workflow?.snapshot(issue);
  return snapshot === undefined ? undefined : String(snapshot.value);
};

export const contextOf = (test: TestOrchestra, issue: number) => test.orchestra.resources.workflow!.snapshot(issue).context;

export const rowOf = (test: TestOrchestra, issue: number) => test.orchestra.resources.workflow!.summary().find((row) => row.issue === issue)!;

/** Waits for the issue in `state`; fails at once when it ends in another final state. */
export async function waitState(test: TestOrchestra, issue: number, state: string, timeoutMs = 60_000): Promise<void> {
  const final = new Set(['done', 'failed', 'released', 'blocked']);
  const seen = await waitFor(
    () => {
      const now = stateOf(test, issue);
      return now === state || (now !== undefined && final.has(now)) ? now : undefined;
    },
    { timeoutMs, what: `#${issue} ${state}` },
  );
  if (seen !== state) throw new Error(`#${issue} ended ${seen} (${contextOf(test, issue).reason ?? 'no reason'}) while the test waited for ${state}`);
}

/** The head of `miyabi/issue-<n>` in the workspace repository: the commit the merge stage checks. */
export async function branchHead(repo: string, issue: number): Promise<string> {
  return (await execa('git', ['rev-parse', `refs/heads/miyabi/issue-${issue}`], { cwd: repo })).stdout.trim();
}

/**
 * Waits for the issue in `merging`, its merge stage waiting for the `build` check on the head of
 * its branch (other than `not`, a head already judged); answers that head.
 */
export function waitingForBuild(test: TestOrchestra, issue: number, not?: string): Promise<string> {
  return waitFor(
    async () => {
      // Git is asked only once the reason names a head other than `not`: a `git rev-parse` every
      // poll would take a core's worth of process starts away from the orchestra under test.
      const reason = stateOf(test, issue) === 'merging' ? contextOf(test, issue).reason : undefined;
      if (!reason?.startsWith('CI running on ') || (not !== undefined && reason.startsWith(`CI running on ${not.slice(0, 12)}`))) return undefined;
      const head = await branchHead(test.repo, issue);
      return head !== not && contextOf(test, issue).reason === `CI running on ${head.slice(0, 12)}: build` ? head : undefined;
    },
    { timeoutMs: 60_000, what: `#${issue} merging, waiting for build on a new head` },
  );
}

/** The pull request the pr stage opened for the issue. */
export function pullOf(fake: FakeGitHub, issue: number) {
  const pulls = fake.pullsForHead(`miyabi/issue-${issue}`);
  if (pulls.length !== 1) throw new Error(`#${issue} has ${pulls.length} pull requests`);
  return pulls[0]!;
}

export const mergePuts = (fake: FakeGitHub) => fake.requestsTo('PUT', /\/pulls\/\d+\/merge$/);
export const commentsOf = (fake: FakeGitHub, issue: number) => fake.state.comments.filter((comment) => comment.issue === issue).map((comment) => comment.body);
export const stateLabels = (fake: FakeGitHub, issue: number) => fake.state.issues.get(issue)!.labels.filter((label) => label.startsWith('miyabi:'));

export interface TaskFile {
  taskId: string;
  stage: string;
  round: number;
  attempt: number;
  previous: Record<string, { status: string; summary?: string; outputs?: Record<string, unknown> }>;
  answers: Array<{ stage: string; question: string; answer: string; by: string }>;
  git?: { dependencies: Array<{ number: number; merged: boolean; mergeCommit?: string }> };
}

/** Every task file of the issue's stage, in the order of their ids (round, then attempt). */
export async function taskFiles(dataDir: string, issue: number, stage: string): Promise<TaskFile[]> {
  const ids = (await readdir(join(dataDir, 'tasks'))).filter((id) => id.startsWith(`issue-${issue}.`) && id.includes(`.${stage}.`)).sort();
  return Promise.all(ids.map(async (id) => JSON.parse(await readFile(join(dataDir, 'tasks', id, 'task.json'), 'utf8')) as TaskFile));
}

export interface LogLine {
  msg: string;
  issue?: number;
  [field: string]: unknown;
}

export async function orchestraLog(dataDir: string): Promise<LogLine[]> {
  const text = await readFile(join(dataDir, 'logs', 'orchestra.log'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as LogLine);
}

/** An issue of the fake as a webhook payload carries it, as it is now. */
function issuePayload(fake: FakeGitHub, issueNumber: number) {
  const issue = fake.state.issues.get(issueNumber)!;
  return {
    number: issue.number,
    title: issue.title,
    body: issue.body,
    state: issue.state,
    labels: issue.labels.map((name) => ({ name })),
    user: { login: issue.user.login, type: 'User' },
    author_association: issue.authorAssociation,
    html_url: `https://github.com/acme/widgets/issues/${issue.number}`,
    updated_at: issue.updatedAt,
  };
}

/** Posts a signed delivery to the orchestra's webhook (a new delivery id unless one is given: GitHub's "Redeliver" sends the same); answers the status. */
export async function deliver(url: string, event: string, payload: Record<string, unknown>, deliveryId: string = randomUUID()): Promise<number> {
  const body = JSON.stringify({ ...payload, repository: { full_name: 'acme/widgets', name: 'widgets', owner: { login: 'acme' } } });
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': event,
      'x-github-delivery': deliveryId,
      'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`,
    },
    body,
  });
  return response.status;
}

/** An `issues` delivery (`opened`, `labeled` with its label …) of an issue of the fake, by `sender`. */
export function deliverIssue(url: string, fake: FakeGitHub, issueNumber: number, action: string, options: { label?: string; sender?: string } = {}): Promise<number> {
  const sender = options.sender ?? 'acme';
  return deliver(url, 'issues', {
    action,
    ...(options.label === undefined ? {} : { label: { name: options.label } }),
    issue: issuePayload(fake, issueNumber),
    sender: { login: sender, type: 'User' },
  });
}

/** Posts a signed `issue_comment` `created` delivery on an issue of the fake to the orchestra's webhook. */
export function deliverComment(
  url: string,
  fake: FakeGitHub,
  issueNumber: number,
  comment: { id: number; body: string; author: string; association: string },
  deliveryId?: string,
): Promise<number> {
  return deliver(
    url,
    'issue_comment',
    {
      action: 'created',
      issue: issuePayload(fake, issueNumber),
      comment: { id: comment.id, body: comment.body, user: { login: comment.author, type: 'User' }, author_association: comment.association },
      sender: { login: comment.author, type: 'User' },
    },
    deliveryId,
  );
}

/** Merges a pull request on the fake as a person would, through the API (`PUT …/pulls/{n}/merge`). */
export async function mergeByHand(fake: FakeGitHub, pull: number): Promise<number> {
  const response = await fetch(`${fake.url}/repos/acme/widgets/pulls/${pull}/merge`, {
    method: 'PUT',
    headers: { authorization: `token ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ merge_method: 'squash' }),
  });
  return response.status;
}
