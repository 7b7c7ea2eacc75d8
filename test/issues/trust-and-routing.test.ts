import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.ts';
import type { OrchestraConfig } from '../../src/config/schema.ts';
import { judgeIssue, trustsCommenter } from '../../src/issues/trust.ts';
import { missingRoles, priorityOf, routeIssue, slaMsOf } from '../../src/issues/routing.ts';
import type { TrackedIssue } from '../../src/issues/source.ts';

function workflow(yaml = ''): OrchestraConfig['workflow'] {
  const parsed = parseConfigText(yaml, 'test.yaml');
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return parsed.config.workflow;
}

const issue = (overrides: Partial<TrackedIssue> = {}): TrackedIssue => ({
  number: 1,
  title: 't',
  body: '',
  labels: ['miyabi'],
  state: 'open',
  author: 'alice',
  authorAssociation: 'MEMBER',
  authorIsBot: false,
  updatedAt: '2026-01-01T00:00:00Z',
  ...overrides,
});
const maintainer = { login: 'alice', isBot: false, hasWriteAccess: true };

describe('trust gating (closed by default)', () => {
  const policy = workflow().trust;

  it('acts on a trusted author\'s issue labelled by someone with write access', () => {
    expect(judgeIssue(issue(), maintainer, 'miyabi', policy)).toEqual({ trusted: true });
  });

  it('ignores an issue without the trigger label', () => {
    expect(judgeIssue(issue({ labels: ['type:bug'] }), maintainer, 'miyabi', policy)).toMatchObject({ trusted: false, reason: 'no_trigger_label' });
  });

  it('ignores an untrusted author, even when a maintainer applied the label', () => {
    for (const association of ['NONE', 'CONTRIBUTOR', 'FIRST_TIME_CONTRIBUTOR'] as const) {
      expect(judgeIssue(issue({ authorAssociation: association }), maintainer, 'miyabi', policy)).toMatchObject({
        trusted: false,
        reason: 'untrusted_author',
      });
    }
  });

  it('ignores a label applied by someone without write access, or by nobody known', () => {
    const drive = { login: 'mallory', isBot: false, hasWriteAccess: false };
    expect(judgeIssue(issue(), drive, 'miyabi', policy)).toMatchObject({ trusted: false, reason: 'untrusted_labeler' });
    expect(judgeIssue(issue(), undefined, 'miyabi', policy)).toMatchObject({ trusted: false, reason: 'unknown_labeler' });
  });

  it('ignores bots unless allow-listed, even with an owner association or write access', () => {
    const bot = issue({ author: 'renovate[bot]', authorIsBot: true, authorAssociation: 'OWNER' });
    expect(judgeIssue(bot, maintainer, 'miyabi', policy)).toMatchObject({ trusted: false, reason: 'bot_author' });
    const botLabeler = { login: 'labeler[bot]', isBot: true, hasWriteAccess: true };
    expect(judgeIssue(issue(), botLabeler, 'miyabi', policy)).toMatchObject({ trusted: false, reason: 'bot_labeler' });
    const allowing = workflow('workflow: { trust: { bots: ["renovate[bot]"] } }').trust;
    expect(judgeIssue(bot, maintainer, 'miyabi', allowing)).toEqual({ trusted: true });
  });

  it('trusts an allow-listed login whatever its association; comment commands follow the same rule', () => {
    const allowing = workflow('workflow: { trust: { allow: [carol] } }').trust;
    expect(judgeIssue(issue({ author: 'carol', authorAssociation: 'NONE' }), maintainer, 'miyabi', allowing)).toEqual({ trusted: true });
    expect(trustsCommenter({ login: 'dave', isBot: false, association: 'NONE' }, policy)).toBe(false);
    expect(trustsCommenter({ login: 'erin', isBot: false, association: 'COLLABORATOR' }, policy)).toBe(true);
    expect(trustsCommenter({ login: 'x[bot]', isBot: true, association: 'OWNER' }, policy)).toBe(false);
  });
});

describe('trust verdicts say why', () => {
  const policy = workflow().trust;
  const unknownAccess = { login: 'frank', isBot: false, hasWriteAccess: undefined };
  it.each([
    ['no trigger label', issue({ labels: [] }), maintainer, 'no_trigger_label', 'no "miyabi" label'],
    ['a bot author', issue({ author: 'dep[bot]', authorIsBot: true }), maintainer, 'bot_author', 'author dep[bot] is a bot not in workflow.trust.bots'],
    // A login that ends in [bot] is a bot even when the tracker does not flag it.
    ['a bot by name only', issue({ author: 'dep[bot]', authorIsBot: false }), maintainer, 'bot_author', 'author dep[bot] is a bot not in workflow.trust.bots'],
    ['an untrusted author', issue({ authorAssociation: 'NONE' }), maintainer, 'untrusted_author', 'author alice (NONE) is not trusted'],
    ['nobody known labelled it', issue(), undefined, 'unknown_labeler', 'who applied "miyabi" is unknown'],
    ['the tracker would not say', issue(), unknownAccess, 'unknown_labeler', 'whether frank, who applied "miyabi", may write is unknown: the tracker did not say'],
    [
      'the token may not read permissions',
      issue(),
      { ...unknownAccess, accessProblem: 'needs Administration: read' },
      'unknown_labeler',
      'whether frank, who applied "miyabi", may write is unknown: needs Administration: read',
    ],
    ['a bot labeller', issue(), { login: 'l[bot]', isBot: true, hasWriteAccess: true }, 'bot_labeler', '"miyabi" applied by bot l[bot]'],
    ['a labeller without write access', issue(), { login: 'mallory', isBot: false, hasWriteAccess: false }, 'untrusted_labeler', '"miyabi" applied by mallory, who has no write access'],
  ] as const)('%s', (_what, judged, labeler, reason, detail) => {
    expect(judgeIssue(judged, labeler, 'miyabi', policy)).toEqual({ trusted: false, reason, detail });
  });

  it('asks about access only when it decides: an allow-listed labeller is trusted, a bot refused as a bot', () => {
    const allowing = workflow('workflow: { trust: { allow: [frank] } }').trust;
    expect(judgeIssue(issue(), unknownAccess, 'miyabi', allowing)).toEqual({ trusted: true });
    expect(judgeIssue(issue(), { login: 'l[bot]', isBot: true, hasWriteAccess: undefined }, 'miyabi', policy)).toMatchObject({ reason: 'bot_labeler' });
  });
});

describe('routing', () => {
  const policy = workflow();

  it('maps labels to a route, the first matching route winning', () => {
    expect(routeIssue(['type:docs'], policy).stages.map((s) => s.stage)).toEqual(['codegen', 'pr', 'merge']);
    expect(routeIssue(['type:bug'], policy).stages.map((s) => s.stage)).toEqual(['codegen', 'review', 'pr', 'merge']);
    expect(routeIssue(['type:docs', 'type:bug'], policy).matched).toBe('type:docs');
    expect(routeIssue([], policy)).toMatchObject({ matched: undefined, stages: [{ stage: 'codegen' }, { stage: 'review' }, { stage: 'pr' }, { stage: 'merge' }] });
    // merge is the orchestra's own stage: no agent role runs it, and none is missing for it.
    expect(routeIssue([], policy).stages.at(-1)).toEqual({ stage: 'merge', role: 'orchestra' });
  });

  it('appends the deploy stage for the deploy label, and agent:<role> forces the first stage\'s role', () => {
    expect(routeIssue(['type:bug', 'deploy'], policy).stages.map((s) => s.stage)).toEqual(['codegen', 'review', 'pr', 'merge', 'deploy']);
    expect(routeIssue(['agent:codegen-claude'], policy).stages[0]).toEqual({ stage: 'codegen', role: 'codegen-claude' });
    expect(missingRoles(routeIssue(['agent:codegen-claude'], policy).stages, ['codegen', 'review', 'pr'])).toEqual(['codegen-claude']);
  });

  it('sets priority from P0…P3 and severity labels, the most urgent winning, and the SLA from it', () => {
    expect(priorityOf(['P3', 'severity:critical'], policy)).toBe(0);
    expect(priorityOf(['P1'], policy)).toBe(1);
    expect(priorityOf([], policy)).toBe(2);
    expect(slaMsOf(0, policy)).toBe(3_600_000);
    expect(slaMsOf(9, policy)).toBe(259_200_000);
  });

  it('runs a stage by the role configured for it', () => {
    const custom = workflow('workflow: { stageRoles: { codegen: kaede } }');
    expect(routeIssue([], custom).stages[0]).toEqual({ stage: 'codegen', role: 'kaede' });
  });
});
