import { jetstreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Bus } from '../../src/infra/bus/bus.ts';
import { pruneFinishedIssues } from '../../src/workflow/retention.ts';
import { busTestFile, uniqueTopology } from '../bus/helpers.ts';
import { startTestOrchestra } from '../support/orchestra.ts';
import { waitFor } from '../support/wait.ts';

const repoRoot = join(import.meta.dirname, '..', '..');

async function keysOf(kv: KV, filter = '>'): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of await kv.keys(filter)) keys.push(key);
  return keys.sort();
}

/** The keys an issue's effects and stages leave, as the workflow names them. */
function ledgerKeys(n: number): string[] {
  return [`effect.comment.issue-${n}.g1.started`, `effect.dispatch.issue-${n}.g1.codegen.r1.a1`, `effect.pr.${n}.g1`, `effect.ci.${n}.abc123`, `cache.${n}.codegen.ffee`];
}

describe('KV retention of finished issues', () => {
  const file = busTestFile('retention-test');

  it('prunes the ledger and cache of issues finished before the cut-off, compacts their records, and touches nothing else', async () => {
    const topology = uniqueTopology('file');
    const bus = new Bus(file.nc, { sender: 'retention-test', topology });
    await bus.ensureTopology();
    const kv = await bus.kv();
    const put = (key: string, value: unknown) => kv.put(key, JSON.stringify(value));
    // 1 done; 2 still running; 3 done with an effect pending in its outbox; 4 done after the cut-off; 10 done (its keys must not be taken for 1's).
    for (const n of [1, 2, 3, 10]) {
      for (const key of ledgerKeys(n)) await put(key, { at: 'then' });
      await put(`issue.${n}`, { number: n, outbox: [] });
      await put(`issue.${n}`, { number: n, outbox: n === 3 ? [{ type: 'comment', params: {} }] : [] });
    }
    const cutOff = Date.now() + 1;
    await waitFor(() => Date.now() > cutOff, { what: 'the clock past the cut-off' });
    for (const key of ledgerKeys(4)) await put(key, { at: 'now' });
    await put('issue.4', { number: 4, outbox: [] });
    const jsm = await jetstreamManager(file.nc);
    const stream = `KV_${bus.topology.kvBucket}`;
    const before = (await jsm.streams.info(stream)).state.messages;

    const states = new Map([[1, 'done'], [2, 'running'], [3, 'failed'], [4, 'done'], [10, 'released']]);
    const pruned = new Set<number>();
    const outcome = await pruneFinishedIssues({ kv, jsm, bucket: bus.topology.kvBucket, states, olderThan: cutOff, pruned });

    expect(outcome.issues).toEqual([1, 10]);
    const keys = await keysOf(kv);
    for (const n of [1, 10]) for (const key of ledgerKeys(n)) expect(keys).not.toContain(key);
    for (const n of [2, 3, 4]) for (const key of ledgerKeys(n)) expect(keys).toContain(key);
    expect(keys).toEqual(expect.arrayContaining(['issue.1', 'issue.2', 'issue.3', 'issue.4', 'issue.10']));
    // The record stays, one revision; no delete markers are left in the stream.
    expect((await kv.get('issue.1'))?.json()).toEqual({ number: 1, outbox: [] });
    const history: unknown[] = [];
    for await (const entry of await kv.history({ key: 'issue.1' })) history.push(entry);
    expect(history).toHaveLength(1);
    // 2 × (5 ledger keys + 1 old revision of the record).
    expect(outcome.purged).toBe(12);
    expect((await jsm.streams.info(stream)).state.messages).toBe(before - 12);

    // Swept again: nothing more to do.
    expect((await pruneFinishedIssues({ kv, jsm, bucket: bus.topology.kvBucket, states, olderThan: Date.now(), pruned })).issues).toEqual([4]);
  });

  it('in a running orchestra, a finished issue leaves no effect.* or cache.* keys behind once retention.days passed', { timeout: 120_000 }, async () => {
    const issues = Object.fromEntries([1, 2].map((n) => [`${n}.md`, `---\nnumber: ${n}\ntitle: Issue ${n}\nlabels: [miyabi]\n---\nDo ${n}.\n`]));
    const test = await startTestOrchestra({
      backend: 'process',
      agents: { codegen: { command: ['node', join(repoRoot, 'examples/agents/codegen.mjs')], min: 1, max: 1 } },
      config: { workflow: { defaultRoute: ['codegen'] }, retention: { days: 0, sweepIntervalMs: 1_000 } },
      issues,
    });
    try {
      const kv = await test.orchestra.resources.bus!.kv();
      const workflow = () => test.orchestra.resources.workflow!;
      await waitFor(() => [1, 2].every((n) => String(workflow().snapshot(n)?.value) === 'done'), { timeoutMs: 90_000, what: 'both issues done' });
      let left: string[] = [];
      await waitFor(async () => (left = [...(await keysOf(kv, 'effect.>')), ...(await keysOf(kv, 'cache.>'))]).length === 0, {
        timeoutMs: 30_000,
        what: 'the finished issues\' ledger and cache pruned',
      }).catch(async (error: unknown) => {
        // What kept them: an outbox not yet empty, or a sweep that failed (its warning in the log).
        const records = await Promise.all([1, 2].map(async (n) => (await kv.get(`issue.${n}`))?.string()));
        const log = await readFile(join(test.dataDir, 'logs', 'orchestra.log'), 'utf8').catch(() => '');
        const warnings = log.split('\n').filter((line) => /"level":(40|50)/.test(line)).slice(-10);
        throw new Error(`${String(error)}; left: ${left.join(', ')}\nrecords: ${records.join('\n')}\nwarnings: ${warnings.join('\n')}`);
      });
      expect(await keysOf(kv, 'issue.*')).toEqual(['issue.1', 'issue.2']);
      // The agents' log days go by the same retention, swept by the running orchestra: a day of
      // long ago goes, one within retention (dated ahead, so no midnight can age it) stays.
      const agentLogs = join(test.dataDir, 'logs', 'agents', 'codegen-1');
      await mkdir(agentLogs, { recursive: true });
      await writeFile(join(agentLogs, '2000-01-01.log'), 'old output\n');
      await writeFile(join(agentLogs, '2999-01-01.log'), 'kept output\n');
      await waitFor(async () => !(await readdir(agentLogs)).includes('2000-01-01.log'), { timeoutMs: 30_000, what: 'the old log day removed' });
      expect(await readdir(agentLogs)).toContain('2999-01-01.log');
    } finally {
      await test.stop();
    }
  });
});
