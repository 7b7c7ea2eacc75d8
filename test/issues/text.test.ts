import { describe, expect, it } from 'vitest';
import { PROMPT_BODY_MAX_BYTES, promptBody, sha256, truncateUtf8, withoutControlCharacters } from '../../src/issues/text.ts';
import { observedIssue } from '../../src/workflow/issue-events.ts';

describe('untrusted issue text', () => {
  it('truncates on a character boundary, never leaving half a character, and says so', () => {
    const text = 'あ'.repeat(100); // 3 bytes each
    const cut = truncateUtf8(text, 50, '…');
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(50);
    expect(cut).not.toContain('\uFFFD');
    expect(cut.endsWith('…')).toBe(true);
    expect(truncateUtf8('short', 50)).toBe('short');
  });

  it('drops control characters but keeps tabs and newlines', () => {
    expect(withoutControlCharacters('a\u0000b\u001b[31mc\td\ne\u007f')).toBe('ab[31mc\td\ne');
  });

  it('bounds a body of several megabytes for prompts, while the content hash still sees the whole of it', () => {
    const huge = `${'x'.repeat(5 * 1024 * 1024)}\ndepends on #7`;
    const body = promptBody(huge);
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(PROMPT_BODY_MAX_BYTES);
    const issue = { number: 1, title: 't', body: huge, labels: [], state: 'open' as const, author: 'a', authorAssociation: 'OWNER' as const, authorIsBot: false, updatedAt: '' };
    const observed = observedIssue(issue);
    expect(observed.dependsOn).toEqual([7]);
    expect(observed.contentHash).not.toBe(observedIssue({ ...issue, body: `${huge} ` }).contentHash);
    expect(sha256('a', 'b')).not.toBe(sha256('ab'));
  });

  it('takes a body with invalid UTF-8 (decoded to U+FFFD) as it is', () => {
    const decoded = new TextDecoder().decode(Buffer.from([0x66, 0x6f, 0xff, 0xfe, 0x6f]));
    expect(promptBody(decoded)).toBe('fo\uFFFD\uFFFDo');
  });
});
