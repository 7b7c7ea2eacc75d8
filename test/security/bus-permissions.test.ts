/**
 * The locked bus, on a real nats-server with the users and permissions the orchestra generates
 * (src/orchestra/nats-auth.ts): who may connect, and what each identity may publish, subscribe
 * to and read. Every refusal is the server's own, waited for as the event it is.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect, nkeyAuthenticator, nkeys } from '@nats-io/transport-node';
import { stat } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTROL_SUBJECTS } from '../../src/actors/control-subjects.ts';
import { DEFAULT_BUS_TOPOLOGY } from '../../src/infra/bus/topology.ts';
import { externalServerConfig } from '../../src/orchestra/nats-auth.ts';
import { heartbeatSubject, runnerErrorSubject, spareClaimSubject, spareReadySubject } from '../../src/runner/heartbeat.ts';
import { keptAnswers } from '../../src/runner/kept-answers.ts';
import { cancelKey, resultSubject, taskDurable, type TaskResult } from '../../src/runner/task-message.ts';
import { startSecureNats, type Client, type SecureNats } from '../support/secure-nats.ts';

let nats: SecureNats;
let orchestrator: Client;
let runner: Client;
const kvStream = `KV_${DEFAULT_BUS_TOPOLOGY.kvBucket}`;

beforeAll(async () => {
  nats = await startSecureNats(['codegen', 'review', 'conductor'], { max: { codegen: 2 } });
  const { client, bus } = await nats.orchestratorBus();
  orchestrator = client;
  const kv = await bus.kv();
  await kv.put('issue.1', JSON.stringify({ number: 1, private: 'the workflow state' }));
  await kv.put(cancelKey('t-cancelled'), '{}');
  runner = await nats.connectAs('runner-codegen-1');
});
afterAll(async () => {
  await nats?.stop();
});

/**
 * Publishes `subject` as `client`, then a message it may publish: when that one arrives, the
 * first would have arrived before it had the server let it through (one connection, in order).
 */
const probe = heartbeatSubject('codegen', 'codegen-1');

async function publishAndProbe(client: Client, subject: string, sentinel = probe): Promise<string[]> {
  const seen: string[] = [];
  const done = new Promise<void>((resolve) => {
    const sub = orchestrator.nc.subscribe('>', {
      callback: (_error, message) => {
        if (message.subject.startsWith('$') || message.subject.startsWith('_INBOX')) return;
        seen.push(message.subject);
        if (message.subject === sentinel) {
          sub.unsubscribe();
          resolve();
        }
      },
    });
  });
  await orchestrator.nc.flush();
  client.nc.publish(subject, JSON.stringify({ forged: true }));
  client.nc.publish(sentinel, JSON.stringify({ agentId: 'codegen-1' }));
  await done;
  return seen;
}

describe('authentication', () => {
  it('refuses a connection without credentials, and one with a key the server does not know', async () => {
    await expect(connect({ servers: nats.url, reconnect: false })).rejects.toThrow(/Authorization Violation/i);
    const stranger = nkeys.createUser().getSeed();
    await expect(connect({ servers: nats.url, reconnect: false, authenticator: nkeyAuthenticator(stranger) })).rejects.toThrow(/Authorization Violation/i);
  });
});

describe('a runner identity', () => {
  it('cannot stop the orchestra, dispatch tasks, forge issue events or cancel tasks: refused by the server, delivered to nobody', async () => {
    for (const subject of [CONTROL_SUBJECTS.stop, 'miyabi.tasks.codegen', 'miyabi.tasks.review', 'miyabi.events.issue.777', 'miyabi.events.issue.scope', 'miyabi.control.cancel']) {
      const seen = await publishAndProbe(runner, subject);
      await runner.refused('Publish', subject);
      expect(seen, subject).toEqual([probe]);
    }
    // Through JetStream too: no PubAck, no message in the stream.
    await expect(jetstream(runner.nc).publish('miyabi.tasks.codegen', '{}', { timeout: 2_000 })).rejects.toThrow(/Permissions Violation/);
    const jsm = await jetstreamManager(orchestrator.nc);
    expect((await jsm.streams.info('MIYABI_TASKS')).state.messages).toBe(0);
  });

  it('cannot read the KV bucket, only the cancel marks; cannot write it', async () => {
    const jsm = await jetstreamManager(runner.nc);
    const get = (key: string) => jsm.direct.getMessage(kvStream, { last_by_subj: `$KV.${DEFAULT_BUS_TOPOLOGY.kvBucket}.${key}` });
    await expect(get('issue.1')).rejects.toThrow(/Permissions Violation/);
    await expect(get('dag')).rejects.toThrow(/Permissions Violation/);
    await expect(jsm.streams.getMessage(kvStream, { last_by_subj: `$KV.${DEFAULT_BUS_TOPOLOGY.kvBucket}.issue.1` })).rejects.toThrow(/Permissions Violation/);
    await expect((await new Kvm(runner.nc).open(DEFAULT_BUS_TOPOLOGY.kvBucket)).get('issue.1')).rejects.toThrow(/Permissions Violation/);
    expect((await get(cancelKey('t-cancelled')))?.string()).toBe('{}');
    expect(await get(cancelKey('t-running'))).toBeNull();
    await publishAndProbe(runner, `$KV.${DEFAULT_BUS_TOPOLOGY.kvBucket}.issue.1`);
    await runner.refused('Publish', `$KV.${DEFAULT_BUS_TOPOLOGY.kvBucket}.issue.1`);
    const { bus } = await nats.orchestratorBus();
    expect((await (await bus.kv()).get('issue.1'))?.json()).toEqual({ number: 1, private: 'the workflow state' });
  });

  it("keeps its own role's answers and reads them back, the first kept staying; cannot write another role's, nor the ledger or the lease", async () => {
    await nats.orchestratorBus(); // the answers' bucket is the orchestrator's to make
    const answer: TaskResult = { taskId: 't-answered', issue: 1, role: 'codegen', stage: 'codegen', attempt: 1, agentId: 'codegen-1', status: 'success', reason: 'done', durationMs: 1, worktree: '/w', branch: 'miyabi/issue-1' };
    const mine = keptAnswers(runner.nc, DEFAULT_BUS_TOPOLOGY, 'codegen');
    expect(await mine.kept('t-answered')).toBeUndefined();
    expect(await mine.keep(answer)).toEqual(answer);
    expect(await mine.kept('t-answered')).toEqual(answer);
    expect(await mine.keep({ ...answer, attempt: 2, summary: 'a second run' })).toEqual(answer);
    const reviews = keptAnswers(runner.nc, DEFAULT_BUS_TOPOLOGY, 'review');
    await expect(reviews.keep({ ...answer, role: 'review' })).rejects.toThrow(/Permissions Violation/);
    for (const bucket of [DEFAULT_BUS_TOPOLOGY.onceBucket, DEFAULT_BUS_TOPOLOGY.leaseBucket]) {
      await expect(jetstream(runner.nc).publish(`$KV.${bucket}.leader`, '{}', { timeout: 2_000 })).rejects.toThrow(/Permissions Violation/);
    }
  });

  it("pulls its own role's tasks, never another role's, and cannot make or change a consumer", async () => {
    const { bus } = await nats.orchestratorBus();
    await bus.publish('miyabi.tasks.codegen', 'task.dispatched', { n: 1 }, { msgId: 'codegen-1' });
    await bus.publish('miyabi.tasks.review', 'task.dispatched', { n: 2 }, { msgId: 'review-1' });
    const js = jetstream(runner.nc);
    const own = await (await js.consumers.get('MIYABI_TASKS', taskDurable('codegen'))).next({ expires: 5_000 });
    expect(own?.subject).toBe('miyabi.tasks.codegen');
    await own!.ackAck();
    await expect(js.consumers.get('MIYABI_TASKS', taskDurable('review'))).rejects.toThrow(/Permissions Violation/);
    const jsm = await jetstreamManager(runner.nc);
    await expect(
      jsm.consumers.add('MIYABI_TASKS', { durable_name: 'stolen', filter_subject: 'miyabi.tasks.review', ack_policy: 'explicit' as never }),
    ).rejects.toThrow(/Permissions Violation/);
    await expect(jsm.consumers.update('MIYABI_TASKS', taskDurable('codegen'), { max_ack_pending: 5 })).rejects.toThrow(/Permissions Violation/);
  });

  it("speaks for its own agent only: another agent's heartbeat, result or error, of its role or another, and a spare's, are refused", async () => {
    // Its own heartbeat is the probe itself.
    for (const subject of [runnerErrorSubject('codegen', 'codegen-1'), resultSubject('codegen', 'codegen-1')]) {
      expect(await publishAndProbe(runner, subject), subject).toEqual([subject, probe]);
    }
    // codegen-2 or review-1 kept "alive" (or its process group and ack subject named, or its result forged) by codegen-1's runner.
    const others = [heartbeatSubject('codegen', 'codegen-2'), runnerErrorSubject('codegen', 'codegen-2'), resultSubject('codegen', 'codegen-2')];
    others.push(heartbeatSubject('review', 'review-1'), runnerErrorSubject('review', 'review-1'), resultSubject('review', 'review-1'), spareReadySubject('codegen', 'spare-codegen-1'));
    for (const subject of others) {
      expect(await publishAndProbe(runner, subject), subject).toEqual([probe]);
      await runner.refused('Publish', subject);
    }
    // Only the role's spare identity announces and is claimed; an agent's runner cannot even hear a claim.
    const spare = await nats.connectAs('runner-codegen-spare');
    const own = spare.nc.subscribe(spareClaimSubject('codegen', 'spare-codegen-1'), { callback: (_error, message) => void message.respond('{"ok":true}') });
    await spare.nc.flush();
    expect((await orchestrator.nc.request(spareClaimSubject('codegen', 'spare-codegen-1'), '{}', { timeout: 2_000 })).json()).toEqual({ ok: true });
    own.unsubscribe();
    for (const subject of [spareClaimSubject('review', 'spare-review-1'), 'miyabi.control.cancel']) {
      spare.nc.subscribe(subject);
      await spare.refused('Subscription', subject);
    }
    runner.nc.subscribe(spareClaimSubject('codegen', 'spare-codegen-1'));
    await runner.refused('Subscription', spareClaimSubject('codegen', 'spare-codegen-1'));
    // A spare takes no task until it is claimed and connects as its slot.
    await expect(jetstream(spare.nc).consumers.get('MIYABI_TASKS', taskDurable('codegen'))).rejects.toThrow(/Permissions Violation/);
  });

  it("cannot listen to others' replies or to the task streams", async () => {
    for (const subject of ['_INBOX.>', '_INBOX.orchestrator.>', 'miyabi.tasks.>', 'miyabi.control.stop', '>']) {
      runner.nc.subscribe(subject);
      await runner.refused('Subscription', subject);
    }
  });

  it('is refused when it presents another role’s identity: the server names what it may not do', async () => {
    // A review runner started with codegen's seed: its replies go where codegen's may not, and
    // its role's consumer is not codegen's to read.
    const impostor = await nats.connectAs('runner-review-1', { seed: nats.identities.get('runner-codegen-1')!.seed });
    await expect(jetstreamManager(impostor.nc, { timeout: 2_000 })).rejects.toThrow(/Permissions Violation for Subscription to "_INBOX\.runner-review-1\./);
    await impostor.refused('Subscription', /^_INBOX\.runner-review-1\./);
  });
});

describe('one identity per runner', () => {
  it('gives every slot of a role, and its spare, a key of its own: each works for its own agent only', async () => {
    const codegen = ['runner-codegen-1', 'runner-codegen-2', 'runner-codegen-spare'].map((name) => nats.identities.get(name)!);
    expect(new Set(codegen.map((identity) => identity.publicKey)).size).toBe(3);
    expect([...nats.identities.keys()].filter((name) => name.startsWith('runner-codegen'))).toEqual(['runner-codegen-1', 'runner-codegen-2', 'runner-codegen-spare']);
    expect(((await stat(codegen[1]!.file)).mode & 0o777).toString(8)).toBe('600');
    const second = await nats.connectAs('runner-codegen-2');
    for (const [client, own, other] of [[runner, 'codegen-1', 'codegen-2'], [second, 'codegen-2', 'codegen-1']] as const) {
      expect(await publishAndProbe(client, heartbeatSubject('codegen', own), heartbeatSubject('codegen', own))).toEqual([heartbeatSubject('codegen', own)]);
      client.nc.publish(heartbeatSubject('codegen', other), '{}');
      await client.refused('Publish', heartbeatSubject('codegen', other));
    }
    // The server tells them apart: each connection is its own slot's user.
    const connz = (await (await fetch(`${nats.monitorUrl}/connz?auth=true`)).json()) as { connections: Array<{ authorized_user?: string }> };
    const users = connz.connections.map((connection) => connection.authorized_user);
    expect(users).toContain(codegen[0]!.publicKey);
    expect(users).toContain(codegen[1]!.publicKey);
    // Both pull the role's tasks.
    const { bus } = await nats.orchestratorBus();
    await bus.publish('miyabi.tasks.codegen', 'task.dispatched', { n: 3 }, { msgId: 'codegen-slot-2' });
    const task = await (await jetstream(second.nc).consumers.get('MIYABI_TASKS', taskDurable('codegen'))).next({ expires: 5_000 });
    expect(task?.subject).toBe('miyabi.tasks.codegen');
    await task!.ackAck();
  });

  it("refuses a runner presenting another slot's identity, and a slot beyond max", async () => {
    // Slot 2's runner started with slot 1's seed: its replies go to slot 2's inbox, which slot 1's identity may not hear.
    const impostor = await nats.connectAs('runner-codegen-2', { seed: nats.identities.get('runner-codegen-1')!.seed });
    await expect(jetstreamManager(impostor.nc, { timeout: 2_000 })).rejects.toThrow(/Permissions Violation for Subscription to "_INBOX\.runner-codegen-2\./);
    // And it cannot speak as slot 2.
    impostor.nc.publish(heartbeatSubject('codegen', 'codegen-2'), '{}');
    await impostor.refused('Publish', heartbeatSubject('codegen', 'codegen-2'));
    // There is no slot 3 (max 2): no identity, and a key made for it is not the server's.
    expect(nats.identities.has('runner-codegen-3')).toBe(false);
    await expect(connect({ servers: nats.url, reconnect: false, authenticator: nkeyAuthenticator(nkeys.createUser().getSeed()) })).rejects.toThrow(/Authorization Violation/i);
  });
});

describe('the operator identity', () => {
  it('asks for status and stop, reads streams and the KV bucket, and cannot forge tasks or issue events', async () => {
    const operator = await nats.connectAs('operator');
    const responder = orchestrator.nc.subscribe(CONTROL_SUBJECTS.status, { callback: (_error, message) => void message.respond('{"ok":true}') });
    await orchestrator.nc.flush();
    expect((await operator.nc.request(CONTROL_SUBJECTS.status, '', { timeout: 2_000 })).json()).toEqual({ ok: true });
    responder.unsubscribe();
    const kv = await new Kvm(operator.nc).open(DEFAULT_BUS_TOPOLOGY.kvBucket);
    expect((await kv.get('issue.1'))?.json()).toMatchObject({ number: 1 });
    const keys: string[] = [];
    for await (const key of await kv.keys('issue.*')) keys.push(key);
    expect(keys).toEqual(['issue.1']);
    for (const subject of ['miyabi.tasks.codegen', 'miyabi.events.issue.1', `$KV.${DEFAULT_BUS_TOPOLOGY.kvBucket}.issue.1`, 'miyabi.control.cancel']) {
      expect(await publishAndProbe(operator, subject, CONTROL_SUBJECTS.status)).toEqual([CONTROL_SUBJECTS.status]);
      await operator.refused('Publish', subject);
    }
  });
});

describe('nats-config', () => {
  it('configures a real external server: the orchestrator runs its bus in the account, a runner is held to its role', async () => {
    const external = await startSecureNats(['codegen', 'review'], { account: 'MIYABI' });
    try {
      await expect(connect({ servers: external.url, reconnect: false })).rejects.toThrow(/Authorization Violation/i);
      const { bus } = await external.orchestratorBus();
      await bus.publish('miyabi.tasks.codegen', 'task.dispatched', { n: 1 }, { msgId: 'external-codegen-1' });
      const runner = await external.connectAs('runner-codegen-1');
      const own = await (await jetstream(runner.nc).consumers.get('MIYABI_TASKS', taskDurable('codegen'))).next({ expires: 5_000 });
      expect(own?.subject).toBe('miyabi.tasks.codegen');
      await own!.ackAck();
      for (const subject of [CONTROL_SUBJECTS.stop, 'miyabi.tasks.review', 'miyabi.events.issue.1', heartbeatSubject('review', 'review-1')]) {
        runner.nc.publish(subject, '{}');
        await runner.refused('Publish', subject);
      }
      await expect(jetstream(runner.nc).consumers.get('MIYABI_TASKS', taskDurable('review'))).rejects.toThrow(/Permissions Violation/);
    } finally {
      await external.stop();
    }
  });

  it('gives an external server the same users, in an account with JetStream, and no seed', () => {
    const text = externalServerConfig(nats.identities, nats.config, 'MIYABI');
    expect(text).toMatch(/^accounts \{\n {2}MIYABI \{\n {4}jetstream: enabled/);
    for (const identity of nats.identities.values()) {
      expect(text).toContain(identity.publicKey);
      expect(text).not.toContain(identity.seed);
    }
    expect(text).toContain('"$JS.API.CONSUMER.MSG.NEXT.MIYABI_TASKS.agents-codegen"');
  });
});
