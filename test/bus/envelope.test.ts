import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEnvelope, decodeEnvelope, encodeEnvelope } from '../../src/infra/bus/envelope.ts';

const base = { sender: 'scheduler', incarnation: 'inc-1', seq: 1, type: 'task.assigned' };

describe('envelope', () => {
  it('round-trips through bytes', () => {
    const envelope = createEnvelope({ ...base, payload: { issue: 7 }, now: new Date('2030-01-02T03:04:05.000Z') });
    const decoded = decodeEnvelope(encodeEnvelope(envelope));
    expect(decoded).toEqual({ ok: true, envelope });
    expect(envelope).toMatchObject({ schema: 1, ts: '2030-01-02T03:04:05.000Z', seq: 1 });
    expect(envelope.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('writes an absent payload as null, and requires the key when reading', () => {
    const envelope = createEnvelope({ ...base, payload: undefined });
    expect(envelope.payload).toBeNull();
    expect(decodeEnvelope(encodeEnvelope(envelope))).toMatchObject({ ok: true, envelope: { payload: null } });
    const raw = JSON.stringify({ ...envelope, payload: undefined });
    expect(decodeEnvelope(raw)).toMatchObject({ ok: false, reason: 'invalid_envelope' });
  });

  it('reports bytes that are not JSON, without throwing', () => {
    expect(decodeEnvelope(new TextEncoder().encode('not json {'))).toMatchObject({ ok: false, reason: 'not_json' });
    expect(decodeEnvelope(new Uint8Array([0xff, 0xfe]))).toMatchObject({ ok: false, reason: 'not_json' });
  });

  it('names every field that fails the schema', () => {
    const bad = { ...createEnvelope({ ...base, payload: 1 }), seq: 0, schema: 2, id: 'nope' };
    const decoded = decodeEnvelope(JSON.stringify(bad));
    expect(decoded.ok).toBe(false);
    if (decoded.ok) return;
    expect(decoded.reason).toBe('invalid_envelope');
    expect(decoded.error).toContain('seq:');
    expect(decoded.error).toContain('schema:');
    expect(decoded.error).toContain('id:');
    expect(decodeEnvelope('[1,2]')).toMatchObject({ ok: false, reason: 'invalid_envelope' });
  });

  it('checks the payload against a schema when given one', () => {
    const schema = z.object({ issue: z.number() });
    const good = encodeEnvelope(createEnvelope({ ...base, payload: { issue: 3 } }));
    const bad = encodeEnvelope(createEnvelope({ ...base, payload: { issue: 'three' } }));
    expect(decodeEnvelope(good, schema)).toMatchObject({ ok: true, envelope: { payload: { issue: 3 } } });
    expect(decodeEnvelope(bad, schema)).toMatchObject({ ok: false, reason: 'invalid_payload' });
  });

  it('accepts a timestamp with an offset', () => {
    const envelope = { ...createEnvelope({ ...base, payload: 1 }), ts: '2030-01-02T05:04:05.000+02:00' };
    expect(decodeEnvelope(JSON.stringify(envelope))).toMatchObject({ ok: true, envelope: { ts: '2030-01-02T05:04:05.000+02:00' } });
  });

  it('refuses bytes that are not UTF-8 even inside a JSON string, and says why', () => {
    const json = encodeEnvelope(createEnvelope({ ...base, type: 'task.Z', payload: 1 }));
    const bytes = Uint8Array.from(json);
    bytes[json.indexOf('Z'.charCodeAt(0))] = 0xff;
    const decoded = decodeEnvelope(bytes);
    expect(decoded).toMatchObject({ ok: false, reason: 'not_json' });
    expect(!decoded.ok && decoded.error).toMatch(/^not JSON: ./);
  });

  it('names the path of each payload problem, or (root), one after another', () => {
    const nested = z.object({ issue: z.object({ number: z.number(), title: z.string() }) });
    const decoded = decodeEnvelope(encodeEnvelope(createEnvelope({ ...base, payload: { issue: { number: 'x', title: 2 } } })), nested);
    expect(!decoded.ok && decoded.error).toMatch(/^payload of task\.assigned: issue\.number: .+; issue\.title: .+$/);
    const root = decodeEnvelope(encodeEnvelope(createEnvelope({ ...base, payload: 'text' })), z.number());
    expect(!root.ok && root.error).toMatch(/^payload of task\.assigned: \(root\): /);
  });
});
