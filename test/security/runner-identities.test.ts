/**
 * One NATS identity per runner, on a running orchestra: the two agents of a role and its spare
 * are started each with its own slot's seed file, and a claimed spare serves as the slot it
 * took over. What each identity may do on the bus is held in bus-permissions.test.ts; here, that
 * the orchestra hands them out so.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identityOfSeed } from '../../src/infra/nats/identities.ts';
import { natsIdentityDir } from '../../src/orchestra/nats-auth.ts';
import { startTestOrchestra, waitAgentReady, type TestOrchestra } from '../support/orchestra.ts';
import { waitFor } from '../support/wait.ts';

let test: TestOrchestra;

beforeAll(async () => {
  test = await startTestOrchestra({
    backend: 'process',
    agents: { codegen: { command: ['node', '{packageRoot}/examples/agents/codegen.mjs'], min: 2, max: 2 } },
    config: { panes: { spareRunners: true } },
  });
  await waitAgentReady(test, 'codegen', 'codegen-1', 60_000);
  await waitAgentReady(test, 'codegen', 'codegen-2', 60_000);
}, 90_000);
afterAll(async () => {
  await test?.stop();
});

/** The runners alive now, by the id they serve as (their pid files), with the seed file each was given. */
interface Runner {
  pid: number;
  nkeyFile: string | undefined;
}

async function runners(): Promise<Map<string, Runner>> {
  const found = new Map<string, Runner>();
  for (const name of await readdir(join(test.dataDir, 'runners'))) {
    if (!name.endsWith('.pid')) continue;
    const pid = Number((await readFile(join(test.dataDir, 'runners', name), 'utf8').catch(() => '')).trim());
    const environ = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => undefined);
    if (!pid || environ === undefined) continue;
    const nkeyFile = environ.split('\0').find((entry) => entry.startsWith('MIYABI_NATS_NKEY_FILE='))?.slice('MIYABI_NATS_NKEY_FILE='.length);
    found.set(name.slice(0, -'.pid'.length), { pid, nkeyFile });
  }
  return found;
}

const spareOf = (found: Map<string, Runner>) => [...found.entries()].find(([id]) => id.startsWith('spare-codegen-'));

describe('one identity per runner', { timeout: 90_000 }, () => {
  it("starts each runner of a role with its own slot's seed, private, a key no other runner has", async () => {
    const found = await waitFor(async () => {
      const now = await runners();
      return now.has('codegen-1') && now.has('codegen-2') && spareOf(now) ? now : undefined;
    }, { timeoutMs: 30_000, what: 'both agents and the spare running' });
    const dir = natsIdentityDir(test.dataDir);
    expect(found.get('codegen-1')!.nkeyFile).toBe(join(dir, 'runner-codegen-1.nk'));
    expect(found.get('codegen-2')!.nkeyFile).toBe(join(dir, 'runner-codegen-2.nk'));
    expect(spareOf(found)![1].nkeyFile).toBe(join(dir, 'runner-codegen-spare.nk'));
    const keys = new Set<string>();
    for (const name of ['runner-codegen-1', 'runner-codegen-2', 'runner-codegen-spare']) {
      const file = join(dir, `${name}.nk`);
      expect(((await stat(file)).mode & 0o777).toString(8), name).toBe('600');
      keys.add(identityOfSeed(name, file, await readFile(file, 'utf8'))!.publicKey);
    }
    expect(keys.size).toBe(3);
  });

  it('a claimed spare serves as the slot it took over: its heartbeats, which only that slot may send, make the agent ready', async () => {
    const before = await runners();
    const [, spare] = spareOf(before)!;
    const restarts = test.node('root/agents/pool.codegen/codegen-2')!.restarts;
    process.kill(before.get('codegen-2')!.pid, 'SIGKILL');
    await waitFor(
      () => {
        const node = test.node('root/agents/pool.codegen/codegen-2');
        return node !== undefined && node.restarts > restarts && node.state.includes('ready.');
      },
      { timeoutMs: 30_000, what: 'codegen-2 replaced and ready' },
    );
    const log = await readFile(join(test.dataDir, 'logs', 'orchestra.log'), 'utf8');
    expect(log).toMatch(/"agentId":"codegen-2".*"msg":"agent took over a spare runner"/);
    // The spare's process is codegen-2's runner now; a new spare, with the spare's identity, stands behind it.
    const after = await waitFor(async () => {
      const now = await runners();
      return now.get('codegen-2')?.pid === spare.pid && spareOf(now) ? now : undefined;
    }, { timeoutMs: 30_000, what: 'the spare serving codegen-2 and a new spare' });
    expect(spareOf(after)![1].pid).not.toBe(spare.pid);
    expect(spareOf(after)![1].nkeyFile).toBe(join(natsIdentityDir(test.dataDir), 'runner-codegen-spare.nk'));
  });
});
