/**
 * The issue watcher's work: read the tracker, keep what may be acted on, and tell the workflow
 * over the bus. Trust is decided here, before anything reaches the workflow: an untrusted issue
 * costs one log line and a counter, nothing more.
 *
 * On `miyabi.events.issue.<n>` (JetStream, so the workflow gets every one of them, acked; the
 * types, subjects and the issue's version are in ./issue-events.ts):
 *   issue.observed   a trusted open issue; msgId `observed:<n>:<version>` (its content and its
 *                    labels but the state labels: `issueVersion`), so the same issue seen by
 *                    polling and by a webhook within the duplicate window is handled once, and a
 *                    label added later (a route label) is published again; after a release by
 *                    this watcher `…:after-release-<token>`, so an issue taken again (the label
 *                    back) within the duplicate window is not dropped as a duplicate
 *   issue.released   the issue was closed, or lost its trigger label or its trust
 *   issue.command    `/miyabi retry` from a trusted commenter (msgId `command:<n>:<comment id>`),
 *                    or the answer to an agent's question (./answers.ts); each comment once for
 *                    good (./comment-commands.ts: `command.<n>.<comment id>` in KV, with retention;
 *                    the msgId is in the payload too, `id`: the workflow obeys each once)
 * On `miyabi.events.issue.scope` after each full poll that saw a change: every open issue's number
 * that is trusted or not judged yet, so a workflow that restarted (or a watcher that did) releases
 * what left the scope — and never what could not be judged this time.
 *
 * No issue missed: trust verdicts are kept by everything they depend on (./trust-verdicts.ts), not
 * by `updated_at`, which GitHub gives to the second. A poll is complete when every issue of its
 * listing was judged; only then are the listing's ETags kept (`ListResult.commit`) and the
 * incremental polls' `since` moved on. A lookup that fails (an outage, a token that may not read
 * collaborators' permissions) leaves its issue undecided — neither published nor released — and
 * the poll goes on with the others; the next poll reads the same changes again, never a 304
 * "unchanged". `failures` and `problem` say how many polls in a row were not complete, and why
 * (batch mode stops on them rather than wait for ever).
 *
 * An issue's dependencies (its body, the tracker's `dependsOn` and "blocked by") are read by
 * ./issue-dependencies.ts; they count in the content hash. Answers are looked for, at each poll
 * that saw a change, on the issues in scope that carry the waiting-for-human label.
 */
import type { Logger } from 'pino';
import type { OrchestraConfig } from '../config/schema.ts';
import { describeError } from '../errors.ts';
import type { IssueSource, ListResult, TrackedIssue } from '../issues/source.ts';
import { sha256 } from '../issues/text.ts';
import type { GitHubWebhookEvent, OnceLedger } from '../issues/webhook.ts';
import { AnswerWatch, type IssueComment } from './answers.ts';
import { CommentCommands, memoryLedger } from './comment-commands.ts';
import type { ObservedIssue } from './engine.ts';
import { DependencyReader, trackerRepository } from './issue-dependencies.ts';
import { ISSUE_COMMAND, ISSUE_OBSERVED, ISSUE_RELEASED, ISSUE_SCOPE, SCOPE_SUBJECT, issueSubject, issueVersion, observedIssue } from './issue-events.ts';
import { TrustVerdicts, type LabelerHint } from './trust-verdicts.ts';

export type { IssueComment } from './answers.ts';

export interface WatcherOptions {
  config: OrchestraConfig;
  source: IssueSource;
  publish: (subject: string, type: string, payload: unknown, msgId: string) => Promise<void>;
  logger: Logger;
  /** Counts an issue ignored by the trust gate, by reason. */
  onIgnored?: (reason: string) => void;
  /** Comment commands and answers already obeyed, by comment id (the KV bucket's ledger); default: this process's memory. */
  ledger?: OnceLedger;
}

export interface PollOutcome {
  unchanged: boolean;
  observed: number;
  ignored: number;
  /** Issues that could not be judged (a lookup failed): the poll is not complete, and is done again. */
  undecided: number;
  /** Why the first undecided issue was not judged. */
  problem?: string;
}

export class IssueWatcher {
  readonly #options: WatcherOptions;
  /** Trusted open issues of the last poll, with their version (content and labels: `issueVersion`). */
  #inScope = new Map<number, string>();
  /** Each issue this watcher released, and a token of its last release (see #observe). */
  readonly #releases = new Map<number, string>();
  readonly #verdicts: TrustVerdicts;
  #polls = 0;
  /** Polls in a row that failed or were not complete; and why the last one was not. */
  #failures = 0;
  #problem: string | undefined;
  /** The newest `updatedAt` of the last complete poll: where the next incremental poll starts (the tracker's clock, not ours). */
  #newestUpdate: string | undefined;
  readonly #dependencies: DependencyReader;
  readonly #answers: AnswerWatch;
  readonly #waitingLabel: string;
  readonly #stateLabels: ReadonlySet<string>;
  readonly #commands: CommentCommands;
  /** Waiting issues whose comments could not be read: looked at again at the next poll. */
  readonly #unread = new Set<number>();
  /** Open issues carrying the trigger label, as last seen: their labelling is asked at every poll. */
  readonly #triggered = new Map<number, TrackedIssue>();

  constructor(options: WatcherOptions) {
    this.#options = options;
    const { config, source, logger } = options;
    this.#verdicts = new TrustVerdicts({ config, source, logger, ...(options.onIgnored ? { onIgnored: options.onIgnored } : {}) });
    this.#dependencies = new DependencyReader({ source, logger, repository: trackerRepository(config) });
    this.#answers = new AnswerWatch({
      policy: config.workflow.trust,
      logger,
      onIgnored: (reason) => options.onIgnored?.(reason),
      publish: (number, payload, msgId) => options.publish(issueSubject(number), ISSUE_COMMAND, payload, msgId),
    });
    this.#waitingLabel = config.workflow.stateLabels.waiting_for_human;
    this.#stateLabels = new Set(Object.values(config.workflow.stateLabels));
    this.#commands = new CommentCommands({
      config,
      answers: this.#answers,
      ledger: options.ledger ?? memoryLedger(),
      publish: options.publish,
      logger,
      ...(options.onIgnored ? { onIgnored: options.onIgnored } : {}),
    });
  }

  /** Complete polls so far (every issue of the listing judged). */
  get polls(): number {
    return this.#polls;
  }

  /** Polls in a row that failed or could not judge every issue; 0 after a complete one. */
  get failures(): number {
    return this.#failures;
  }

  /** Why the last poll failed or was not complete; undefined after a complete one. */
  get problem(): string | undefined {
    return this.#problem;
  }

  async poll(): Promise<PollOutcome> {
    let outcome: PollOutcome;
    try {
      outcome = await this.#poll();
    } catch (error) {
      this.#failures += 1;
      this.#problem = describeError(error);
      throw error;
    }
    if (outcome.undecided > 0) {
      this.#failures += 1;
      this.#problem = outcome.problem;
    } else {
      this.#failures = 0;
      this.#problem = undefined;
    }
    return outcome;
  }

  async #poll(): Promise<PollOutcome> {
    const { source } = this.#options;
    const every = this.#options.config.issues.github?.fullPollEvery ?? 1;
    if (source.listUpdatedSince && this.#newestUpdate !== undefined && this.#polls % every !== 0) {
      return this.#pollChanges(await source.listUpdatedSince(this.#newestUpdate));
    }
    const listing = await source.listOpen();
    if (listing.issues === undefined) return this.#unchanged(listing);
    const listed = new Set(listing.issues.map((issue) => issue.number));
    for (const number of this.#triggered.keys()) if (!listed.has(number)) this.#triggered.delete(number);
    const scope = new Map<number, string>();
    /** Undecided issues count as in scope for the workflow: not released for what is not known. */
    const unknown: number[] = [];
    const reasons = new Map<number, string>();
    const waiting: number[] = [];
    const tally = { observed: 0, ignored: 0, undecided: 0, problem: undefined as string | undefined };
    for (const issue of listing.issues) {
      const seen = await this.#see(issue);
      if (seen.kind === 'undecided') {
        tally.undecided += 1;
        tally.problem ??= seen.problem;
        unknown.push(issue.number);
        const before = this.#inScope.get(issue.number);
        if (before !== undefined) scope.set(issue.number, before);
      } else if (seen.kind === 'ignored') {
        tally.ignored += 1;
        reasons.set(issue.number, seen.reason);
      } else {
        tally.observed += 1;
        scope.set(issue.number, seen.version);
        if (issue.labels.includes(this.#waitingLabel)) waiting.push(issue.number);
      }
    }
    for (const number of this.#inScope.keys()) {
      if (!scope.has(number)) await this.#release(number, reasons.get(number) ?? 'closed on the tracker');
    }
    this.#inScope = scope;
    const numbers = [...new Set([...scope.keys(), ...unknown])].sort((a, b) => a - b);
    await this.#options.publish(SCOPE_SUBJECT, ISSUE_SCOPE, { open: numbers }, `scope:${sha256(numbers.join(',')).slice(0, 32)}:${this.#polls === 0 ? Date.now() : ''}`);
    await this.#lookForAnswers(waiting);
    return this.#complete(listing, listing.issues, tally);
  }

  /** Between full polls: only what changed since the newest change seen; no scope (a partial view). */
  async #pollChanges(listing: ListResult): Promise<PollOutcome> {
    if (listing.issues === undefined) return this.#unchanged(listing);
    const tally = { observed: 0, ignored: 0, undecided: 0, problem: undefined as string | undefined };
    const waiting: number[] = [];
    for (const issue of listing.issues) {
      if (issue.state !== 'open') this.#triggered.delete(issue.number);
      const seen = issue.state === 'open' ? await this.#see(issue) : ({ kind: 'ignored', reason: 'closed on the tracker' } as const);
      if (seen.kind === 'undecided') {
        tally.undecided += 1;
        tally.problem ??= seen.problem;
        continue;
      }
      if (seen.kind === 'observed') {
        tally.observed += 1;
        this.#inScope.set(issue.number, seen.version);
        if (issue.labels.includes(this.#waitingLabel)) waiting.push(issue.number);
        continue;
      }
      if (issue.state === 'open') tally.ignored += 1;
      if (this.#inScope.delete(issue.number)) await this.#release(issue.number, seen.reason);
    }
    await this.#relabelled(new Set(listing.issues.map((issue) => issue.number)), tally);
    await this.#lookForAnswers(waiting);
    return this.#complete(listing, listing.issues, tally);
  }

  /**
   * The open issues carrying the trigger label that this poll's listing did not show (all of them
   * after a 304, the unchanged ones of a `since` poll), judged again: their labelling is asked
   * (./trust-verdicts.ts; on GitHub a conditional read, a 304 when no label moved). The trigger
   * label removed and applied again by someone else within the second of the issue's last change
   * leaves the issue GitHub lists the same to the byte; only its events tell.
   */
  async #relabelled(listed: ReadonlySet<number>, tally: Tally): Promise<boolean> {
    let changed = false;
    for (const [number, issue] of [...this.#triggered]) {
      if (listed.has(number)) continue;
      const before = this.#inScope.get(number);
      const seen = await this.#see(issue);
      if (seen.kind === 'undecided') {
        tally.undecided += 1;
        tally.problem ??= seen.problem;
      } else if (seen.kind === 'ignored') {
        if (this.#inScope.delete(number)) await this.#release(number, seen.reason);
      } else {
        this.#inScope.set(number, seen.version);
      }
      changed ||= this.#inScope.get(number) !== before;
    }
    return changed;
  }

  /**
   * An issue of a listing: judged, and published when trusted and new or changed. Undecided when a
   * lookup it needed failed: neither published nor released.
   */
  async #see(issue: TrackedIssue, hint?: LabelerHint): Promise<Seen> {
    if (issue.labels.includes(this.#options.config.workflow.triggerLabel)) this.#triggered.set(issue.number, issue);
    else this.#triggered.delete(issue.number);
    const judged = await this.#verdicts.judge(issue, hint);
    if (!judged.decided) return { kind: 'undecided', problem: judged.problem ?? 'not judged' };
    if (!judged.verdict.trusted) return { kind: 'ignored', reason: judged.verdict.detail };
    let dependsOn: number[];
    try {
      dependsOn = await this.#dependencies.dependsOn(issue);
    } catch (error) {
      const problem = `what blocks #${issue.number} could not be read: ${describeError(error)}`;
      this.#options.logger.warn({ issue: issue.number }, `issue not read in full; looked at again next poll: ${problem}`);
      return { kind: 'undecided', problem };
    }
    const observed = observedIssue(issue, dependsOn);
    const version = issueVersion(observed, this.#stateLabels);
    if (this.#inScope.get(issue.number) !== version) await this.#observe(observed, version);
    return { kind: 'observed', version };
  }

  /**
   * The listing is as it was at the last complete poll: kept (a 304 stays a 304). Who labelled the
   * triggered issues is asked all the same; one that could not be read makes the poll not complete.
   */
  async #unchanged(listing: ListResult): Promise<PollOutcome> {
    const tally: Tally = { observed: 0, ignored: 0, undecided: 0 };
    const changed = await this.#relabelled(new Set(), tally);
    await this.#lookForAnswers([]);
    listing.commit?.();
    if (tally.undecided > 0) return { unchanged: false, ...tally };
    this.#polls += 1;
    return { unchanged: !changed, observed: 0, ignored: 0, undecided: 0 };
  }

  /**
   * A listing whose issues were all seen: its ETags are kept, and the next incremental poll starts
   * from its newest change. One with an issue not judged is neither: the next poll reads the same
   * changes again (and never as "unchanged").
   */
  #complete(listing: ListResult, issues: readonly TrackedIssue[], tally: Tally): PollOutcome {
    const outcome: PollOutcome = { unchanged: false, observed: tally.observed, ignored: tally.ignored, undecided: tally.undecided };
    if (tally.undecided > 0) return { ...outcome, ...(tally.problem === undefined ? {} : { problem: tally.problem }) };
    listing.commit?.();
    for (const issue of issues) if (this.#newestUpdate === undefined || issue.updatedAt > this.#newestUpdate) this.#newestUpdate = issue.updatedAt;
    this.#polls += 1;
    return outcome;
  }

  /**
   * An issue as a webhook delivered it (opened, edited, labeled, unlabeled, closed …): `action` and
   * `label` say what changed, so that a change of another label than the trigger label (the
   * orchestra's own state labels, say) costs no lookup of who applied the trigger label.
   */
  async issueEvent(issue: TrackedIssue, change: { action?: string; label?: string } = {}): Promise<void> {
    if (issue.state === 'closed') {
      this.#triggered.delete(issue.number);
      if (this.#inScope.delete(issue.number)) await this.#release(issue.number, 'closed on the tracker');
      return;
    }
    const { triggerLabel } = this.#options.config.workflow;
    const aboutTrigger = change.label?.toLowerCase() === triggerLabel.toLowerCase();
    const mayMoveTrigger = change.action === undefined || change.action === 'opened' || aboutTrigger;
    const seen = await this.#see(issue, aboutTrigger ? 'moved' : mayMoveTrigger ? undefined : 'unchanged');
    // Not judged: the delivery fails (GitHub delivers it again) and polling looks at it anyway.
    if (seen.kind === 'undecided') throw new Error(`issue #${issue.number} not judged yet: ${seen.problem}`);
    if (seen.kind === 'ignored') {
      if (this.#inScope.delete(issue.number)) await this.#release(issue.number, seen.reason);
      return;
    }
    this.#inScope.set(issue.number, seen.version);
  }

  /** A new comment, as a webhook delivered it, on an issue with these labels (./comment-commands.ts). */
  comment(comment: IssueComment, labels: readonly string[] = []): Promise<boolean> {
    return this.#commands.comment(comment, labels);
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

  async #observe(observed: ObservedIssue, version: string): Promise<void> {
    const { number } = observed.issue;
    // Taken again after a release, the same version needs a msgId of its own: within the bus's
    // duplicate window the first one's would be dropped, and the issue missed.
    const released = this.#releases.get(number);
    await this.#options.publish(issueSubject(number), ISSUE_OBSERVED, observed, `observed:${number}:${version}${released === undefined ? '' : `:after-release-${released}`}`);
  }

  /** A failed publish fails the poll (logged by the actor): the next full poll releases it again. */
  async #release(number: number, reason: string): Promise<void> {
    this.#answers.forget(number);
    this.#dependencies.forget(number);
    const token = Date.now().toString(36);
    this.#releases.set(number, token);
    await this.#options.publish(issueSubject(number), ISSUE_RELEASED, { number, reason }, `released:${number}:${token}`);
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
  if (event.name === 'issues' && event.issue) {
    await watcher.issueEvent(event.issue, { action: event.action, ...(event.label === undefined ? {} : { label: event.label }) });
  }
}

type Tally = Omit<PollOutcome, 'unchanged'>;
type Seen = { kind: 'observed'; version: string } | { kind: 'ignored'; reason: string } | { kind: 'undecided'; problem: string };

