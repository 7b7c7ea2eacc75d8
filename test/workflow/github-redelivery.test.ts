/**
 * Webhook deliveries on the real orchestra and the fake GitHub.
 *
 * Once per delivery, for good: a webhook delivery GitHub redelivers after a restart — its
 * "Redeliver" button, used exactly after outages and restarts, days later — is a no-op, and so is
 * the same comment command in another delivery. The orchestra is stopped and started again on the
 * same data directory, with the bus's duplicate window shrunk so that it cannot be what remembers
 * (as days later it would not).
 *
 * And the orchestra's own writes, which come back as deliveries (`labeled miyabi:done` by its
 * own user), cost no lookup of who applied the trigger label.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.ts';
import { kvKey } from '../../src/infra/bus/kv-key.ts';
import { workflowBacklog } from '../../src/actors/workflow.ts';
import { startOrchestra, type Orchestra } from '../../src/orchestra/orchestra.ts';
import { repoRoot, tempDir, type TempDir } from '../support/cli.ts';
import { startFakeGitHub, type FakeGitHub } from '../support/fake-github.ts';
import { deliverComment, deliverIssue, githubAgents, githubConfig, githubEnv, orchestraLog, SECRET_ENV, stateLabels, token, trustedIssue } from '../support/github-orchestra.ts';
import { gitRepo } from '../support/orchestra.ts';
import { waitFor } from '../support/wait.ts';

beforeAll(githubEnv);

let fake: FakeGitHub | undefined;
let dir: TempDir | undefined;
let orchestra: Orchestra | undefined;
afterEach(async () => {
  await orchestra?.stop();
  await fake?.close();
  await dir?.[Symbol.asyncDispose]();
  orchestra = fake = dir = undefined;
});

const stateOf = (number: number) => {
  const snapshot = orchestra!.resources.workflow?.snapshot(number);
  return snapshot === undefined ? undefined : { state: String(snapshot.value), generation: snapshot.context.generation };
};

/** Everything the bus holds for the workflow consumed, and what it started finished. */
async function quiet(): Promise<void> {
  await waitFor(async () => (await workflowBacklog(orchestra!.resources)) === 0, { what: 'the workflow caught up' });
  await orchestra!.resources.workflow!.flush();
}

/**
 * The orchestra on the fake GitHub with a webhook, polling at start only (what the deliveries do is
 * what is seen), its bus forgetting a message id after 100 ms — only the ledger can remember a
 * delivery — and codegen holding each issue's first attempt until `held/release-<n>` exists.
 */
async function webhookOrchestra() {
  fake = await startFakeGitHub({ owner: 'acme', repo: 'widgets', token });
  dir = await tempDir('miyabi-redelivery-');
  const repo = join(dir.path, 'repo');
  const held = join(dir.path, 'held');
  await mkdir(repo);
  await gitRepo(repo);
  const base = githubConfig(fake, { github: { pollIntervalMs: 600_000, webhook: { path: '/webhooks/github', secretEnv: SECRET_ENV } }, ci: { checks: [] } });
  const config = await dir.file(
    'miyabi.yaml',
    stringify({
      dataDir: join(dir.path, 'data'),
      http: { enabled: true, port: 0 },
      bus: { duplicateWindowMs: 100 },
      panes: { backend: 'process' },
      workspace: { repo },
      agents: { ...githubAgents(), codegen: { command: ['node', join(repoRoot, 'test/support/agents/codegen.mjs'), 'hold', held], min: 1, max: 1 } },
      ...base,
    }),
  );
  const start = async () => {
    orchestra = await startOrchestra(await loadConfig(config), { logStream: false });
    await waitFor(() => (orchestra!.resources.watcher?.polls ?? 0) >= 1, { what: 'the first poll' });
    return `${orchestra.resources.httpUrl}/webhooks/github`;
  };
  return { fake, held, start, data: join(dir.path, 'data') };
}

/** The issue done, then `/miyabi retry` delivered: its second generation done too. Answers the issue's comments then. */
async function retriedOnce(url: string, number: number, retry: Parameters<typeof deliverComment>[3], delivery: string): Promise<number> {
  await waitFor(() => stateOf(number)?.state === 'done', { timeoutMs: 30_000, what: 'the issue done' });
  expect(await deliverComment(url, fake!, number, retry, delivery)).toBe(200);
  await waitFor(() => stateOf(number)?.generation === 2 && stateOf(number)?.state === 'done', { timeoutMs: 30_000, what: 'the retry done' });
  await quiet();
  return fake!.commentCount(number);
}

describe('once per delivery, for good', { timeout: 90_000 }, () => {
  it('a delivery redelivered after a restart, and its comment command in another delivery, do nothing; an own label write costs no lookup', async () => {
    const { fake, held, start, data } = await webhookOrchestra();
    const issue = trustedIssue(fake, 'Retried once');
    let url = await start();
    // The orchestra's own label write, delivered back while codegen holds (nothing else writes):
    // the trigger label did not move, so no lookup of who applied it.
    await waitFor(() => existsSync(join(held, `held-${issue.number}`)) && stateLabels(fake!, issue.number)[0] === 'miyabi:implementing', {
      what: 'codegen running, its label written',
    });
    await orchestra!.resources.workflow!.flush();
    const lookups = () => fake!.requestsTo('GET', /\/issues\/\d+\/events$/).length;
    const before = lookups();
    expect(await deliverIssue(url, fake, issue.number, 'labeled', { label: 'miyabi:implementing', sender: 'miyabi-bot' })).toBe(200);
    expect(lookups()).toBe(before);
    await writeFile(join(held, `release-${issue.number}`), '');

    const retry = { id: 4242, body: '/miyabi retry', author: 'acme', association: 'OWNER' };
    const delivery = 'c0ffee00-0000-4000-8000-000000000001';
    const comments = await retriedOnce(url, issue.number, retry, delivery);

    await orchestra!.stop();
    url = await start();
    // GitHub's "Redeliver": the same delivery id, known from the durable ledger (not the comment's).
    expect(await deliverComment(url, fake, issue.number, retry, delivery)).toBe(200);
    // The same comment in another delivery: known by its comment id.
    expect(await deliverComment(url, fake, issue.number, retry)).toBe(200);
    await quiet();
    expect(stateOf(issue.number)).toEqual({ state: 'done', generation: 2 });
    expect(fake.commentCount(issue.number)).toBe(comments);
    const log = await orchestraLog(data);
    const seen = log.filter((line) => line.msg === 'webhook delivery seen before: not handled again').map((line) => (line.webhook as { deliveryId: string }).deliveryId);
    expect(seen).toEqual([delivery]);
    expect(log.filter((line) => line.msg === 'comment already obeyed; not again')).toHaveLength(1);
  });

  it('a command published but not remembered (the orchestrator killed between the two) is obeyed once: its redelivery days later does nothing', async () => {
    const { fake, held, start, data } = await webhookOrchestra();
    const issue = trustedIssue(fake, 'Retried once, crashed once');
    await mkdir(held, { recursive: true });
    await writeFile(join(held, `release-${issue.number}`), '');
    let url = await start();
    const retry = { id: 4343, body: '/miyabi retry', author: 'acme', association: 'OWNER' };
    const delivery = 'c0ffee00-0000-4000-8000-000000000002';
    const comments = await retriedOnce(url, issue.number, retry, delivery);

    // The crash window: the command was published (and obeyed), but neither the delivery nor the
    // comment reached the once ledger — as when the orchestrator is killed between the publish and
    // the ledger's writes. The bus forgot the message id long ago (100 ms).
    const once = await orchestra!.resources.bus!.once();
    for (const key of [`delivery.${delivery}`, `command.${issue.number}.${retry.id}`]) await once.delete(kvKey(key));
    await orchestra!.stop();
    url = await start();
    // GitHub's "Redeliver": handled again, the command published again — and not obeyed again.
    expect(await deliverComment(url, fake, issue.number, retry, delivery)).toBe(200);
    await quiet();
    expect(stateOf(issue.number)).toEqual({ state: 'done', generation: 2 });
    expect(fake.commentCount(issue.number)).toBe(comments);
    const log = await orchestraLog(data);
    expect(log.filter((line) => line.msg === 'webhook delivery seen before: not handled again')).toEqual([]);
    // At least once, not exactly: the bus delivers at least once, and a command handed to the
    // workflow again (an ack later than its wait on a loaded machine) is refused the same way.
    const refused = log.filter((line) => line.msg === 'command already obeyed; not again').map((line) => line.command);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(new Set(refused)).toEqual(new Set([`command:${issue.number}:${retry.id}`]));
  });
});
