/**
 * Trust gating, closed by default: the orchestra acts on an issue only when it carries the
 * trigger label, its author is trusted, and so is whoever applied the label. Pure: the caller
 * fetches the labeler from the tracker.
 *
 * Trusted means: an allowed author association (OWNER, MEMBER, COLLABORATOR by default) or a
 * login on the allow-list; a bot only when its login is on the bots list, whatever else it has.
 * For the labeler, whom the issue's association does not describe, write access to the
 * repository stands for the association. When the tracker would not say whether the labeler may
 * write (the token may not read collaborators' permissions), a labeler who is not trusted by name
 * is unknown (`unknown_labeler`, the tracker's reason in the detail): not judged yet, never trusted.
 */
import type { OrchestraConfig } from '../config/schema.ts';
import type { AuthorAssociation, Labeler, TrackedIssue } from './source.ts';

export type TrustPolicy = OrchestraConfig['workflow']['trust'];

/** Why an issue is not trusted (`miyabi_issues_ignored_total{reason}` counts each from 0). */
export const DISTRUST_REASONS = ['no_trigger_label', 'untrusted_author', 'bot_author', 'unknown_labeler', 'untrusted_labeler', 'bot_labeler'] as const;

export type TrustVerdict = { trusted: true } | { trusted: false; reason: (typeof DISTRUST_REASONS)[number]; detail: string };

interface Person {
  login: string;
  isBot: boolean;
  association?: AuthorAssociation;
  hasWriteAccess?: boolean;
}

/** Whether one person may trigger agents; `undefined` when trusted, else why not. */
export function distrust(person: Person, policy: TrustPolicy): 'bot' | 'untrusted' | undefined {
  if (person.isBot || person.login.endsWith('[bot]')) return policy.bots.includes(person.login) ? undefined : 'bot';
  if (policy.allow.includes(person.login)) return undefined;
  if (person.association !== undefined && policy.associations.includes(person.association)) return undefined;
  if (person.hasWriteAccess === true) return undefined;
  return 'untrusted';
}

export function judgeIssue(
  issue: Pick<TrackedIssue, 'labels' | 'author' | 'authorIsBot' | 'authorAssociation'>,
  labeler: Labeler | undefined,
  triggerLabel: string,
  policy: TrustPolicy,
): TrustVerdict {
  if (!issue.labels.includes(triggerLabel)) {
    return { trusted: false, reason: 'no_trigger_label', detail: `no "${triggerLabel}" label` };
  }
  const author = distrust({ login: issue.author, isBot: issue.authorIsBot, association: issue.authorAssociation }, policy);
  if (author === 'bot') return { trusted: false, reason: 'bot_author', detail: `author ${issue.author} is a bot not in workflow.trust.bots` };
  if (author === 'untrusted') {
    return { trusted: false, reason: 'untrusted_author', detail: `author ${issue.author} (${issue.authorAssociation}) is not trusted` };
  }
  if (labeler === undefined) {
    return { trusted: false, reason: 'unknown_labeler', detail: `who applied "${triggerLabel}" is unknown` };
  }
  const applied = distrust({ login: labeler.login, isBot: labeler.isBot, hasWriteAccess: labeler.hasWriteAccess === true }, policy);
  if (applied === 'untrusted' && labeler.hasWriteAccess === undefined) {
    return {
      trusted: false,
      reason: 'unknown_labeler',
      detail: `whether ${labeler.login}, who applied "${triggerLabel}", may write is unknown: ${labeler.accessProblem ?? 'the tracker did not say'}`,
    };
  }
  if (applied === 'bot') return { trusted: false, reason: 'bot_labeler', detail: `"${triggerLabel}" applied by bot ${labeler.login}` };
  if (applied === 'untrusted') {
    return { trusted: false, reason: 'untrusted_labeler', detail: `"${triggerLabel}" applied by ${labeler.login}, who has no write access` };
  }
  return { trusted: true };
}

/** A comment command (`/miyabi retry`) obeys the same rule as an issue's author. */
export function trustsCommenter(
  commenter: { login: string; isBot: boolean; association: AuthorAssociation },
  policy: TrustPolicy,
): boolean {
  return distrust(commenter, policy) === undefined;
}
