/**
 * The `cluster:` section: its defaults keep a single node as it was (one replica), a cluster's
 * node name, replicas and lease TTL are kept, and bad values are refused naming the field —
 * replicas above one without an external NATS (the embedded server is one server) among them.
 */
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.ts';
import { formatProblem } from '../../src/config/problems.ts';
import { busTopologyOf } from '../../src/config/bus-topology.ts';
import { leasePollMs } from '../../src/config/sections/cluster.ts';

function problems(text: string): string[] {
  const result = parseConfigText(text, 'test.yaml');
  if (result.ok) throw new Error('expected problems, the config was accepted');
  return result.problems.map(formatProblem);
}

describe('config cluster:', () => {
  it('without the section: no cluster mode and one replica; `cluster: {}` is cluster mode with one replica and a 10 s lease', () => {
    const result = parseConfigText('', 'empty.yaml');
    if (!result.ok) throw new Error('the empty config was refused');
    expect(result.config.cluster).toBeUndefined();
    expect(busTopologyOf(result.config).replicas).toBe(1);
    const empty = parseConfigText('cluster: {}', 'cluster.yaml');
    if (!empty.ok) throw new Error('cluster: {} was refused');
    expect(empty.config.cluster).toEqual({ replicas: 1, leaseTtlMs: 10_000 });
  });

  it('keeps a cluster node with three replicas on a NATS cluster', () => {
    const result = parseConfigText(
      ['nats:', '  urls: [nats://a:4222, nats://b:4222, nats://c:4222]', 'cluster: { node: host-a, replicas: 3, leaseTtlMs: 3000 }'].join('\n'),
      'test.yaml',
    );
    if (!result.ok) throw new Error(result.problems.map(formatProblem).join('\n'));
    expect(result.config.cluster).toEqual({ node: 'host-a', replicas: 3, leaseTtlMs: 3_000 });
    expect(result.config.nats.urls).toHaveLength(3);
    expect(leasePollMs(result.config.cluster!.leaseTtlMs)).toBe(1_000);
    // The orchestrator's and every runner's bus make their streams and buckets with them.
    expect(busTopologyOf(result.config)).toMatchObject({ replicas: 3, storage: 'file' });
  });

  it('refuses replicas on the embedded server, and bad names, counts and TTLs', () => {
    expect(problems('cluster: { replicas: 3 }')).toEqual([
      'cluster.replicas: 3 replicas need a NATS cluster in nats.urls: the embedded nats-server is one server and holds one replica (line 1)',
    ]);
    expect(problems(['nats: { urls: [nats://a:4222] }', 'cluster: { node: "a b", replicas: 6, leaseTtlMs: 50, leader: x }'].join('\n'))).toEqual([
      'cluster.node: expected letters, digits, "-" or "_" (at most 64): the node name is part of its agents\' ids, which are NATS subject tokens, file names and KV key parts (line 2)',
      'cluster.replicas: expected a number <= 5, received 6 (line 2)',
      'cluster.leaseTtlMs: expected a number >= 300, received 50 (line 2)',
      'cluster.leader: unknown key (line 2)',
    ]);
  });
});
