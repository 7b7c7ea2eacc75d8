/**
 * The web console in a real browser: Debian's chromium, driven by playwright-core, against a
 * real orchestra (in-process, the embedded nats-server, a real agent) working a small local
 * backlog, bound off loopback so that the token is needed. Every request the browser makes is
 * recorded (request interception) and must go to the orchestra. A screenshot of each view is
 * saved under test-artifacts/console/.
 *
 * Needs the Debian package `chromium` (`./bootstrap test` installs it): without it this file
 * fails, it is never skipped.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTROL_SUBJECTS, type StatusReply } from '../../src/actors/control-subjects.ts';
import { flattenTree } from '../../src/supervisor/index.ts';
import { repoRoot, tempDir, type TempDir } from '../support/cli.ts';
import { startTestOrchestra, type TestOrchestra } from '../support/orchestra.ts';
import { waitFor } from '../support/wait.ts';
import { issueFile, waitForState } from '../support/workflow-run.ts';

const CHROMIUM = process.env.MIYABI_CHROMIUM ?? '/usr/bin/chromium';
const TOKEN = `browser-token-${process.pid}-${Math.random().toString(36).slice(2)}`;
const ARTIFACTS = join(repoRoot, 'test-artifacts', 'console');
const WAIT = { timeout: 30_000 };

let test: TestOrchestra;
let holdTemp: TempDir;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let base: string;
const requests: string[] = [];
/** Script errors and policy violations in the page: there must be none. */
const pageErrors: string[] = [];

const consoleUrl = (hash: string) => `${base}/?token=${TOKEN}#${hash}`;
const screenshot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
/** Opens a view by its hash (the page is loaded once; a new hash switches the view). */
async function open(hash: string): Promise<void> {
  if (page.url().startsWith(`${base}/?token=`)) await page.evaluate(`location.hash = ${JSON.stringify(hash)}`);
  else await page.goto(consoleUrl(hash));
  await page.locator(`main[data-view="${hash.split('/')[0]}"]`).waitFor(WAIT);
}
const activeState = (id: string) => page.locator(`svg g.state.active[data-state-id="${id}"]`);

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: the console's browser tests need the Debian package \`chromium\` (./bootstrap test, or apt-get install chromium)`);
  }
  await mkdir(ARTIFACTS, { recursive: true });
  process.env.MIYABI_TEST_BROWSER_TOKEN = TOKEN;
  holdTemp = await tempDir('miyabi-browser-hold-');
  test = await startTestOrchestra({
    backend: 'process',
    agents: { codegen: { command: ['node', join(repoRoot, 'test/support/agents/codegen.mjs'), 'hold', holdTemp.path], min: 1, max: 1 } },
    config: {
      http: { enabled: true, host: '0.0.0.0', port: 0 },
      console: { tokenEnv: 'MIYABI_TEST_BROWSER_TOKEN' },
      workflow: { defaultRoute: ['codegen'] },
    },
  });
  base = `http://127.0.0.1:${new URL(test.orchestra.resources.httpUrl!).port}`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  // Every request the page makes, whatever its kind (document, script, fetch, EventSource, font…).
  await context.route('**/*', (route) => {
    requests.push(route.request().url());
    return new URL(route.request().url()).origin === base ? route.continue() : route.abort();
  });
  page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    // The refusals (401) and the deleted history (503) are answers the tests ask for.
    if (message.type() === 'error' && !/status of (401|503)\b/.test(message.text())) pageErrors.push(`console: ${message.text()}`);
  });
}, 90_000);

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await test?.stop();
  await holdTemp?.[Symbol.asyncDispose]();
  delete process.env.MIYABI_TEST_BROWSER_TOKEN;
});

describe('the web console in chromium', { timeout: 60_000 }, () => {
  it('refuses the page without the token when bound off loopback, and serves it with the token', async () => {
    const refused = await page.goto(`${base}/#tree`);
    expect(refused?.status()).toBe(401);
    expect(await page.content()).toContain('unauthorized');
    const wrong = await page.goto(`${base}/?token=wrong#tree`);
    expect(wrong?.status()).toBe(401);
    const served = await page.goto(consoleUrl('tree'));
    expect(served?.status()).toBe(200);
    expect(served?.headers()['content-security-policy']).toContain("connect-src 'self'");
    await expect(page.title()).resolves.toBe('Miyabi Orchestra console');
  });

  it('lists in the tree every actor of status --json, live', async () => {
    await open('tree');
    await page.locator('#connection', { hasText: 'live' }).waitFor(WAIT);
    const status = (await test.orchestra.resources.nc!.request(CONTROL_SUBJECTS.status, undefined, { timeout: 5_000 })).json<StatusReply>();
    const expected = flattenTree(status.tree).map((node) => node.path).sort();
    expect(expected).toContain('root/agents/pool.codegen/codegen-1');
    const shown = async () => (await page.locator('li.actor').evaluateAll((items) => items.map((item) => item.getAttribute('data-path') ?? ''))).sort();
    await expect.poll(shown, WAIT).toEqual(expected);
    // Each row says the actor's status, state, restarts and uptime; a supervisor its strategy.
    const root = page.locator('li.actor[data-path="root"] > .row');
    await expect.poll(() => root.textContent()).toContain('rest_for_one');
    const agentRow = page.locator('li.actor[data-path="root/agents/pool.codegen/codegen-1"] > .row');
    await expect.poll(() => agentRow.textContent(), WAIT).toMatch(/running.*alive\.ready\.idle.*0 restarts/);
    await screenshot('tree');
    // An actor running a machine of the catalog opens its diagram.
    await agentRow.locator('.name.link').click();
    await page.locator('main[data-view="machines"] svg[data-machine="agent-pane"]').waitFor(WAIT);
  });

  it('highlights the agent pane idle, then busy when a task arrives, following it live', async () => {
    await open('machines/agent-pane');
    await activeState('agent-pane.alive.ready.idle').and(page.locator('[data-actors~="codegen-1"]')).waitFor(WAIT);
    await screenshot('machines-idle');
    await writeFile(join(test.dir.path, 'issues', '1.md'), issueFile({ number: 1 }));
    await activeState('agent-pane.alive.ready.busy').and(page.locator('[data-actors~="codegen-1"]')).waitFor(WAIT);
    expect(await activeState('agent-pane.alive.ready.idle').count()).toBe(0);
    await screenshot('machines-busy');
    await waitFor(() => existsSync(join(holdTemp.path, 'held-1')) || undefined, { what: 'the agent holding #1' });
  });

  it("shows the queues, the busy agent and a live tail of the agent's output", async () => {
    await open('queues/codegen-1');
    const role = page.locator('section.role[data-role="codegen"]');
    await role.locator('a.busy[data-agent="codegen-1"]').waitFor(WAIT);
    await expect.poll(() => role.locator('ul.running').textContent(), WAIT).toContain('#1');
    await expect.poll(() => page.locator('#agent-output').textContent(), WAIT).toContain('miyabi task start');
    await screenshot('queues');
    await writeFile(join(holdTemp.path, 'release-1'), '');
    await waitForState(test, [1], 'done');
    await expect.poll(() => page.locator('#agent-output').textContent(), WAIT).toContain('miyabi task end');
  });

  it("shows an issue's transitions in order, and stepping back moves the diagram's highlight", async () => {
    await open('issue/1');
    const events = () => page.locator('#timeline li').evaluateAll((items) => items.map((item) => `${item.getAttribute('data-event')}→${item.getAttribute('data-state')}`));
    await expect.poll(events, WAIT).toEqual(['deps.ready→queued', 'stage.dispatch→running', 'stage.result→done']);
    await expect.poll(() => page.locator('#timeline li').nth(2).textContent()).toMatch(/stage codegen · attempt 1 · agent codegen-1/);
    await activeState('issue-lifecycle.done').waitFor(WAIT);
    expect(await page.locator('#step-context').textContent()).toContain('"history"');
    await screenshot('issue-done');
    await page.locator('#step-back').click();
    await activeState('issue-lifecycle.running').waitFor(WAIT);
    expect(await activeState('issue-lifecycle.done').count()).toBe(0);
    expect(await page.locator('#timeline li.selected').getAttribute('data-state')).toBe('running');
    await page.locator('#step-back').click();
    await activeState('issue-lifecycle.queued').waitFor(WAIT);
    await screenshot('issue-stepped-back');
    await page.locator('#step-forward').click();
    await activeState('issue-lifecycle.running').waitFor(WAIT);
  });

  it('draws the dependency graph with live states', async () => {
    await open('graph');
    await page.locator('svg.dag g[data-state-id="issue-1"][data-issue-state="done"]').waitFor(WAIT);
    await screenshot('graph');
  });

  it('searches the log index', async () => {
    await open('logs');
    await page.locator('#logs-issue').fill('1');
    await page.locator('#logs-form button[type="submit"]').click();
    await expect.poll(() => page.locator('#logs-hits li').count(), WAIT).toBeGreaterThan(0);
    expect(await page.locator('#logs-hits li .where').first().textContent()).toContain('#1');
    await screenshot('logs');
  });

  it("flashes an actor's row when it restarts, and counts the restart", async () => {
    await open('tree');
    const agentRow = page.locator('li.actor[data-path="root/agents/pool.codegen/codegen-1"]');
    await expect.poll(() => agentRow.locator('> .row .restarts').textContent(), WAIT).toBe('0 restarts');
    expect(await agentRow.getAttribute('class')).not.toContain('flash');
    // As `restart` over the control subject does (the operator's subject; this is the orchestrator's connection).
    await test.orchestra.resources.root()!.childSupervisor('agents')!.childSupervisor('pool.codegen')!.restartChild('codegen-1');
    await page.locator('li.actor.flash[data-path="root/agents/pool.codegen/codegen-1"]').waitFor(WAIT);
    await expect.poll(() => agentRow.locator('> .row .restarts').textContent(), WAIT).toBe('1 restart');
    await screenshot('tree-restart');
  });

  it('says so when the history stream was deleted, and shows the live state', async () => {
    await (await jetstreamManager(test.orchestra.resources.nc!)).streams.delete(test.orchestra.resources.inspection.stream);
    await page.goto(consoleUrl('issue/1'));
    const notice = page.locator('#issue-notice[data-error="inspection_history_missing"]');
    await notice.waitFor(WAIT);
    expect(await notice.textContent()).toMatch(/history of #1 is gone.*live state is shown: done/);
    await activeState('issue-lifecycle.done').waitFor(WAIT);
    await screenshot('issue-history-gone');
  });

  it('made no request to any host but the orchestra, and ran without a script error or a policy violation', () => {
    expect(pageErrors).toEqual([]);
    expect(requests.length).toBeGreaterThan(10);
    expect(requests.filter((url) => new URL(url).origin !== base)).toEqual([]);
    // The EventSource and the APIs carried the token.
    expect(requests.some((url) => url.startsWith(`${base}/api/events?token=`))).toBe(true);
  });
});
