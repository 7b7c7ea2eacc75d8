/**
 * The leader lease (src/cluster/leader-lease.ts) on a real NATS JetStream cluster of three servers
 * (test/support/nats-cluster.ts), three candidates each on its own connection, one lease bucket
 * of three replicas:
 *
 * - of three candidates exactly one leads, and the others see it lead;
 * - a leader that dies (its connection closed: no more renewals) is replaced at the first poll of
 *   a follower after its lease expired (so within the TTL plus one poll), with the next epoch; the
 *   dead one knows it no longer leads;
 * - a leader paused past its lease (its timer stopped, then started again) cannot write: its
 *   fence is refused (its conditional write fails), it steps down, and the lease still names the
 *   new leader; a paused leader that resumes by polling sees it was deposed and follows;
 * - epochs only rise, one per new holder; at no step do two candidates lead at once;
 * - of three writes on the same revision exactly one lands, however close together (the check
 *   nats-server 2.9.10 gets wrong for a subject's revision on a clustered stream, #4320);
 * - `kill -9` of one nats-server of three: the lease keeps working (a leader renews and passes
 *   the fence, and a new one is elected after the old one hands over).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/errors.ts';
import { leaseCandidates, type Candidate, type LeaseCandidates } from '../support/lease-candidates.ts';
import { startNatsCluster, type TestNatsCluster } from '../support/nats-cluster.ts';

// Long enough that a loaded 2-core machine renews in time; the tests wait on events, not on these.
/** What the candidates did, for the message of a failed assertion: every change but renewals, every write that did not land. */
const DUMP = (c: LeaseCandidates): string =>
  JSON.stringify({
    changes: c.nodes.map((node) => [node.name, node.changes.filter((change) => change.kind !== 'renewed')]),
    writes: c.ops.filter((op) => op.kind === 'write' && (op.outcome.kind !== 'written' || op.write.kind === 'seed')),
  });
const TTL_MS = 3_000;
const POLL_MS = 500;

describe('the leader lease on a NATS cluster of three', () => {
  let cluster: TestNatsCluster;
  let candidates: LeaseCandidates | undefined;
  beforeAll(async () => {
    cluster = await startNatsCluster();
  });
  afterEach(async () => {
    await candidates?.close();
    candidates = undefined;
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  const start = async (): Promise<LeaseCandidates> => {
    candidates = await leaseCandidates(cluster.urls, { ttlMs: TTL_MS, pollMs: POLL_MS });
    for (const node of candidates.nodes) node.lease.start();
    return candidates;
  };
  /** Reads by `node` after `since` (ms). */
  const readsOf = (c: LeaseCandidates, node: string, since: number) => c.ops.filter((op) => op.node === node && op.kind === 'read' && op.at > since);
  const electedAfter = (c: LeaseCandidates, epoch: number) => c.elections().find((election) => election.epoch > epoch);
  const only = (c: LeaseCandidates): Candidate => {
    const leaders = c.leaders();
    expect(leaders.map((node) => node.name)).toHaveLength(1);
    return leaders[0]!;
  };

  it('elects exactly one of three candidates, and the others follow it', async () => {
    const c = await start();
    await c.until(() => c.elections().length > 0, 'a leader');
    const first = c.elections()[0]!;
    // Every candidate has read the lease twice since: each has seen the leader.
    await c.until(() => c.nodes.every((node) => readsOf(c, node.name, first.at).length >= 2), 'two polls of every candidate');
    expect(only(c).name).toBe(first.node);
    expect(c.elections(), DUMP(c)).toHaveLength(1);
    for (const node of c.nodes.filter((node) => node.name !== first.node)) {
      expect(node.lease.state).toEqual({ role: 'follower', leader: expect.objectContaining({ holder: first.node, epoch: first.epoch }) });
      expect(node.lease.epoch()).toBeUndefined();
      expect(node.changes).toEqual([]);
    }
    expect(c.overlaps).toEqual([]);
  });

  it('replaces a dead leader at the first poll after its lease expired, with the next epoch', async () => {
    const c = await start();
    await c.until(() => c.leaders().length === 1, 'a leader');
    const dead = only(c);
    const epoch = dead.lease.epoch()!;
    await dead.nc.close();
    await c.until(() => electedAfter(c, epoch) !== undefined, 'a new leader');
    const next = electedAfter(c, epoch)!;
    expect(next.epoch).toBe(epoch + 1);
    expect(next.node).not.toBe(dead.name);

    // The read that led to the take saw the dead leader's lease at or past its expiry; the new
    // leader's poll before it was still before that expiry: it took over at its first poll after.
    const taker = c.ops.filter((op) => op.node === next.node);
    const take = taker.findIndex((op) => op.kind === 'write' && op.write.kind === 'update' && op.write.record.epoch === next.epoch && op.outcome.kind === 'written');
    const reads = taker.slice(0, take).filter((op) => op.kind === 'read');
    const [before, seen] = reads.slice(-2);
    expect(seen?.view?.record?.holder).toBe(dead.name);
    expect(before?.view?.record?.holder).toBe(dead.name);
    expect(before!.at).toBeLessThan(seen!.view!.record!.expiresAt);

    // The dead one stops leading by its own clock, and says so at its next poll (it cannot read the lease).
    expect(dead.lease.isLeader()).toBe(false);
    await c.until(() => dead.changes.some((change) => change.kind === 'deposed'), 'the dead leader stepping down');
    expect(c.overlaps).toEqual([]);
  });

  it('refuses the writes of a leader paused past its lease, which steps down; a resumed one follows', async () => {
    const c = await start();
    await c.until(() => c.leaders().length === 1, 'a leader');
    const paused = only(c);
    const epoch = paused.lease.epoch()!;
    await paused.lease.fence(epoch); // leading: its writes go through
    await paused.lease.stop();
    await c.until(() => electedAfter(c, epoch) !== undefined, 'a leader in place of the paused one');
    const second = c.nodes.find((node) => node.name === electedAfter(c, epoch)!.node)!;

    // Woken up: it still believes it won its epoch (its state), but its conditional write fails.
    expect(paused.lease.state).toMatchObject({ role: 'leader', epoch });
    expect(paused.lease.isLeader()).toBe(false);
    await expect(paused.lease.fence(epoch)).rejects.toMatchObject({ code: ErrorCodes.LeaseLost, message: expect.stringContaining('deposed') });
    // Its conditional write did not land: the lease names the new leader, as before.
    expect(paused.lease.state.role).toBe('follower');
    expect(paused.changes.at(-1)).toMatchObject({ kind: 'deposed', epoch });
    const stored = await paused.kv.get('leader');
    expect(stored?.json()).toMatchObject({ holder: second.name, epoch: epoch + 1 });
    // Once a follower, it is refused without even trying.
    await expect(paused.lease.fence(epoch)).rejects.toMatchObject({ code: ErrorCodes.LeaseLost, message: expect.stringContaining('not the leader') });
    paused.lease.start();

    // The second leader paused too, resumed by its timer this time: its first poll deposes it.
    const secondEpoch = second.lease.epoch()!;
    await second.lease.stop();
    await c.until(() => electedAfter(c, secondEpoch) !== undefined, 'a third leader');
    const third = electedAfter(c, secondEpoch)!;
    expect(third.node).not.toBe(second.name);
    second.lease.start();
    await c.until(() => second.changes.some((change) => change.kind === 'deposed'), 'the resumed leader deposed');
    expect(second.changes.at(-1), DUMP(c)).toMatchObject({ kind: 'deposed', epoch: secondEpoch, leader: { holder: third.node, epoch: third.epoch } });
    expect(second.lease.state).toMatchObject({ role: 'follower' });
    await expect(second.lease.fence(secondEpoch)).rejects.toMatchObject({ code: ErrorCodes.LeaseLost });

    // One election per holder, each epoch the one after the last (the first: above the vacant entry's revision).
    expect(c.elections().map((election) => election.epoch), DUMP(c)).toEqual([epoch, epoch + 1, epoch + 2]);
    expect(c.overlaps).toEqual([]);
  });

  it('lets exactly one of three writes on the same revision land, round after round', async () => {
    // The leases are not started: the three stores write by hand, all at once, on the revision last written.
    const c = (candidates = await leaseCandidates(cluster.urls, { ttlMs: TTL_MS, pollMs: POLL_MS }));
    const [first] = c.nodes;
    expect(await first!.store.write({ kind: 'seed' })).toMatchObject({ kind: 'written' });
    let revision = (await first!.store.read()).revision;
    for (let round = 1; round <= 30; round++) {
      const outcomes = await Promise.all(
        c.nodes.map((node) => node.store.write({ kind: 'update', record: { holder: node.name, epoch: round + 1, expiresAt: 0 }, expectedRevision: revision })),
      );
      const landed = outcomes.filter((outcome) => outcome.kind === 'written');
      expect(landed, `round ${round}: ${JSON.stringify(outcomes)}`).toHaveLength(1);
      expect(outcomes.filter((outcome) => outcome.kind === 'conflict')).toHaveLength(2);
      revision = (landed[0] as { revision: number }).revision;
      expect((await first!.store.read()).revision).toBe(revision);
    }
  });

  // Last: it leaves the cluster with two servers of three.
  it('keeps working through kill -9 of one nats-server of three (R3)', async () => {
    const c = await start();
    await c.until(() => c.leaders().length === 1, 'a leader');
    const bucket = (await c.nodes[0]!.kv.status()).streamInfo;
    expect(bucket.config.num_replicas).toBe(3);
    expect(1 + (bucket.cluster?.replicas?.length ?? 0)).toBe(3);

    // The server the leader is connected to, so its connection has to move too.
    const leader = only(c);
    const server = cluster.servers.find((s) => s.url.endsWith(`:${leader.nc.info!.port}`))!;
    const killedAt = Date.now();
    await server.kill();
    // The leader's node finds another server: it reads (or writes) the lease again.
    await c.until(
      () => c.ops.some((op) => op.node === leader.name && op.at > killedAt && (op.kind === 'read' ? op.view !== undefined : op.outcome.kind === 'written')),
      'the node of the killed server back on the lease',
    );
    expect(leader.nc.info!.port).not.toBe(server.process.port);
    // A leader (the same or a new one) renews after the kill, and its fenced write goes through.
    await c.until(
      () => c.nodes.some((node) => node.changes.some((change) => change.at > killedAt && (change.kind === 'renewed' || change.kind === 'elected'))),
      'a lease write after the kill',
    );
    await c.until(() => c.leaders().length === 1, 'a leader after the kill');
    const after = only(c);
    await after.lease.fence(after.lease.epoch()!);

    // And a handover still elects a successor on the two servers left.
    const epoch = after.lease.epoch()!;
    await after.lease.stop();
    await after.lease.release();
    await c.until(() => electedAfter(c, epoch) !== undefined, 'a successor after the kill');
    expect(electedAfter(c, epoch)).toMatchObject({ epoch: epoch + 1 });
    const epochs = c.elections().map((election) => election.epoch);
    expect(epochs).toEqual([...epochs].sort((x, y) => x - y));
    expect(new Set(epochs).size).toBe(epochs.length);
    expect(c.overlaps).toEqual([]);
  });
});
