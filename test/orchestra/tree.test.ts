/**
 * The whole tree in-process against a real embedded nats-server: a crash of the NATS server
 * restarts that server alone (its clients reconnect), unless it keeps dying: then the bus and
 * everything after it restart too; a crash of one agent restarts only that agent.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import { startOrchestra, type Orchestra } from '../../src/orchestra/orchestra.ts';
import { processAlive } from '../../src/infra/os/process.ts';
import { flattenTree } from '../../src/supervisor/index.ts';
import { tempDir, type TempDir } from '../support/cli.ts';
import { gitRepo } from '../support/orchestra.ts';
import { waitFor } from '../support/wait.ts';

let dir: TempDir;
let orchestra: Orchestra;

const restartsByPath = () => Object.fromEntries(flattenTree(orchestra.inspect()).map((node) => [node.path, node.restarts]));
const allRunning = () => flattenTree(orchestra.inspect()).every((node) => node.status === 'running');

beforeAll(async () => {
  dir = await tempDir();
  await gitRepo(dir.path);
  const config = await dir.file(
    'tree.yaml',
    [
      `dataDir: ${join(dir.path, 'data')}`,
      'http:',
      '  port: 0',
      'log:',
      '  file: false',
      'panes:',
      '  backend: process',
      `workspace:`,
      `  repo: ${dir.path}`,
      'agents:',
      '  codegen:',
      '    command: [node, agent.mjs]',
      '    min: 2',
      '    max: 2',
      '  review:',
      '    command: [node, agent.mjs]',
      '    min: 1',
      '    max: 1',
      '',
    ].join('\n'),
  );
  orchestra = await startOrchestra(await loadConfig(config), { logStream: false });
});

afterAll(async () => {
  await orchestra?.stop();
  await dir?.[Symbol.asyncDispose]();
});

describe('the orchestra tree', { timeout: 90_000 }, () => {
  it('restarts only the agent that crashed', async () => {
    const before = restartsByPath();
    const pool = orchestra.root()!.childSupervisor('agents')!.childSupervisor('pool.codegen')!;
    pool.childActor('codegen-1')!.stop();
    await waitFor(() => restartsByPath()['root/agents/pool.codegen/codegen-1'] === 1 && allRunning(), {
      what: 'codegen-1 restarted',
    });
    const after = restartsByPath();
    for (const [path, restarts] of Object.entries(after)) {
      if (path === 'root/agents/pool.codegen/codegen-1') continue;
      expect(restarts, path).toBe(before[path]);
    }
  });

  it('restarts the embedded NATS server alone when it dies: the bus reconnects, nothing after it restarts', async () => {
    const before = restartsByPath();
    const natsPid = (orchestra.root()!.childSupervisor('broker')!.childActor('nats-server')!.getSnapshot() as { context: { detail: { pid: number } } })
      .context.detail.pid;
    const busBefore = orchestra.resources.bus;
    process.kill(natsPid, 'SIGKILL');
    await waitFor(() => restartsByPath()['root/broker/nats-server'] === before['root/broker/nats-server']! + 1 && allRunning(), {
      timeoutMs: 30_000,
      what: 'tree running again after the NATS crash',
    });
    const after = restartsByPath();
    for (const [path, restarts] of Object.entries(after)) {
      if (path !== 'root/broker/nats-server') expect(restarts, path).toBe(before[path]);
    }
    expect(processAlive(natsPid)).toBe(false);
    expect(orchestra.resources.bus).toBe(busBefore);
    // The same bus, reconnected to the new server. JetStream may still be recovering its store when
    // the connection is back: a publish then times out, and the bus's contract is to retry it with
    // the same message id (as every publisher of the orchestra does) until it is stored.
    const published = await waitFor(
      () => orchestra.resources.bus!.publish('miyabi.events.test', 'test.ping', { ok: true }, { timeoutMs: 2_000, msgId: 'tree-ping' }).catch(() => undefined),
      { timeoutMs: 60_000, what: 'a publish stored by the restarted server' },
    );
    expect(published.seq).toBeGreaterThan(0);
  });

  it('restarts the bus and everything after it, not http, when the NATS server keeps dying past the broker\'s restart intensity', async () => {
    const before = restartsByPath();
    const natsPid = () =>
      (orchestra.root()!.childSupervisor('broker')?.childActor('nats-server')?.getSnapshot() as { context?: { detail?: { pid?: number } } } | undefined)
        ?.context?.detail?.pid;
    // One more death than the default intensity (5 in 10 s) tolerates, each of a server that had come back.
    for (let death = 0; death < 6; death++) {
      const pid = await waitFor(() => natsPid(), { timeoutMs: 30_000, what: 'a nats-server running' });
      process.kill(pid, 'SIGKILL');
      await waitFor(() => natsPid() !== pid, { timeoutMs: 30_000, what: 'the dead server replaced' });
    }
    // The kill before this test may still count in the window: the broker may give up more than once.
    await waitFor(() => restartsByPath()['root/broker']! > before['root/broker']! && allRunning(), {
      timeoutMs: 60_000,
      what: 'tree running again after the broker gave up',
    });
    const after = restartsByPath();
    expect(after['root/http']).toBe(before['root/http']);
    for (const id of ['bus', 'control', 'core', 'agents']) expect(after[`root/${id}`]!, id).toBeGreaterThan(before[`root/${id}`]!);
    const published = await orchestra.resources.bus!.publish('miyabi.events.test', 'test.ping', { ok: true }, { timeoutMs: 10_000 });
    expect(published.seq).toBeGreaterThan(0);
  });
});
