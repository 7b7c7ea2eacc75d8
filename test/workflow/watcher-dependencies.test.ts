/**
 * The dependencies the issue watcher publishes: GitHub's own "blocked by" relationships (the fake
 * server, the real client) added to the body's, asked once per issue version and not at all once
 * the server said it has none; and dependencies on another repository ignored with one log line,
 * from GitHub, from a body (local source, real files) and from the dependency file.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.ts';
import { LocalIssueSource } from '../../src/issues/local-source.ts';
import type { IssueSource } from '../../src/issues/source.ts';
import { loadDependencyFile } from '../../src/workflow/dependency-file.ts';
import { IssueWatcher } from '../../src/workflow/watcher.ts';
import { githubSourceHarness } from '../support/github-source.ts';
import { waitFor } from '../support/wait.ts';

const harness = githubSourceHarness();

let root: string | undefined;
const sources: LocalIssueSource[] = [];
afterEach(async () => {
  for (const source of sources.splice(0)) await source.close();
  if (root) await rm(root, { recursive: true, force: true });
  root = undefined;
});

function configOf(yaml: string) {
  const parsed = parseConfigText(yaml, 'test.yaml');
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return parsed.config;
}

const githubYaml = 'issues: { source: github, github: { owner: acme, repo: widgets, fullPollEvery: 1 } }\n';

function watch(source: IssueSource, yaml = githubYaml) {
  const observed = new Map<number, number[]>();
  const info: string[] = [];
  const watcher = new IssueWatcher({
    config: configOf(yaml),
    source,
    logger: pino({ level: 'info' }, { write: (line: string) => void info.push(JSON.parse(line).msg) }),
    publish: async (_subject, type, payload) => {
      if (type === 'issue.observed') {
        const { issue, dependsOn } = payload as { issue: { number: number }; dependsOn: number[] };
        observed.set(issue.number, dependsOn);
      }
    },
  });
  const foreign = () => info.filter((line) => line.startsWith('dependency on another repository ignored'));
  return { watcher, observed, foreign };
}

describe("GitHub's blocked-by relationships", () => {
  it('are dependencies, asked once per issue version; those on another repository are logged once per issue and ignored', async () => {
    const fake = await harness.fake();
    const source = harness.source(fake);
    const add = (title: string, body = '') => {
      const issue = fake.addIssue({ title, body, author: 'acme', authorAssociation: 'OWNER' });
      fake.labelIssue(issue.number, 'miyabi', 'acme');
      return issue.number;
    };
    const schema = add('Schema');
    const api = add('API');
    const web = add('Web', 'Depends on other/repo#9. Requires acme/widgets#2.');
    fake.setBlockedBy(web, [{ number: schema }, { number: 4, repo: 'other/lib' }]);
    const { watcher, observed, foreign } = watch(source);
    const asked = (number: number) => fake.requestsTo('GET', `/repos/acme/widgets/issues/${number}/dependencies/blocked_by`).length;

    await watcher.poll();
    expect(observed.get(web)).toEqual([schema, api]);
    expect(foreign()).toEqual(['dependency on another repository ignored: other/repo#9, other/lib#4']);
    expect([asked(schema), asked(api), asked(web)]).toEqual([1, 1, 1]);

    // Another issue changes: #web is the same version, not asked again, not logged again.
    fake.addComment(api, 'Started on it.', 'acme');
    await watcher.poll();
    expect([asked(schema), asked(api), asked(web)]).toEqual([1, 2, 1]);
    expect(foreign()).toHaveLength(1);

    // A new version of #web: asked again, its new blocker counts (and changes the content hash);
    // the same foreign ones are not logged again (a label the orchestra sets makes a version too).
    const extra = add('Docs');
    fake.setBlockedBy(web, [{ number: schema }, { number: extra }, { number: 4, repo: 'other/lib' }]);
    fake.addComment(web, 'Also blocked by the docs now.', 'acme');
    await watcher.poll();
    expect(asked(web)).toBe(2);
    expect(observed.get(web)).toEqual([schema, api, extra]);
    fake.labelIssue(web, 'miyabi:implementing', 'acme');
    await watcher.poll();
    expect(asked(web)).toBe(3);
    expect(foreign()).toHaveLength(1);

    // Another foreign one: logged, with what is named now.
    fake.setBlockedBy(web, [{ number: schema }, { number: extra }, { number: 4, repo: 'other/lib' }, { number: 5, repo: 'other/lib' }]);
    fake.addComment(web, 'And other/lib#5.', 'acme');
    await watcher.poll();
    expect(foreign()).toEqual([
      'dependency on another repository ignored: other/repo#9, other/lib#4',
      'dependency on another repository ignored: other/repo#9, other/lib#4, other/lib#5',
    ]);
  });

  it('a server without them (404) is asked once, and the body still counts', async () => {
    const fake = await harness.fake({ dependencies: false });
    const source = harness.source(fake);
    const first = fake.addIssue({ title: 'First', author: 'acme', authorAssociation: 'OWNER' });
    const second = fake.addIssue({ title: 'Second', body: 'depends on #1', author: 'acme', authorAssociation: 'OWNER' });
    for (const issue of [first, second]) fake.labelIssue(issue.number, 'miyabi', 'acme');
    const { watcher, observed } = watch(source);
    await watcher.poll();
    fake.addComment(first.number, 'A change.', 'acme');
    fake.addComment(second.number, 'A change.', 'acme');
    await watcher.poll();
    await watcher.poll();
    expect(fake.requestsTo('GET', /\/dependencies\/blocked_by$/).map((request) => request.status)).toEqual([404]);
    expect(observed.get(second.number)).toEqual([first.number]);
  });
});

describe('dependencies on another repository', () => {
  it('in a body (local source) are ignored with one log line per issue, not one per version', async () => {
    root = await mkdtemp(path.join(tmpdir(), 'miyabi-foreign-'));
    const dir = path.join(root, 'backlog');
    await mkdir(dir);
    const issue = (number: number, body: string) =>
      writeFile(path.join(dir, `${number}.md`), ['---', `number: ${number}`, `title: Issue ${number}`, 'labels: [miyabi]', '---', '', body, ''].join('\n'));
    await issue(1, 'The base.');
    await issue(2, 'Depends on other/repo#12 and #1.\n- [ ] https://github.com/other/repo/issues/13');
    const source = new LocalIssueSource({ dir, trackerDir: path.join(root, 'tracker') });
    sources.push(source);
    const { watcher, observed, foreign } = watch(source, `issues: { source: local, local: { dir: ${dir} } }\n`);
    await watcher.poll();
    await watcher.poll();
    expect(observed.get(2)).toEqual([1]);
    expect(foreign()).toEqual(['dependency on another repository ignored: other/repo#12, other/repo#13']);
    // The orchestra labels it as it works (each a new version of the issue): still that one line.
    for (const label of ['miyabi:pending', 'miyabi:implementing']) {
      const before = (await source.get(2))!.updatedAt;
      await source.setExclusiveLabel(2, ['miyabi:pending', 'miyabi:implementing'], label);
      await waitFor(async () => (await source.get(2))!.updatedAt !== before, { what: 'a new version of #2' });
      await watcher.poll();
    }
    expect(foreign()).toHaveLength(1);
  });

  it('in the dependency file are ignored, each named with its line; our repository named in full counts', async () => {
    root = await mkdtemp(path.join(tmpdir(), 'miyabi-foreign-file-'));
    const file = path.join(root, 'deps.yaml');
    await writeFile(file, '12: [3, other/repo#5, acme/widgets#6]\n');
    const loaded = await loadDependencyFile(configOf(`${githubYaml}workflow: { dependenciesFile: ${file} }\n`));
    expect(loaded).toEqual({
      ok: true,
      dependencies: new Map([[12, [3, 6]]]),
      ignored: [`${file}:1:9: other/repo#5 in the dependencies of #12 is an issue of another repository: ignored`],
    });
    // The local source has no repository of its own: every named one is another.
    const local = await loadDependencyFile(configOf(`workflow: { dependenciesFile: ${file} }\n`));
    expect(local.ok && [local.dependencies, local.ignored.length]).toEqual([new Map([[12, [3]]]), 2]);
  });
});
