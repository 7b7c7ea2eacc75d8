/**
 * The runner identities of a cluster's nodes on one real nats-server (docs/CLUSTER.md, "Agent
 * ids"): each node makes its own (`runner-<node>-<role>-<slot>`), `nats-config` of each prints
 * them, and the server holds them all in one account. A runner of one node speaks for its own
 * node's agent only: the same slot of another node is another user, with other subjects.
 */
import { connect, nkeyAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema, type OrchestraConfig } from '../../src/config/schema.ts';
import { inboxPrefixOf, type NatsIdentity } from '../../src/infra/nats/identities.ts';
import { findFreePort, spawnNatsServer, type NatsServerProcess } from '../../src/infra/nats/embedded-server.ts';
import { accountsBlock } from '../../src/infra/nats/server-config.ts';
import { externalServerConfig, identityNames, natsUsers, ORCHESTRATOR, prepareNatsAuth } from '../../src/orchestra/nats-auth.ts';
import { heartbeatSubject, runnerErrorSubject } from '../../src/runner/heartbeat.ts';
import { agentIdOf, agentSlot, resultSubject, spareIdOf } from '../../src/runner/task-message.ts';
import { tempDir, type TempDir } from '../support/cli.ts';
import { watchViolations } from '../support/secure-nats.ts';

let dir: TempDir;
let server: NatsServerProcess;
const nodes = new Map<string, { config: OrchestraConfig; identities: Map<string, NatsIdentity> }>();
const connections: NatsConnection[] = [];

const configOf = (name: string | undefined) =>
  configSchema.parse({
    dataDir: join(dir.path, name ?? 'single'),
    bus: { storage: 'memory' },
    nats: { urls: ['nats://127.0.0.1:4222'], auth: { identities: true } },
    ...(name === undefined ? {} : { cluster: { node: name } }),
    agents: { codegen: { command: ['true'], max: 1 } },
  });

async function connectAs(node: string, name: string) {
  const nc = await connect({
    servers: server.url,
    authenticator: nkeyAuthenticator(new TextEncoder().encode(nodes.get(node)!.identities.get(name)!.seed)),
    inboxPrefix: inboxPrefixOf(name),
    reconnect: false,
  });
  connections.push(nc);
  return { nc, ...watchViolations(nc) };
}

beforeAll(async () => {
  dir = await tempDir('miyabi-cluster-identities-');
  for (const name of ['a', 'b']) {
    const config = configOf(name);
    nodes.set(name, { config, identities: (await prepareNatsAuth(config, { repair: true, writeServerConfig: false })).identities });
  }
  // Both nodes' users in one account, as an operator puts the blocks `nats-config` printed on each node.
  const users = [...nodes.values()].flatMap(({ config, identities }) => natsUsers(identities, config));
  const monitorPort = await findFreePort('127.0.0.1');
  const configFile = await dir.file('server.conf', `${accountsBlock('MIYABI', users)}\nhttp: "127.0.0.1:${monitorPort}"\n`);
  server = await spawnNatsServer({ storeDir: join(dir.path, 'store'), configFile, nkeySeed: nodes.get('a')!.identities.get(ORCHESTRATOR)!.seed });
});
afterAll(async () => {
  for (const nc of connections) if (!nc.isClosed()) await nc.close();
  await server?.stop(5_000);
  await dir?.[Symbol.asyncDispose]();
});

describe('runner identities on a cluster', () => {
  it("names each node's runner users with the node; a single node's keep their names", () => {
    expect(identityNames(nodes.get('a')!.config)).toEqual(['orchestrator', 'operator', 'runner-a-codegen-1', 'runner-a-codegen-spare']);
    expect(identityNames(nodes.get('b')!.config)).toEqual(['orchestrator', 'operator', 'runner-b-codegen-1', 'runner-b-codegen-spare']);
    expect(identityNames(configOf(undefined))).toEqual(['orchestrator', 'operator', 'runner-codegen-1', 'runner-codegen-spare']);
    const printed = externalServerConfig(nodes.get('a')!.identities, nodes.get('a')!.config, 'MIYABI');
    expect(printed).toContain('# runner-a-codegen-1');
    expect(printed).toContain(JSON.stringify(heartbeatSubject('codegen', 'a-codegen-1')));
    expect(printed).not.toContain(JSON.stringify(heartbeatSubject('codegen', 'codegen-1')));
    expect(nodes.get('a')!.identities.get('runner-a-codegen-1')!.publicKey).not.toBe(nodes.get('b')!.identities.get('runner-b-codegen-1')!.publicKey);
  });

  it("reads an agent's slot only from its own node's ids: a spare refuses a claim for another node's agent", () => {
    expect([agentIdOf('codegen', 2, 'a'), spareIdOf('codegen', 3, 'a'), agentIdOf('codegen', 2, undefined), spareIdOf('codegen', 3, undefined)]).toEqual(['a-codegen-2', 'a-spare-codegen-3', 'codegen-2', 'spare-codegen-3']);
    expect(agentSlot('codegen', 'a-codegen-2', 'a')).toBe(2);
    expect(agentSlot('codegen', 'codegen-2', undefined)).toBe(2);
    for (const [id, node] of [['b-codegen-2', 'a'], ['codegen-2', 'a'], ['a-codegen-2', undefined], ['a-review-1', 'a'], ['a-codegen-0', 'a']] as const) {
      expect(agentSlot('codegen', id, node), `${id} on ${node}`).toBeUndefined();
    }
  });

  it("lets a node's runner speak for its own node's agent and refuses it the same slot of the other node", async () => {
    const orchestrator = await connectAs('a', ORCHESTRATOR);
    const runnerA = await connectAs('a', 'runner-a-codegen-1');
    const seen: string[] = [];
    const own = heartbeatSubject('codegen', 'a-codegen-1');
    const done = new Promise<void>((resolve) => {
      orchestrator.nc.subscribe('miyabi.>', {
        callback: (_error, message) => {
          seen.push(message.subject);
          if (message.subject === own) resolve();
        },
      });
    });
    await orchestrator.nc.flush();
    const others = [heartbeatSubject('codegen', 'b-codegen-1'), runnerErrorSubject('codegen', 'b-codegen-1'), resultSubject('codegen', 'b-codegen-1'), heartbeatSubject('codegen', 'codegen-1')];
    for (const subject of [...others, resultSubject('codegen', 'a-codegen-1'), own]) runnerA.nc.publish(subject, '{}');
    await done;
    // In order on one connection: what the server let through arrived before the last one.
    expect(seen).toEqual([resultSubject('codegen', 'a-codegen-1'), own]);
    for (const subject of others) await runnerA.refused('Publish', subject);
    // Nor may it hear the replies to b's runner of the same slot.
    runnerA.nc.subscribe(`${inboxPrefixOf('runner-b-codegen-1')}.>`);
    await runnerA.refused('Subscription', `${inboxPrefixOf('runner-b-codegen-1')}.>`);
  });
});
