/**
 * The members' decisions (src/cluster/members.ts), without a store: what of a config is hashed
 * (node-local fields are not), how two configs' differences are named, and when a node is refused
 * (only by the leader holding the lease now, or less than a TTL ago).
 */
import { describe, expect, it } from 'vitest';
import { configSchema, type OrchestraConfigInput } from '../../src/config/schema.ts';
import { clusterConfigParts, configDifferences, configHash, refusalOf, type ConfigReference } from '../../src/cluster/members.ts';

const base: OrchestraConfigInput = {
  cluster: { node: 'a', replicas: 3 },
  nats: { urls: ['nats://127.0.0.1:4222'] },
  agents: { codegen: { command: ['true'], min: 1, max: 2 } },
  workflow: { routes: [{ label: 'type:docs', stages: ['codegen'] }, { label: 'type:bug', stages: ['codegen'] }], defaultRoute: ['codegen'] },
};
const partsOf = (input: OrchestraConfigInput) => clusterConfigParts(configSchema.parse(input));

describe('the config a cluster hashes', () => {
  it('leaves out what is each node\'s own: its name, data directory, NATS URLs, HTTP port, panes, capacity', () => {
    const other = partsOf({
      ...base,
      cluster: { node: 'b', replicas: 3 },
      dataDir: '/var/lib/elsewhere',
      nats: { urls: ['nats://10.0.0.2:4222'] },
      http: { port: 9999 },
      panes: { backend: 'process' },
      agents: { codegen: { command: ['true'], min: 0, max: 8 } },
    });
    expect(configDifferences(partsOf(base), other)).toEqual([]);
    expect(configHash(other)).toBe(configHash(partsOf(base)));
  });

  it('names a route, a role and a top-level section that differ', () => {
    const other = partsOf({
      ...base,
      cluster: { node: 'a', replicas: 1 },
      agents: { codegen: { command: ['true'], min: 1, max: 2 }, review: { command: ['true'] } },
      workflow: { ...base.workflow, routes: [{ label: 'type:docs', stages: ['codegen'] }, { label: 'type:bug', stages: ['codegen', 'review'] }] },
      budget: { task: { usd: 5 } },
    });
    expect(configDifferences(partsOf(base), other)).toEqual(['agents.review', 'budget', 'cluster', 'workflow.routes[1]']);
    expect(configHash(other)).not.toBe(configHash(partsOf(base)));
  });
});

describe('a refusal', () => {
  const mine = partsOf({ ...base, cluster: { node: 'b', replicas: 3 }, agents: { codegen: { command: ['false'] } } });
  const theirs = partsOf(base);
  const reference: ConfigReference = { holder: 'a', epoch: 4, hash: configHash(theirs), parts: theirs };
  const ask = (over: Partial<Parameters<typeof refusalOf>[0]>) =>
    refusalOf({ node: 'b', hash: configHash(mine), parts: mine, reference, lease: { holder: 'a', epoch: 4, expiresAt: 10_000 }, now: 5_000, ttlMs: 3_000, ...over });

  it('comes from the leader of the lease\'s epoch requiring another config, naming the parts', () => {
    expect(ask({})).toEqual({ by: 'a', epoch: 4, differences: ['agents.codegen'] });
  });

  it('is none without a reference, with the same config, for the leader that wrote it, or without a lease', () => {
    expect(ask({ reference: undefined })).toBeUndefined();
    expect(ask({ hash: reference.hash, parts: theirs })).toBeUndefined();
    expect(ask({ node: 'a' })).toBeUndefined();
    expect(ask({ lease: undefined })).toBeUndefined();
  });

  it('stands across a change of leader, until the next leader writes its own', () => {
    expect(ask({ lease: { holder: 'c', epoch: 5, expiresAt: 10_000 } })).toEqual({ by: 'a', epoch: 4, differences: ['agents.codegen'] });
  });

  it('holds one TTL past the lease\'s expiry (a follower with the leader\'s config takes it first), then lifts', () => {
    expect(ask({ now: 12_999 })).toBeDefined();
    expect(ask({ now: 13_000 })).toBeUndefined();
  });
});
