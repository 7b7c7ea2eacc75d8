import { describe, expect, it } from 'vitest';
import { REDACTED } from '../../src/infra/observe/logger.ts';
import { noRedaction, redactDeep, textRedactor } from '../../src/infra/observe/redact.ts';

describe('textRedactor', () => {
  it('replaces every verbatim copy of every secret', () => {
    const redact = textRedactor(['s3cr3t-value', 'other-secret']);
    expect(redact('token=s3cr3t-value, again s3cr3t-value; other-secret')).toBe(`token=${REDACTED}, again ${REDACTED}; ${REDACTED}`);
    expect(redact('nothing to hide')).toBe('nothing to hide');
  });

  it('takes the longest secret first, so one that holds another goes whole', () => {
    // Given shortest first on purpose: a redactor that kept that order would leave "-suffix".
    const redact = textRedactor(['abc123', 'abc123-suffix']);
    expect(redact('x abc123-suffix y abc123 z')).toBe(`x ${REDACTED} y ${REDACTED} z`);
  });

  it('ignores empty secrets and duplicates; none at all redacts nothing', () => {
    expect(textRedactor([])).toBe(noRedaction);
    expect(textRedactor(['', ''])).toBe(noRedaction);
    const redact = textRedactor(['', 'dup-secret', 'dup-secret']);
    expect(redact('a dup-secret b')).toBe(`a ${REDACTED} b`);
    expect(redact('')).toBe('');
    expect(noRedaction('as is')).toBe('as is');
  });

  it('catches only verbatim copies, not encoded ones', () => {
    const redact = textRedactor(['s3cr3t']);
    expect(redact(Buffer.from('s3cr3t').toString('base64'))).toBe('czNjcjN0');
  });
});

describe('redactDeep', () => {
  const redact = textRedactor(['hunter2-secret']);

  it('redacts every string of a JSON-like value, keys included, and keeps the rest as it is', () => {
    const value = {
      reason: 'failed with hunter2-secret',
      list: ['ok', 'hunter2-secret', 3, null, true],
      nested: { 'hunter2-secret': { deep: ['x hunter2-secret'] }, count: 0 },
      missing: undefined,
    };
    expect(redactDeep(value, redact)).toEqual({
      reason: `failed with ${REDACTED}`,
      list: ['ok', REDACTED, 3, null, true],
      nested: { [REDACTED]: { deep: [`x ${REDACTED}`] }, count: 0 },
      missing: undefined,
    });
    expect(value.reason).toBe('failed with hunter2-secret');
  });

  it('answers a plain string, a number and null', () => {
    expect(redactDeep('hunter2-secret', redact)).toBe(REDACTED);
    expect(redactDeep(42, redact)).toBe(42);
    expect(redactDeep(null, redact)).toBeNull();
    expect(Array.isArray(redactDeep(['hunter2-secret'], redact))).toBe(true);
  });
});
