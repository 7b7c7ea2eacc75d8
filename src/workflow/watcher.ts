/**
 * The issue watcher's work: read the tracker, keep what may be acted on, and tell the workflow
 * over the bus. Trust is decided here, before anything reaches the workflow: an untrusted issue
 * costs one log line and a counter, nothing more.
 *
 * On `miyabi.events.issue.<n>` (JetStream, so the workflow gets every one of them, acked):
 *   issue.observed   a trusted open issue; msgId `observed:<n>:<content>`, so the same issue seen
 *                    by polling and by a webhook within the duplicate window is handled once
 *   issue.released   the issue was closed, or lost its trigger label or its trust
 *   issue.command    `/miyabi retry` from a trusted commenter (msgId `command:<n>:<comment id>`),
 *                    or the answer to an agent's question (./answers.ts)
 * On `miyabi.events.issue.scope` after each poll that saw a change: every trusted open issue's
 * number, so a workflow that restarted (or a watcher that did) releases what left the scope.
 *
 * An issue's dependencies (its body, the tracker's `dependsOn` and "blocked by") are read by
 * ./issue-dependencies.ts; they count in the content hash. Answers are looked for, at each poll
 * that saw a change, on the issues in scope that carry the waiting-for-human label.
 */
import type { Logger } from 'pino';
import type { OrchestraConfig } from '../config/schema.ts';
import { describeError } from '../errors.ts';
import type { IssueSource, Labeler, TrackedIssue } from '../issues/source.ts';
import { promptBody, sha256 } from '../issues/text.ts';
import { judgeIssue, trustsCommenter, type TrustVerdict } from '../issues/trust.ts';
import type { GitHubWebhookEvent } from '../issues/webhook.ts';
import { AnswerWatch, type IssueComment } from './answers.ts';
import type { ObservedIssue } from './engine.ts';
import { DependencyReader, dependenciesOf, trackerRepository } from './issue-dependencies.ts';

export type { IssueComment } from './answers.ts';

export const ISSUE_OBSERVED = 'issue.observed';
export const ISSUE_RELEASED = 'issue.released';
export const ISSUE_COMMAND = 'issue.command';
export const ISSUE_SCOPE = 'issue.scope';
export const SCOPE_SUBJECT = 'miyabi.events.issue.scope';

export function issueSubject(number: number): string {
  return `miyabi.events.issue.${number}`;
}

export interface WatcherOptions {
  config: OrchestraConfig;
  source: IssueSource;
  publish: (subject: string, type: string, payload: unknown, msgId: string) => Promise<void>;
  logger: Logger;
  /** Counts an issue ignored by the trust gate, by reason. */
  onIgnored?: (reason: string) => void;
}

export interface PollOutcome {
  unchanged: boolean;
  observed: number;
  ignored: number;
}

/** The issue as the workflow gets it; `dependsOn` defaults to what its body and the tracker's field say. */
export function observedIssue(issue: TrackedIssue, dependsOn: number[] = dependenciesOf(issue).dependsOn): ObservedIssue {
  return {
    issue: {
      number: issue.number,
      title: issue.title,
      body: promptBody(issue.body),
      labels: issue.labels,
      author: issue.author,
      ...(issue.url === undefined ? {} : { url: issue.url }),
    },
    contentHash: sha256(issue.title, issue.body, dependsOn.join(',')).slice(0, 32),
    dependsOn,
  };
}

export class IssueWatcher {
  readonly #options: WatcherOptions;
  /** Trusted open issues of the last poll, with their content hash. */
  #inScope = new Map<number, string>();
  /** Verdicts by issue and version, so an unchanged issue costs no lookups and one log line at most. */
  readonly #verdicts = new Map<number, { updatedAt: string; verdict: TrustVerdict }>();
  #polls = 0;
  /** The newest `updatedAt` seen: where the next incremental poll starts (the tracker's clock, not ours). */
  #newestUpdate: string | undefined;
  readonly #dependencies: DependencyReader;
  readonly #answers: AnswerWatch;
  readonly #waitingLabel: string;
  /** Waiting issues whose comments could not be read: looked at again at the next poll. */
  readonly #unread = new Set<number>();

  constructor(options: WatcherOptions) {
    this.#options = options;
    const { config, source, logger } = options;
    this.#dependencies = new DependencyReader({ source, logger, repository: trackerRepository(config) });
    this.#answers = new AnswerWatch({
      policy: config.workflow.trust,
      logger,
      onIgnored: (reason) => options.onIgnored?.(reason),
      publish: (number, payload, msgId) => options.publish(issueSubject(number), ISSUE_COMMAND, payload, msgId),
    });
    this.#waitingLabel = config.workflow.stateLabels.waiting_for_human;
  }

  /** Successful polls so far. */
  get polls(): number {
    return this.#polls;
  }

  async poll(): Promise<PollOutcome> {
    const { source } = this.#options;
    const every = this.#options.config.issues.github?.fullPollEvery ?? 1;
    if (source.listUpdatedSince && this.#newestUpdate !== undefined && this.#polls % every !== 0) {
      return this.#pollChanges(await source.listUpdatedSince(this.#newestUpdate));
    }
    const { issues } = await source.listOpen();
    if (issues === undefined) {
      await this.#lookForAnswers([]);
      this.#polls += 1;
      return { unchanged: true, observed: 0, ignored: 0 };
    }
    const scope = new Map<number, string>();
    const reasons = new Map<number, string>();
    const waiting: number[] = [];
    let ignored = 0;
    for (const issue of issues) {
      this.#seen(issue);
      const verdict = await this.#judge(issue);
      if (!verdict.trusted) {
        ignored += 1;
        reasons.set(issue.number, verdict.detail);
        continue;
      }
      const observed = observedIssue(issue, await this.#dependencies.dependsOn(issue));
      scope.set(issue.number, observed.contentHash);
      if (this.#inScope.get(issue.number) !== observed.contentHash) await this.#observe(observed);
      if (issue.labels.includes(this.#waitingLabel)) waiting.push(issue.number);
    }
    for (const number of this.#inScope.keys()) {
      if (!scope.has(number)) await this.#release(number, reasons.get(number) ?? 'closed on the tracker');
    }
    this.#inScope = scope;
    const numbers = [...scope.keys()].sort((a, b) => a - b);
    await this.#options.publish(SCOPE_SUBJECT, ISSUE_SCOPE, { open: numbers }, `scope:${sha256(numbers.join(',')).slice(0, 32)}:${this.#polls === 0 ? Date.now() : ''}`);
    await this.#lookForAnswers(waiting);
    this.#polls += 1;
    return { unchanged: false, observed: scope.size, ignored };
  }

  /** Between full polls: only what changed since the newest change seen; no scope (a partial view). */
  async #pollChanges(changed: readonly TrackedIssue[]): Promise<PollOutcome> {
    let ignored = 0;
    const waiting: number[] = [];
    for (const issue of changed) {
      this.#seen(issue);
      if (issue.state === 'open' && (await this.#judge(issue)).trusted) {
        const observed = observedIssue(issue, await this.#dependencies.dependsOn(issue));
        if (this.#inScope.get(issue.number) !== observed.contentHash) await this.#observe(observed);
        this.#inScope.set(issue.number, observed.contentHash);
        if (issue.labels.includes(this.#waitingLabel)) waiting.push(issue.number);
        continue;
      }
      if (issue.state === 'open') ignored += 1;
      if (this.#inScope.delete(issue.number)) {
        const verdict = this.#verdicts.get(issue.number)?.verdict;
        await this.#release(issue.number, issue.state === 'closed' ? 'closed on the tracker' : verdict && !verdict.trusted ? verdict.detail : 'left the scope');
      }
    }
    await this.#lookForAnswers(waiting);
    this.#polls += 1;
    return { unchanged: changed.length === 0, observed: changed.length - ignored, ignored };
  }

  #seen(issue: TrackedIssue): void {
    if (this.#newestUpdate === undefined || issue.updatedAt > this.#newestUpdate) this.#newestUpdate = issue.updatedAt;
  }

  /** An issue as a webhook delivered it (opened, edited, labeled, unlabeled, closed …). */
  async issueEvent(issue: TrackedIssue, labeler?: Labeler): Promise<void> {
    if (issue.state === 'closed') {
      if (this.#inScope.delete(issue.number)) await this.#release(issue.number, 'closed on the tracker');
      return;
    }
    const verdict = await this.#judge(issue, labeler);
    if (!verdict.trusted) {
      if (this.#inScope.delete(issue.number)) await this.#release(issue.number, verdict.detail);
      return;
    }
    const observed = observedIssue(issue, await this.#dependencies.dependsOn(issue));
    this.#inScope.set(issue.number, observed.contentHash);
    await this.#observe(observed);
  }

  /**
   * A new comment, as a webhook delivered it, on an issue with these labels: `/miyabi retry` from
   * a trusted commenter asks the workflow to run a failed issue again; another may answer the
   * question an agent asked (./answers.ts). The orchestra's own comments (a key) are neither.
   */
  async comment(comment: IssueComment, labels: readonly string[] = []): Promise<boolean> {
    if (comment.key !== undefined) return false;
    const command = /^\s*\/miyabi\s+(retry)\b/m.exec(comment.body)?.[1];
    if (command === undefined) return this.#answers.fromComment(comment, labels.includes(this.#waitingLabel));
    const trusted = trustsCommenter({ login: comment.author, isBot: comment.authorIsBot, association: comment.authorAssociation }, this.#options.config.workflow.trust);
    if (!trusted) {
      this.#options.logger.warn({ issue: comment.issue, author: comment.author, association: comment.authorAssociation }, `/miyabi ${command} from an untrusted commenter ignored`);
      this.#options.onIgnored?.('untrusted_commenter');
      return false;
    }
    await this.#options.publish(issueSubject(comment.issue), ISSUE_COMMAND, { number: comment.issue, command, by: comment.author }, `command:${comment.issue}:${comment.commentId}`);
    return true;
  }

  async #judge(issue: TrackedIssue, knownLabeler?: Labeler): Promise<TrustVerdict> {
    const cached = this.#verdicts.get(issue.number);
    if (cached && cached.updatedAt === issue.updatedAt && knownLabeler === undefined) return cached.verdict;
    const { triggerLabel, trust } = this.#options.config.workflow;
    const labeler = issue.labels.includes(triggerLabel) ? (knownLabeler ?? (await this.#options.source.labeler(issue.number, triggerLabel))) : undefined;
    const verdict = judgeIssue(issue, labeler, triggerLabel, trust);
    // Who applied a label can lag behind the label on the tracker: ask again next time.
    if (verdict.trusted || verdict.reason !== 'unknown_labeler') this.#verdicts.set(issue.number, { updatedAt: issue.updatedAt, verdict });
    // Once per issue version: an untrusted issue is not news on every poll.
    if (!verdict.trusted && cached?.updatedAt !== issue.updatedAt) {
      const fields = { issue: issue.number, author: issue.author, reason: verdict.reason };
      // An issue without the label is the common case, not a warning.
      if (verdict.reason === 'no_trigger_label') this.#options.logger.debug(fields, `issue ignored: ${verdict.detail}`);
      else this.#options.logger.warn(fields, `issue ignored: ${verdict.detail}`);
      this.#options.onIgnored?.(verdict.reason);
    }
    return verdict;
  }

  /**
   * Reads the conversation of each waiting issue (and of those that could not be read last time,
   * still in scope) and publishes its answer. A failure is logged and looked at again next poll:
   * the poll itself goes on, and the `since` of the next incremental poll does not skip it.
   */
  async #lookForAnswers(waiting: readonly number[]): Promise<void> {
    for (const number of this.#unread) if (!this.#inScope.has(number)) this.#unread.delete(number);
    for (const number of new Set([...waiting, ...this.#unread])) {
      try {
        await this.#answers.fromConversation(number, await this.#options.source.listComments(number));
        this.#unread.delete(number);
      } catch (error) {
        if (!this.#unread.has(number)) this.#options.logger.warn({ issue: number, err: describeError(error) }, 'comments not read; looking for the answer again next poll');
        this.#unread.add(number);
      }
    }
  }

  async #observe(observed: ObservedIssue): Promise<void> {
    const { number } = observed.issue;
    await this.#options.publish(issueSubject(number), ISSUE_OBSERVED, observed, `observed:${number}:${observed.contentHash}`);
  }

  /** A failed publish fails the poll (logged by the actor): the next full poll releases it again. */
  async #release(number: number, reason: string): Promise<void> {
    this.#answers.forget(number);
    this.#dependencies.forget(number);
    await this.#options.publish(issueSubject(number), ISSUE_RELEASED, { number, reason }, `released:${number}:${Date.now()}`);
  }
}

/** A verified webhook delivery, handed to the watcher: issue changes, comment commands and answers. */
export async function deliverWebhookEvent(watcher: IssueWatcher, event: GitHubWebhookEvent): Promise<void> {
  if (event.isPullRequest) return;
  if (event.name === 'issue_comment' && event.comment && event.issue && event.action === 'created') {
    const { id, body, author, authorAssociation, authorIsBot, key } = event.comment;
    await watcher.comment(
      { issue: event.issue.number, commentId: id, body, author, authorAssociation, authorIsBot, ...(key === undefined ? {} : { key }) },
      event.issue.labels,
    );
    return;
  }
  if (event.name === 'issues' && event.issue) await watcher.issueEvent(event.issue);
}
