/**
 * `miyabi-orchestra cluster up --once` (src/cli/commands/cluster.ts), the real CLI as an operator
 * runs it: three nats-servers routed on loopback (R3) and three orchestra processes working one
 * backlog with dependencies (CI size 12; `npm run test:cluster-full` works 100), each stage an
 * example agent as a plain process:
 *
 * - every issue done, tasks run on more than one node, and no task finished twice (the runners'
 *   markers in every node's pane logs, read here on their own, not only as the command says; a
 *   run that ended handing its task back, `retry`, finished nothing),
 *   every tracker side effect once (no comment key twice, the done label once, one pull request);
 * - with `--kill-leader`, the leading node is killed with `kill -9` once half the backlog is done:
 *   a follower leads with a higher epoch, the backlog completes, and still nothing ran twice and
 *   no side effect happened twice.
 */
import { execa } from 'execa';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runTwice, stageRuns } from '../../src/orchestra/cluster-progress.ts';
import { cliPath, repoRoot, tempDir, type TempDir } from '../support/cli.ts';

const ISSUES = Number(process.env.MIYABI_CLUSTER_ISSUES ?? 12);
const TIMEOUT_MS = ISSUES > 20 ? 1_800_000 : 240_000;

/** Chains and fan-outs: every third issue depends on the one before it, every fifth on the first of its five. */
function dependenciesOf(n: number): number[] {
  const on = new Set<number>();
  if (n % 3 === 0) on.add(n - 1);
  if (n % 5 === 0 && n > 5) on.add(n - 4);
  return [...on];
}

async function backlog(dir: TempDir): Promise<{ config: string; issues: string }> {
  const issues = join(dir.path, 'issues');
  await mkdir(issues);
  for (let n = 1; n <= ISSUES; n++) {
    const body = dependenciesOf(n).map((d) => `Depends on #${d}.`).join('\n');
    await writeFile(join(issues, `${n}.md`), `---\nnumber: ${n}\ntitle: Docs ${n}\nlabels: [miyabi, "type:docs"]\n---\n${body}\n`);
  }
  const agent = (role: string) => ({ command: ['node', join(repoRoot, `examples/agents/${role}.mjs`)], min: 1, max: 2 });
  const config = await dir.file(
    'base.yaml',
    stringify({
      http: { enabled: true },
      log: { level: 'info' },
      issues: { local: { dir: issues, pollIntervalMs: 500 } },
      workflow: { routes: [], defaultRoute: ['codegen', 'pr', 'merge'], retry: { initialDelayMs: 200 }, ci: { command: [] } },
      agents: { codegen: agent('codegen'), pr: agent('pr') },
      panes: { backend: 'process', spareRunners: false, scaleIntervalMs: 500 },
    }),
  );
  return { config, issues };
}

/** Every worked issue's tracker record: no comment key twice, the done label added once, one pull request. */
async function expectEachSideEffectOnce(trackerDir: string): Promise<void> {
  const pulls = JSON.parse(await readFile(join(trackerDir, 'pulls.json'), 'utf8')) as Array<{ issue: number }>;
  for (let n = 1; n <= ISSUES; n++) {
    const record = JSON.parse(await readFile(join(trackerDir, `issue-${n}.json`), 'utf8')) as { comments: Array<{ key: string }>; labels: { added: string[] } };
    const keys = record.comments.map((comment) => comment.key);
    expect(new Set(keys).size, `#${n} comments ${keys.join(', ')}`).toBe(keys.length);
    expect(record.labels.added.filter((label) => label === 'miyabi:done'), `#${n} labels`).toHaveLength(1);
    expect(pulls.filter((pull) => pull.issue === n), `#${n} pull requests`).toHaveLength(1);
  }
}

describe('cluster up --once: three nodes on one backlog', () => {
  let dir: TempDir | undefined;
  afterEach(async () => {
    await dir?.[Symbol.asyncDispose]();
    dir = undefined;
  });

  const run = async (extra: string[]) => {
    dir = await tempDir('miyabi-cluster-up-');
    const { config } = await backlog(dir);
    const clusterDir = join(dir.path, 'cluster');
    const result = await execa(cliPath, ['cluster', 'up', '--nodes', '3', '--once', '--config', config, '--dir', clusterDir, '--lease-ttl', '2000', ...extra], {
      cwd: dir.path,
      reject: false,
      timeout: TIMEOUT_MS,
    });
    const nodes = ['node1', 'node2', 'node3'].map((name) => ({ name, dataDir: join(clusterDir, name) }));
    return { result, clusterDir, runs: await stageRuns(nodes) };
  };

  it(`works ${ISSUES} issues with dependencies on more than one node, each task run once`, async () => {
    const { result, clusterDir, runs } = await run([]);
    expect(result.exitCode, `${result.stdout}\n${result.stderr}`).toBe(0);
    expect(result.stdout).toContain(`all ${ISSUES} done, nothing run twice`);
    // Read here from the pane logs, not taken from the command's word.
    expect(new Set(runs.map((run) => run.issue)).size).toBe(ISSUES);
    expect(new Set(runs.map((run) => run.node)).size, result.stdout).toBeGreaterThan(1);
    expect(runTwice(runs)).toEqual([]);
    await expectEachSideEffectOnce(join(clusterDir, 'tracker'));
  }, TIMEOUT_MS + 30_000);

  it('survives kill -9 of the leader midway: a follower leads, the backlog completes, nothing twice', async () => {
    const { result, clusterDir, runs } = await run(['--kill-leader']);
    expect(result.exitCode, `${result.stdout}\n${result.stderr}`).toBe(0);
    const killed = /kill -9 of the leader (node\d) \(pid \d+, epoch (\d+)\)/.exec(result.stdout);
    expect(killed, result.stdout).not.toBeNull();
    const successor = /(node\d) leads \(epoch (\d+)\); starting (node\d) again/.exec(result.stdout);
    expect(successor, result.stdout).not.toBeNull();
    expect(Number(successor![2])).toBeGreaterThan(Number(killed![2]));
    expect(successor![3]).toBe(killed![1]);
    expect(result.stdout).toContain(`all ${ISSUES} done, nothing run twice`);
    expect(runTwice(runs)).toEqual([]);
    await expectEachSideEffectOnce(join(clusterDir, 'tracker'));
  }, TIMEOUT_MS + 30_000);
});
