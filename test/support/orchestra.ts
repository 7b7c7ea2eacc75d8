/**
 * A whole orchestra in-process for a test file: a temp data directory, a real git repository as
 * the workspace, the embedded nats-server, agent runners in tmux (a private socket) or headless.
 * Tasks are published and results read through the real bus.
 */
import { execa } from 'execa';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.ts';
import type { IssueSource } from '../../src/issues/source.ts';
import { startOrchestra, type Orchestra } from '../../src/orchestra/orchestra.ts';
import { resultSubject, taskSubject, TASK_DISPATCHED, TASK_REDELIVERED, type TaskMessage, type TaskRedelivered, type TaskResult } from '../../src/runner/task-message.ts';
import { flattenTree, type TreeNode } from '../../src/supervisor/index.ts';
import { tempDir, type TempDir } from './cli.ts';
import { deferred, waitFor } from './wait.ts';

export interface TestOrchestra {
  orchestra: Orchestra;
  dir: TempDir;
  repo: string;
  dataDir: string;
  socket: string;
  /** Publishes a task for `role`; resolves with its stream sequence. */
  dispatch(role: string, task: Partial<TaskMessage> & { issue: TaskMessage['issue'] }): Promise<string>;
  /** Resolves with the next result for the task (results arrive in order of publication). */
  result(taskId: string, options?: { timeoutMs?: number; attempt?: number }): Promise<TaskResult>;
  results: TaskResult[];
  /** What runners said when they took over a task delivered before (`task.redelivered`). */
  redeliveries: TaskRedelivered[];
  node(path: string): (TreeNode & { path: string }) | undefined;
  stop(): Promise<void>;
}

export async function gitRepo(path: string): Promise<void> {
  const git = (...args: string[]) => execa('git', args, { cwd: path });
  await git('init', '-q', '-b', 'main');
  await git('config', 'user.name', 'Test');
  await git('config', 'user.email', 'test@example.invalid');
  await execa('sh', ['-c', 'echo "# target" > README.md'], { cwd: path });
  await git('add', '.');
  await git('commit', '-q', '-m', 'initial');
}

/**
 * What exampleAgentsConfig points at: `<dir>/issues` with one issue file per number (title
 * "Docs <n>", the labels given, no body) and `<dir>/repo`, a git repository.
 */
export async function localBacklog(dir: TempDir, numbers: readonly number[], labels: string): Promise<void> {
  const issues = join(dir.path, 'issues');
  const repo = join(dir.path, 'repo');
  await mkdir(issues);
  await mkdir(repo);
  await gitRepo(repo);
  for (const number of numbers) await writeFile(join(issues, `${number}.md`), `---\nnumber: ${number}\ntitle: Docs ${number}\nlabels: ${labels}\n---\n`);
}

export async function startTestOrchestra(options: {
  backend: 'tmux' | 'process';
  agents: Record<string, Record<string, unknown>>;
  config?: Record<string, unknown>;
  /** Issue files (name → text) in the issue directory before the orchestra starts, so the first poll sees them all. */
  issues?: Record<string, string>;
  /** An issue source of the test's own (a GitHub source with shrunk retries, say) instead of the configured one. */
  issueSource?: IssueSource;
  /** Prepares the workspace repository (an `origin` remote, say) before the orchestra starts. */
  prepareRepo?: (repo: string) => Promise<void>;
}): Promise<TestOrchestra> {
  const dir = await tempDir('miyabi-orchestra-');
  const repo = join(dir.path, 'repo');
  await execa('mkdir', ['-p', repo]);
  await gitRepo(repo);
  await options.prepareRepo?.(repo);
  const dataDir = join(dir.path, 'data');
  // No backlog: these tests dispatch their own tasks (the workflow's tests bring theirs).
  const issuesDir = join(dir.path, 'issues');
  await execa('mkdir', ['-p', issuesDir]);
  for (const [name, text] of Object.entries(options.issues ?? {})) await writeFile(join(issuesDir, name), text);
  const socket = `miyabi-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const configPath = await dir.file(
    'miyabi.yaml',
    stringify({
      dataDir,
      http: { enabled: false },
      log: { level: 'debug', file: true },
      // Long enough that a redelivery within a test comes from a nak, never from the ack wait.
      bus: { ackWaitMs: 30_000, maxDeliver: 5 },
      issues: { local: { dir: issuesDir, pollIntervalMs: 500 } },
      agents: options.agents,
      ...options.config,
      // The test's workspace and pane settings go with the repository and the private tmux
      // socket, not instead of them.
      workspace: { repo, ...(options.config?.workspace as Record<string, unknown> | undefined) },
      panes: {
        backend: options.backend,
        socket,
        session: 'miyabi-test',
        heartbeatIntervalMs: 500,
        missedHeartbeats: 4,
        // No spare runners unless a test asks for them: each is a Node process started with the
        // orchestra and again after every claim, a third of the suite's CPU for tests that never
        // lose a runner. The tests of recovery, identities and the bus turn them on.
        spareRunners: false,
        ...(options.config?.panes as Record<string, unknown> | undefined),
      },
    }),
  );
  let orchestra: Orchestra;
  try {
    orchestra = await startOrchestra(await loadConfig(configPath), { logStream: false, ...(options.issueSource ? { issueSource: options.issueSource } : {}) });
  } catch (error) {
    // Nothing started: leave nothing behind either.
    await dir[Symbol.asyncDispose]();
    throw error;
  }
  const nc = orchestra.resources.nc as NatsConnection;
  const results: TaskResult[] = [];
  const redeliveries: TaskRedelivered[] = [];
  const waiters: Array<{ taskId: string; attempt?: number; resolve: (result: TaskResult) => void }> = [];
  const subscriptions: Subscription[] = [];
  for (const role of Object.keys(options.agents)) {
    subscriptions.push(
      nc.subscribe(resultSubject(role, '*'), {
        callback: (_error, message) => {
          const { type, payload } = message.json() as { type: string; payload: TaskResult | TaskRedelivered };
          if (type === TASK_REDELIVERED) return void redeliveries.push(payload as TaskRedelivered);
          const result = payload as TaskResult;
          results.push(result);
          for (const waiter of [...waiters]) {
            if (waiter.taskId === result.taskId && (waiter.attempt === undefined || waiter.attempt === result.attempt)) {
              waiters.splice(waiters.indexOf(waiter), 1);
              waiter.resolve(result);
            }
          }
        },
      }),
    );
  }
  await nc.flush();
  let taskCounter = 0;
  return {
    orchestra,
    dir,
    repo,
    dataDir,
    socket,
    results,
    redeliveries,
    async dispatch(role, task) {
      taskCounter += 1;
      const taskId = task.taskId ?? `t${taskCounter}-${task.issue.number}-${role}`;
      const message: TaskMessage = {
        taskId,
        role,
        stage: role,
        attempt: 1,
        branch: `miyabi/issue-${task.issue.number}`,
        previous: {},
        ...task,
      };
      await orchestra.resources.bus!.publish(taskSubject(role), TASK_DISPATCHED, message, { msgId: taskId });
      return taskId;
    },
    result(taskId, { timeoutMs = 60_000, attempt } = {}) {
      const seen = results.find((result) => result.taskId === taskId && (attempt === undefined || result.attempt === attempt));
      if (seen) return Promise.resolve(seen);
      const waiting = deferred<TaskResult>();
      waiters.push({ taskId, attempt, resolve: waiting.resolve });
      const timer = setTimeout(() => waiting.reject(new Error(`no result for ${taskId} within ${timeoutMs} ms`)), timeoutMs);
      return waiting.promise.finally(() => clearTimeout(timer));
    },
    node: (path) => flattenTree(orchestra.inspect()).find((node) => node.path === path),
    async stop() {
      for (const subscription of subscriptions) subscription.unsubscribe();
      await orchestra.stop();
      // The tmux server is the orchestra's own socket: nothing may be left on it.
      await execa('tmux', ['-L', socket, 'kill-server'], { reject: false });
      await dir[Symbol.asyncDispose]();
    },
  };
}

/** Waits until the agent's runner has sent a heartbeat and is idle or busy. */
export function agentState(test: TestOrchestra, role: string, agentId: string): string | undefined {
  return test.node(`root/agents/pool.${role}/${agentId}`)?.state;
}

export async function waitAgentReady(test: TestOrchestra, role: string, agentId: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(() => (agentState(test, role, agentId) ?? '').includes('ready.'), { timeoutMs, what: `${agentId} ready` });
}

export const issue = (number: number, extra: Partial<TaskMessage['issue']> = {}): TaskMessage['issue'] => ({
  number,
  title: `Issue ${number}`,
  body: 'Please do the thing.',
  labels: [],
  author: 'octocat',
  ...extra,
});
