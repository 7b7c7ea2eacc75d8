import { describe, expect, it } from 'vitest';
import { scaleStep } from '../../src/machines/pool-scaler.ts';

const agents = (...states: boolean[]) => states.map((idle, index) => ({ id: `codegen-${index + 1}`, idle }));

describe('scaleStep', () => {
  it('keeps min running', () => {
    expect(scaleStep({ min: 2, max: 3, pending: 0, ackPending: 0, instances: agents(true) })).toEqual({ kind: 'start' });
  });
  it('grows one at a time while tasks wait, up to max', () => {
    expect(scaleStep({ min: 0, max: 2, pending: 5, ackPending: 0, instances: [] })).toEqual({ kind: 'start' });
    expect(scaleStep({ min: 0, max: 2, pending: 5, ackPending: 1, instances: agents(false) })).toEqual({ kind: 'start' });
    expect(scaleStep({ min: 0, max: 2, pending: 5, ackPending: 2, instances: agents(false, false) })).toEqual({ kind: 'hold' });
  });
  it('starts an agent for a role with work and none, whatever min says: a task left ack-pending by a crash is not stranded', async () => {
    expect(scaleStep({ min: 0, max: 1, pending: 0, ackPending: 1, instances: [] })).toEqual({ kind: 'start' });
    expect(scaleStep({ min: 0, max: 3, pending: 0, ackPending: 0, instances: [] })).toEqual({ kind: 'hold' });
    // Held by nobody alive (the busy agents hold one): one more, up to max.
    expect(scaleStep({ min: 0, max: 2, pending: 0, ackPending: 2, instances: agents(false) })).toEqual({ kind: 'start' });
    // An idle agent takes it once its ack wait is over: no more agents, and not stopped meanwhile.
    expect(scaleStep({ min: 0, max: 2, pending: 0, ackPending: 1, instances: agents(true) })).toEqual({ kind: 'hold' });
  });
  it('shrinks towards min by stopping the newest idle agent, never a busy one', () => {
    expect(scaleStep({ min: 1, max: 3, pending: 0, ackPending: 1, instances: agents(true, false, true) })).toEqual({
      kind: 'stop',
      id: 'codegen-3',
    });
    expect(scaleStep({ min: 1, max: 3, pending: 0, ackPending: 2, instances: agents(false, false) })).toEqual({ kind: 'hold' });
    expect(scaleStep({ min: 1, max: 3, pending: 0, ackPending: 0, instances: agents(true) })).toEqual({ kind: 'hold' });
  });
});
