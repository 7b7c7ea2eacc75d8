/**
 * Agent ids on a cluster (docs/CLUSTER.md, "Agent ids"): two whole orchestras in this process, nodes
 * `a` and `b` of one cluster on one real nats-server, each with one `codegen` agent and a spare
 * runner of its own, as process panes. Every subject about one agent (heartbeats, a runner's
 * error, results, spare claims) is named by the agent's id, and the nodes share the bus; so:
 *
 * - every agent and spare id carries its node's name (`a-codegen-1`, `a-spare-codegen-1`), and
 *   each agent's heartbeat subject is heard from its own node's runner only;
 * - a node's runner that stops sending heartbeats (SIGSTOP) is found silent and replaced by its
 *   own node: the other node's runner of the same slot does not keep it "alive";
 * - an agent that loses its runner takes over its own node's spare, and the other node's spare
 *   stays a spare (a claim is answered by one spare, of the node that asked);
 * - `restart <agent>` over NATS is answered by the node the id names, which restarts it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { CONTROL_SUBJECTS, type RestartReply } from '../../src/actors/control-subjects.ts';
import { loadConfig } from '../../src/config/load.ts';
import { processAlive } from '../../src/infra/os/process.ts';
import { startOrchestra, type Orchestra } from '../../src/orchestra/orchestra.ts';
import { decodeHeartbeat, heartbeatSubject } from '../../src/runner/heartbeat.ts';
import { flattenTree } from '../../src/supervisor/index.ts';
import { tempDir, type TempDir } from '../support/cli.ts';
import { startNatsServer, type TestNatsServer } from '../support/nats.ts';
import { gitRepo } from '../support/orchestra.ts';
import { waitFor } from '../support/wait.ts';

interface Heard {
  subject: string;
  agentId: string;
  pid: number;
}

describe('agent ids on a cluster of two nodes', { timeout: 120_000 }, () => {
  let nats: TestNatsServer;
  let dir: TempDir;
  let observer: NatsConnection;
  const nodes = new Map<string, Orchestra>();
  /** Every heartbeat of a codegen agent, in the order heard. */
  const heard: Heard[] = [];

  const configFor = async (name: string) =>
    loadConfig(
      await dir.file(
        `${name}.yaml`,
        stringify({
          dataDir: join(dir.path, name),
          http: { enabled: false },
          nats: { urls: [nats.url] },
          bus: { storage: 'memory', ackWaitMs: 30_000 },
          cluster: { node: name, leaseTtlMs: 3_000 },
          issues: { local: { dir: join(dir.path, 'issues'), trackerDir: join(dir.path, 'tracker'), pollIntervalMs: 500 } },
          agents: { codegen: { command: ['node', '{packageRoot}/examples/agents/codegen.mjs'], min: 1, max: 1 } },
          workflow: { routes: [], defaultRoute: ['codegen'] },
          workspace: { repo: join(dir.path, 'repo') },
          panes: { backend: 'process', spareRunners: true, heartbeatIntervalMs: 500, missedHeartbeats: 4 },
        }),
      ),
    );
  const node = (name: string) => nodes.get(name)!;
  const entry = (name: string, agentId: string) => flattenTree(node(name).inspect()).find((candidate) => candidate.path === `root/agents/pool.codegen/${agentId}`);
  const agentIds = (name: string) =>
    flattenTree(node(name).inspect())
      .filter((candidate) => candidate.path.startsWith('root/agents/pool.codegen/'))
      .map((candidate) => candidate.path.split('/').pop()!);
  /** The node's one codegen agent (its id as the node made it: the tests below hold without the names). */
  const agentOf = (name: string) => agentIds(name)[0]!;
  const ready = (name: string, agentId: string) => (entry(name, agentId)?.state ?? '').includes('ready.');
  const runnerPid = (name: string, agentId: string): number =>
    (node(name).root()!.childSupervisor('agents')!.childSupervisor('pool.codegen')!.childActor(agentId)!.getSnapshot() as { context: { pid: number } }).context.pid;
  /** The pid of the node's spare runner, from the pid file it writes in its node's data directory. */
  const sparePid = async (name: string): Promise<number | undefined> => {
    const files = (await readdir(join(dir.path, name, 'runners')).catch(() => [] as string[])).filter((file) => /spare-codegen-\d+\.pid$/.test(file));
    return files.length === 1 ? Number(await readFile(join(dir.path, name, 'runners', files[0]!), 'utf8')) : undefined;
  };
  /** Waits for `count` more heartbeats on `subject` and returns the pids they came from. */
  const nextHeartbeatPids = async (subject: string, count: number): Promise<Set<number>> => {
    const from = heard.length;
    await waitFor(() => heard.slice(from).filter((beat) => beat.subject === subject).length >= count, { what: `${count} heartbeats on ${subject}` });
    return new Set(heard.slice(from).filter((beat) => beat.subject === subject).map((beat) => beat.pid));
  };

  beforeAll(async () => {
    nats = await startNatsServer();
    dir = await tempDir('miyabi-agent-ids-');
    await mkdir(join(dir.path, 'issues'));
    await mkdir(join(dir.path, 'repo'));
    await gitRepo(join(dir.path, 'repo'));
    observer = await connect({ servers: nats.url });
    observer.subscribe(heartbeatSubject('codegen', '*'), {
      callback: (_error, message) => {
        const heartbeat = decodeHeartbeat(message.data);
        if (heartbeat) heard.push({ subject: message.subject, agentId: heartbeat.agentId, pid: heartbeat.pid });
      },
    });
    await observer.flush();
    for (const name of ['a', 'b']) nodes.set(name, await startOrchestra(await configFor(name), { logStream: false }));
    for (const name of ['a', 'b']) {
      await waitFor(() => agentIds(name).length === 1 && ready(name, agentIds(name)[0]!), { timeoutMs: 60_000, what: `node ${name}'s agent ready` });
      await waitFor(() => sparePid(name), { timeoutMs: 60_000, what: `node ${name}'s spare started` });
    }
  }, 120_000);

  afterAll(async () => {
    await Promise.all([...nodes.values()].map((orchestra) => orchestra.stop('test over')));
    await observer?.close();
    await nats?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  it("names each node's agents and spares with the node, and an agent's heartbeats come from its own node's runner", async () => {
    expect(agentIds('a')).toEqual(['a-codegen-1']);
    expect(agentIds('b')).toEqual(['b-codegen-1']);
    const spares = await Promise.all(['a', 'b'].map(async (name) => (await readdir(join(dir.path, name, 'runners'))).filter((file) => file.includes('spare'))));
    expect(spares).toEqual([['a-spare-codegen-1.pid'], ['b-spare-codegen-1.pid']]);
    for (const name of ['a', 'b']) {
      const agentId = `${name}-codegen-1`;
      expect(await nextHeartbeatPids(heartbeatSubject('codegen', agentId), 4)).toEqual(new Set([runnerPid(name, agentId)]));
    }
  });

  it("replaces a node's silent runner: the other node's runner of the same slot does not keep it alive", async () => {
    const frozen = runnerPid('a', agentOf('a'));
    const restartsOfB = entry('b', agentOf('b'))!.restarts;
    const before = entry('a', agentOf('a'))!.restarts;
    process.kill(frozen, 'SIGSTOP');
    await waitFor(() => entry('a', agentOf('a'))!.restarts === before + 1 && !processAlive(frozen), { timeoutMs: 30_000, what: "node a's frozen runner replaced" });
    await waitFor(() => ready('a', agentOf('a')), { timeoutMs: 30_000, what: "node a's agent ready again" });
    expect(runnerPid('a', agentOf('a'))).not.toBe(frozen);
    expect(entry('b', agentOf('b'))!.restarts).toBe(restartsOfB);
  });

  it("gives a node's agent that lost its runner its own node's spare, and leaves the other node's spare waiting", async () => {
    const spareOfB = (await sparePid('b'))!;
    const killed = runnerPid('b', agentOf('b'));
    process.kill(killed, 'SIGKILL');
    const subject = heartbeatSubject('codegen', agentOf('b'));
    await waitFor(() => heard.some((beat) => beat.subject === subject && beat.pid === spareOfB), { timeoutMs: 30_000, what: "b's agent heartbeating from b's spare" });
    // One runner speaks for b-codegen-1 from then on: b's spare, claimed once, by b.
    expect(await nextHeartbeatPids(subject, 4)).toEqual(new Set([spareOfB]));
    expect(runnerPid('b', agentOf('b'))).toBe(spareOfB);
  });

  it('restarts an agent by its id over NATS on the node the id names', async () => {
    const before = { a: entry('a', agentOf('a'))!.restarts, b: entry('b', agentOf('b'))!.restarts };
    const reply = (await observer.request(CONTROL_SUBJECTS.restart, JSON.stringify({ agent: 'b-codegen-1' }), { timeout: 60_000 })).json<RestartReply>();
    expect(reply).toEqual({ ok: true, agent: 'b-codegen-1', role: 'codegen' });
    expect(entry('b', agentOf('b'))!.restarts).toBe(before.b + 1);
    expect(entry('a', agentOf('a'))!.restarts).toBe(before.a);
  });
});
