import { jetstreamManager } from '@nats-io/jetstream';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { deadLetterSchema, originalBody, type DeadLetter } from '../../src/infra/bus/dead-letter.ts';
import type { Envelope } from '../../src/infra/bus/envelope.ts';
import { waitFor } from '../support/wait.ts';
import { busTestFile } from './helpers.ts';

describe('bus dead letters', () => {
  const file = busTestFile('dlq-test');

  async function setup() {
    const { bus, topology, observer } = await file.newBus('dlq-test');
    const letters: Envelope<DeadLetter>[] = [];
    const dlq = await bus.consume({
      stream: topology.streams.dlq,
      durable: 'inspector',
      payloadSchema: deadLetterSchema,
      batch: 10,
      handler: (envelope) => void letters.push(envelope),
    });
    return { topology, observer, bus, letters, dlq, subject: `${topology.prefix}.tasks.review` };
  }

  it('dead-letters after the delivery limit, with the reason, the last error and the original body', async () => {
    const { topology, observer, bus, letters, dlq, subject } = await setup();
    const attempts: number[] = [];
    const sub = await bus.consume({
      stream: topology.streams.tasks,
      durable: 'review',
      filterSubject: subject,
      maxDeliver: 3,
      retryBackoff: { initialMs: 20, maxMs: 50, jitter: 0 },
      handler: (_e, d) => {
        attempts.push(d.deliveryCount);
        throw new Error(`reviewer crashed on attempt ${d.deliveryCount}`);
      },
    });
    const published = await bus.publish(subject, 'review.requested', { pr: 99, note: 'ünïcode ✓' });
    await waitFor(() => letters.length === 1, { what: 'a dead letter' });
    await sub.stop();
    await dlq.stop();
    expect(attempts).toEqual([1, 2, 3]);
    const [letter] = letters;
    expect(letter).toMatchObject({ type: 'bus.dead_letter', sender: 'dlq-test' });
    expect(letter?.payload).toMatchObject({
      reason: 'delivery_limit',
      originalSubject: subject,
      stream: topology.streams.tasks,
      consumer: 'review',
      streamSeq: published.seq,
      deliveryCount: 3,
      msgId: published.id,
      body: { encoding: 'utf8' },
    });
    expect(letter?.payload.error).toContain('reviewer crashed on attempt 3');
    const body = JSON.parse(new TextDecoder().decode(originalBody(letter!.payload))) as Envelope<unknown>;
    expect(body).toMatchObject({ id: published.id, payload: { pr: 99, note: 'ünïcode ✓' } });
    expect(sub.stats()).toMatchObject({ deadLettered: 1, handlerErrors: 3, naked: 2, acked: 0 });
    expect(observer.calls).toContainEqual(['deadLettered', subject, 'delivery_limit']);
    const jsm = await jetstreamManager(file.nc);
    expect(await jsm.consumers.info(topology.streams.tasks, 'review')).toMatchObject({ num_pending: 0, num_ack_pending: 0 });
    const stored = await jsm.streams.getMessage(topology.streams.dlq, { last_by_subj: `${topology.prefix}.dlq.${subject}` });
    expect(stored?.header.get('Nats-Msg-Id')).toBe(`dlq:${topology.streams.tasks}:${published.seq}`);
  });

  it('dead-letters malformed messages at once with the validation error; the consumer goes on', async () => {
    const { topology, observer, bus, letters, dlq, subject } = await setup();
    const handled: unknown[] = [];
    const sub = await bus.consume({
      stream: topology.streams.tasks,
      durable: 'review',
      filterSubject: subject,
      handler: (envelope) => void handled.push(envelope.payload),
    });
    const js = (await jetstreamManager(file.nc)).jetstream();
    await js.publish(subject, new Uint8Array([0x7b, 0xff, 0x00, 0x01])); // not UTF-8, not JSON
    await js.publish(subject, JSON.stringify({ hello: 'not an envelope' }));
    await bus.publish(subject, 'review.requested', { good: true });
    await waitFor(() => handled.length === 1 && letters.length === 2, { what: 'one handled, two dead letters' });
    await sub.stop();
    await dlq.stop();
    expect(handled).toEqual([{ good: true }]);
    const [garbage, notEnvelope] = letters.map((l) => l.payload).sort((a, b) => a.streamSeq - b.streamSeq);
    expect(garbage).toMatchObject({ reason: 'malformed', deliveryCount: 1, body: { encoding: 'base64' } });
    expect(garbage?.error).toMatch(/^not_json: /);
    expect([...originalBody(garbage!)]).toEqual([0x7b, 0xff, 0x00, 0x01]);
    expect(notEnvelope).toMatchObject({ reason: 'malformed', body: { encoding: 'utf8', data: '{"hello":"not an envelope"}' } });
    expect(notEnvelope?.error).toMatch(/^invalid_envelope: .*id: /);
    expect(notEnvelope?.error).toContain('sender');
    expect(sub.stats()).toMatchObject({ malformed: 2, deadLettered: 2, acked: 1 });
    expect(observer.calls.filter((c) => c[0] === 'deadLettered')).toEqual([
      ['deadLettered', subject, 'malformed'],
      ['deadLettered', subject, 'malformed'],
    ]);
  });

  it('a poison message too big to dead-letter whole (900 KB of binary) is dead-lettered once, cut, with its size and hash', async () => {
    const { topology, bus, letters, dlq, subject } = await setup();
    const handled: unknown[] = [];
    const sub = await bus.consume({
      stream: topology.streams.tasks,
      durable: 'review',
      filterSubject: subject,
      handler: (envelope) => void handled.push(envelope.payload),
    });
    const poison = new Uint8Array(900 * 1024).map((_, index) => (index * 131 + 0xff) % 256);
    poison[0] = 0xff; // not UTF-8: base64 in the letter, 1.2 MB whole, above the 1 MB payload limit
    const js = (await jetstreamManager(file.nc)).jetstream();
    await js.publish(subject, poison);
    await bus.publish(subject, 'review.requested', { after: 'the poison' });
    await waitFor(() => handled.length === 1 && letters.length === 1, { what: 'the next message handled, one dead letter' });
    await sub.stop();
    await dlq.stop();
    const letter = letters[0]!.payload;
    expect(letter).toMatchObject({ reason: 'malformed', deliveryCount: 1, body: { encoding: 'base64' } });
    expect(letter.truncated).toEqual({ bytes: poison.byteLength, sha256: createHash('sha256').update(poison).digest('hex') });
    const kept = originalBody(letter);
    expect(kept.byteLength).toBeGreaterThan(0);
    expect([...kept]).toEqual([...poison.subarray(0, kept.byteLength)]);
    expect(handled).toEqual([{ after: 'the poison' }]);
    expect(sub.stats()).toMatchObject({ malformed: 1, deadLettered: 1, naked: 0 });
  });

  it('a payload failing the consumer\'s schema is malformed too', async () => {
    const { topology, bus, letters, dlq, subject } = await setup();
    const sub = await bus.consume({
      stream: topology.streams.tasks,
      durable: 'typed',
      filterSubject: subject,
      payloadSchema: z.object({ pr: z.number() }),
      handler: () => {},
    });
    await bus.publish(subject, 'review.requested', { pr: 'ninety-nine' });
    await waitFor(() => letters.length === 1, { what: 'a dead letter' });
    await sub.stop();
    await dlq.stop();
    expect(letters[0]?.payload).toMatchObject({ reason: 'malformed' });
    expect(letters[0]?.payload.error).toMatch(/^invalid_payload: payload of review.requested: pr: /);
  });
});
