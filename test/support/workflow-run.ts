/**
 * For the workflow's integration tests on the local source: the issue files and agents a run
 * starts with, and what it leaves to read back — the orchestra log, the local tracker
 * (`pulls.json`, `issue-<n>.json`), the task files, and git facts of the workspace repository.
 */
import { execa } from 'execa';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { LifecycleSnapshot } from '../../src/workflow/engine.ts';
import { repoRoot } from './cli.ts';
import type { TestOrchestra } from './orchestra.ts';
import { waitFor } from './wait.ts';

export const fixturesDir = join(repoRoot, 'test/workflow/fixtures');

/** One example agent (examples/agents/<role>.mjs), headless-friendly. */
export const exampleAgent = (role: string, extra: Record<string, unknown> = {}) => ({
  command: ['node', join(repoRoot, `examples/agents/${role}.mjs`)],
  min: 1,
  max: 1,
  ...extra,
});

export const exampleAgents = (...roles: string[]) => Object.fromEntries(roles.map((role) => [role, exampleAgent(role)]));

/** `argv` held until the test writes `<gates>/<name>`, when `<gates>/<name>.hold` exists (fixtures/gate.mjs). */
export const gated = (gates: string, name: string, argv: string[]) => ['node', join(fixturesDir, 'gate.mjs'), join(gates, name), '--', ...argv];

/** The example CI check (`workflow.ci.command`). */
export const exampleCi = ['node', '{packageRoot}/examples/ci/check.mjs'];

/** The example code generator, two at a time, each run held by the gate `codegen-<issue>-r<round>`. */
export function gatedCodegen(gates: string) {
  const codegen = exampleAgent('codegen', { min: 2, max: 2 });
  return { ...codegen, command: gated(gates, 'codegen-{issue}-r{round}', codegen.command) };
}

export interface IssueSpec {
  number: number;
  title?: string;
  labels?: string[];
  dependsOn?: number[];
  body?: string;
  comments?: Array<{ author: string; association?: string; body: string }>;
}

/** An issue file of the local source (front matter and body); the trigger label is added. */
export function issueFile(spec: IssueSpec): string {
  const { number, title = `Issue ${number}`, labels = [], dependsOn = [], body = `Work for issue ${number}.`, comments } = spec;
  const front = { number, title, labels: ['miyabi', ...labels], dependsOn, ...(comments ? { comments } : {}) };
  return `---\n${stringify(front)}---\n${body}\n`;
}

export const issueFiles = (specs: IssueSpec[]): Record<string, string> => Object.fromEntries(specs.map((spec) => [`${spec.number}.md`, issueFile(spec)]));

export interface LogLine {
  msg: string;
  time: string;
  level: number;
  issue?: number;
  taskId?: string;
  stage?: string;
  [key: string]: unknown;
}

export async function orchestraLog(dataDir: string): Promise<LogLine[]> {
  const text = await readFile(join(dataDir, 'logs', 'orchestra.log'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as LogLine);
}

/** Waits for a line of the orchestra log; resolves with it. */
export function waitForLog(dataDir: string, match: (line: LogLine) => boolean, what: string, timeoutMs = 60_000): Promise<LogLine> {
  return waitFor(async () => (await orchestraLog(dataDir)).find(match), { timeoutMs, intervalMs: 25, what });
}

/** The index in the log of the first line that matches (-1: none). */
export const indexOf = (log: readonly LogLine[], msg: string, issue: number) => log.findIndex((line) => line.msg === msg && line.issue === issue);

export interface LocalPull {
  number: number;
  issue: number;
  head: string;
  base: string;
  state: string;
  merged: boolean;
  mergeCommit?: string;
}

export async function pulls(dataDir: string): Promise<LocalPull[]> {
  return JSON.parse(await readFile(join(dataDir, 'tracker', 'pulls.json'), 'utf8').catch(() => '[]')) as LocalPull[];
}

export interface TrackerIssue {
  labels: { added: string[]; removed: string[] };
  comments: Array<{ key: string; body: string }>;
  merged?: { pull: number; sha: string };
}

export async function trackerIssue(dataDir: string, number: number): Promise<TrackerIssue> {
  return JSON.parse(await readFile(join(dataDir, 'tracker', `issue-${number}.json`), 'utf8')) as TrackerIssue;
}

/** The task file an agent was given (`<dataDir>/tasks/<taskId>/task.json`). */
export async function taskFile(dataDir: string, taskId: string): Promise<Record<string, any>> {
  return JSON.parse(await readFile(join(dataDir, 'tasks', taskId, 'task.json'), 'utf8')) as Record<string, any>;
}

export const git = async (repo: string, ...args: string[]): Promise<string> => (await execa('git', args, { cwd: repo })).stdout.trim();

export const isAncestor = async (repo: string, ancestor: string, descendant: string): Promise<boolean> =>
  (await execa('git', ['merge-base', '--is-ancestor', ancestor, descendant], { cwd: repo, reject: false })).exitCode === 0;

export function snapshotOf(test: TestOrchestra, number: number): LifecycleSnapshot | undefined {
  return test.orchestra.resources.workflow?.snapshot(number);
}

/** Finished issues of an earlier run are summed up, without a snapshot: their state is in `states()`. */
export const stateOf = (test: TestOrchestra, number: number): string | undefined => test.orchestra.resources.workflow?.states().get(number);

/** States an issue leaves only on news from outside (an edit, a retry): waiting on, they will not change. */
const SETTLED = new Set(['done', 'failed', 'blocked', 'released']);

/** Waits until every issue is in `state`; fails at once, with the reason, when one settles elsewhere. */
export async function waitForState(test: TestOrchestra, numbers: number[], state: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const states = numbers.map((number) => [number, stateOf(test, number)] as const);
    if (states.every(([, now]) => now === state)) return;
    for (const [number, now] of states) {
      if (now !== undefined && now !== state && SETTLED.has(now)) {
        throw new Error(`#${number} is ${now}, not ${state}: ${snapshotOf(test, number)?.context.reason ?? ''}`);
      }
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${numbers.map((n) => `#${n}`).join(', ')} ${state}: ${states.map(([n, s]) => `#${n} ${s}`).join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
