/**
 * The trust gate's verdicts, as the issue watcher keeps them: one per issue, remembered by
 * everything the verdict depends on — whether the issue carries the trigger label, its author,
 * the author's association and whether the author is a bot, and who applied the trigger label
 * (and whether that person may write). Not by `updated_at` alone: GitHub gives it to the second,
 * so changes within one second (an issue opened and labelled at once, a label removed in the same
 * second as another change) would keep a stale verdict for good.
 *
 * Who applied the trigger label is read from the tracker (its events: conditional on GitHub, so
 * free when no label moved), and the verdict is kept by that labelling too (which event, by whom).
 * The whole labeler, with whether that person may write, is read again whenever the issue changed
 * (`updated_at`) or the caller knows the trigger label moved (a webhook delivery about it), even
 * with the same `updated_at`. Otherwise, for an issue carrying the label, the source is asked only
 * which labelling applied it last (`labelingEvent`: on GitHub the same conditional events, a 304
 * free of rate limit) at every look: removed and applied again by someone else within the second
 * of the issue's last change, the issue the tracker lists is the same to the byte, and only its
 * events tell. A new labelling is judged again. Not asked when the caller knows the change cannot
 * have moved the trigger label (a webhook delivery about another label, such as the orchestra's
 * own state labels): then the verdict stands as it was.
 *
 * A verdict that could not be reached — reading the labeler failed (an outage), or the tracker
 * would not say whether the labeler may write, or does not know yet who applied the label — is
 * `decided: false`: the issue is neither acted on nor released, and asked about again at the next
 * poll (the watcher does not count the poll as complete). An untrusted verdict is logged and
 * counted once per issue version; a problem once per issue version too.
 */
import type { Logger } from 'pino';
import type { OrchestraConfig } from '../config/schema.ts';
import { describeError } from '../errors.ts';
import type { IssueSource, Labeler, TrackedIssue } from '../issues/source.ts';
import { judgeIssue, type TrustVerdict } from '../issues/trust.ts';

export interface Judged {
  verdict: TrustVerdict;
  /** False: not judged yet (`problem` says why); looked at again at the next poll. */
  decided: boolean;
  problem?: string;
}

/** What the caller knows of the change: `unchanged`, it cannot have moved the trigger label; `moved`, it did. */
export type LabelerHint = 'unchanged' | 'moved' | undefined;

export interface TrustVerdictsOptions {
  config: OrchestraConfig;
  source: Pick<IssueSource, 'labeler' | 'labelingEvent'>;
  logger: Logger;
  onIgnored?: (reason: string) => void;
}

interface Remembered {
  key: string;
  /** The labelling the verdict was reached with (`Labeler.event`). */
  labeling: string | undefined;
  updatedAt: string;
  verdict: TrustVerdict;
}

/**
 * Everything a verdict depends on: whether the issue carries the trigger label, its author (login,
 * association, bot-ness) and, when it carries the label, which labelling applied it (`labeling`:
 * the event and who; whether that person may write is read with it).
 */
export function trustKey(issue: TrackedIssue, triggerLabel: string, labeling: string | undefined): string {
  const triggered = issue.labels.includes(triggerLabel);
  return JSON.stringify([triggered, issue.author, issue.authorAssociation, issue.authorIsBot, triggered ? (labeling ?? null) : null]);
}

export class TrustVerdicts {
  readonly #options: TrustVerdictsOptions;
  readonly #remembered = new Map<number, Remembered>();
  /** Per issue: the version (key, `updated_at`, outcome) last logged and counted. */
  readonly #told = new Map<number, string>();

  constructor(options: TrustVerdictsOptions) {
    this.#options = options;
  }

  /** The verdict last reached for the issue, if any. */
  verdictOf(number: number): TrustVerdict | undefined {
    return this.#remembered.get(number)?.verdict;
  }

  forget(number: number): void {
    this.#remembered.delete(number);
    this.#told.delete(number);
  }

  async judge(issue: TrackedIssue, hint?: LabelerHint): Promise<Judged> {
    const { triggerLabel, trust } = this.#options.config.workflow;
    const { source } = this.#options;
    const triggered = issue.labels.includes(triggerLabel);
    const remembered = this.#remembered.get(issue.number);
    const same = remembered !== undefined && hint !== 'moved' && (remembered.updatedAt === issue.updatedAt || hint === 'unchanged');
    if (same && trustKey(issue, triggerLabel, remembered.labeling) === remembered.key) {
      if (hint === 'unchanged' || !triggered || !source.labelingEvent) return { verdict: remembered.verdict, decided: true };
      let labeling: string | undefined;
      try {
        labeling = await source.labelingEvent(issue.number, triggerLabel);
      } catch (error) {
        return this.#unread(issue, error);
      }
      if (labeling === remembered.labeling) return { verdict: remembered.verdict, decided: true };
    }
    let labeler: Labeler | undefined;
    if (triggered) {
      try {
        labeler = await source.labeler(issue.number, triggerLabel);
      } catch (error) {
        return this.#unread(issue, error);
      }
    }
    const key = trustKey(issue, triggerLabel, labeler?.event);
    const verdict = judgeIssue(issue, labeler, triggerLabel, trust);
    const decided = verdict.trusted || verdict.reason !== 'unknown_labeler';
    if (decided) this.#remembered.set(issue.number, { key, labeling: labeler?.event, updatedAt: issue.updatedAt, verdict });
    else this.#remembered.delete(issue.number);
    if (!verdict.trusted) {
      this.#tell(issue, key, verdict.reason, () => {
        const fields = { issue: issue.number, author: issue.author, reason: verdict.reason };
        // An issue without the label is the common case, not a warning.
        if (verdict.reason === 'no_trigger_label') this.#options.logger.debug(fields, `issue ignored: ${verdict.detail}`);
        else if (decided) this.#options.logger.warn(fields, `issue ignored: ${verdict.detail}`);
        else this.#options.logger.warn(fields, `issue not judged yet; looked at again next poll: ${verdict.detail}`);
        this.#options.onIgnored?.(verdict.reason);
      });
    }
    return decided ? { verdict, decided } : { verdict, decided, problem: verdict.detail };
  }

  /** Who applied the trigger label could not be read (an outage): not judged yet. */
  #unread(issue: TrackedIssue, error: unknown): Judged {
    const { triggerLabel } = this.#options.config.workflow;
    const problem = `who applied "${triggerLabel}" to #${issue.number} could not be read: ${describeError(error)}`;
    const key = trustKey(issue, triggerLabel, this.#remembered.get(issue.number)?.labeling);
    this.#tell(issue, key, 'problem', () => this.#options.logger.warn({ issue: issue.number }, `issue not judged yet; looked at again next poll: ${problem}`));
    return { verdict: { trusted: false, reason: 'unknown_labeler', detail: problem }, decided: false, problem };
  }

  /** Once per issue version and outcome. */
  #tell(issue: TrackedIssue, key: string, outcome: string, say: () => void): void {
    const version = `${key}|${issue.updatedAt}|${outcome}`;
    if (this.#told.get(issue.number) === version) return;
    this.#told.set(issue.number, version);
    say();
  }
}
