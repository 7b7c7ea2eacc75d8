/**
 * Defence in depth behind the bus's permissions (docs/SECURITY.md). Only the orchestrator's NATS
 * identity may publish on `miyabi.events.issue.>`, but whoever reads its credentials could; so
 * the workflow acts on an issue event only when
 *
 *   - the issue watcher of this very process published it (`IssueVouchers`, filled as it
 *     publishes: src/actors/core.ts), or
 *   - the tracker itself says the same (`IssueGate`): an `issue.observed` names an open issue the
 *     trust gate lets through (and its text is then the tracker's, not the event's); an
 *     `issue.released` an issue that is closed or no longer trusted; a command a comment by that
 *     trusted person. An event left in the stream by an earlier run passes this way.
 *
 * An `issue.scope` (which releases every issue it does not list) passes only when the watcher of
 * this process published that very scope: a forged or stale one is dropped, and the watcher's
 * next changed poll sends a true one. What fails both checks is acked, not acted on, and logged
 * as a warning naming the issue.
 *
 * A task result is taken only from the role it names, and for the issue's current task only when
 * that task is the role's (`resultRefusal`): the server lets a runner publish on its own role's
 * result subject only, so codegen's runner cannot decide the review of its own work.
 */
import type { Logger } from 'pino';
import type { OrchestraConfig } from '../config/schema.ts';
import type { IssueSource } from '../issues/source.ts';
import { promptBody, sha256 } from '../issues/text.ts';
import { judgeIssue, trustsCommenter } from '../issues/trust.ts';
import { findAnswer } from './answers.ts';
import type { ObservedIssue } from './record.ts';
import { ISSUE_COMMAND, ISSUE_OBSERVED, ISSUE_RELEASED, ISSUE_SCOPE, observedIssue } from './issue-events.ts';
import { resultSubject, type TaskResult } from '../runner/task-message.ts';

export interface IssueCommandEvent {
  number: number;
  command: 'retry' | 'answer';
  by: string;
  text?: string;
  id?: string;
}

const KEPT_SCOPES = 16;
const KEPT_COMMANDS = 4_096;

const commandKey = (event: IssueCommandEvent) => `${event.number}:${event.command}:${event.by}:${sha256(event.text ?? '')}`;
const scopeKey = (open: readonly number[]) => [...open].sort((a, b) => a - b).join(',');

/** What the issue watcher of this process has published, by kind. */
export class IssueVouchers {
  readonly #observed = new Map<number, string>();
  readonly #released = new Set<number>();
  readonly #scopes: string[] = [];
  readonly #commands = new Set<string>();

  /** Called with each event the watcher publishes, before it is published. */
  record(type: string, payload: unknown): void {
    const event = payload as Record<string, unknown>;
    switch (type) {
      case ISSUE_OBSERVED: {
        const observed = payload as ObservedIssue;
        this.#observed.set(observed.issue.number, observed.contentHash);
        this.#released.delete(observed.issue.number);
        return;
      }
      case ISSUE_RELEASED:
        this.#observed.delete(event.number as number);
        this.#released.add(event.number as number);
        return;
      case ISSUE_SCOPE:
        this.#scopes.push(scopeKey(event.open as number[]));
        if (this.#scopes.length > KEPT_SCOPES) this.#scopes.shift();
        return;
      case ISSUE_COMMAND:
        this.#commands.add(commandKey(payload as IssueCommandEvent));
        if (this.#commands.size > KEPT_COMMANDS) this.#commands.delete(this.#commands.values().next().value!);
        return;
    }
  }

  observed(number: number, contentHash: string): boolean {
    return this.#observed.get(number) === contentHash;
  }

  released(number: number): boolean {
    return this.#released.has(number);
  }

  scope(open: readonly number[]): boolean {
    return this.#scopes.includes(scopeKey(open));
  }

  command(event: IssueCommandEvent): boolean {
    return this.#commands.has(commandKey(event));
  }
}

export interface IssueGateOptions {
  vouchers: IssueVouchers;
  source: IssueSource;
  config: OrchestraConfig;
  logger: Logger;
}

/** The workflow's check of each issue event (see the module's doc). */
export class IssueGate {
  readonly #options: IssueGateOptions;

  constructor(options: IssueGateOptions) {
    this.#options = options;
  }

  /** The issue to act on (the tracker's text when it had to be checked there), or undefined. */
  async observed(event: ObservedIssue): Promise<ObservedIssue | undefined> {
    const { vouchers, source, config } = this.#options;
    const { number } = event.issue;
    if (vouchers.observed(number, event.contentHash)) return event;
    const issue = await source.get(number);
    if (!issue || issue.state !== 'open') return this.#refused(ISSUE_OBSERVED, number, 'the issue is not open on the tracker');
    const { triggerLabel, trust } = config.workflow;
    const labeler = issue.labels.includes(triggerLabel) ? await source.labeler(number, triggerLabel) : undefined;
    const verdict = judgeIssue(issue, labeler, triggerLabel, trust);
    if (!verdict.trusted) return this.#refused(ISSUE_OBSERVED, number, verdict.detail);
    const checked = observedIssue(issue, event.dependsOn);
    vouchers.record(ISSUE_OBSERVED, checked);
    this.#options.logger.info({ issue: number }, 'issue event checked against the tracker: trusted');
    return checked;
  }

  /** Whether to release the issue. */
  async released(number: number): Promise<boolean> {
    const { vouchers, source, config } = this.#options;
    if (vouchers.released(number)) return true;
    const issue = await source.get(number);
    if (!issue || issue.state !== 'open') return true;
    const { triggerLabel, trust } = config.workflow;
    const labeler = issue.labels.includes(triggerLabel) ? await source.labeler(number, triggerLabel) : undefined;
    if (!judgeIssue(issue, labeler, triggerLabel, trust).trusted) return true;
    return this.#refused(ISSUE_RELEASED, number, 'the issue is open and trusted on the tracker') ?? false;
  }

  /** Whether to act on the scope: only one this process's watcher published. */
  scope(open: readonly number[]): boolean {
    if (this.#options.vouchers.scope(open)) return true;
    this.#options.logger.warn({ open: open.length }, 'issue.scope not published by this watcher; ignored (the next changed poll sends one)');
    return false;
  }

  /** Whether a trusted person's comment on the tracker says this. */
  async command(event: IssueCommandEvent): Promise<boolean> {
    const { vouchers, source, config } = this.#options;
    if (vouchers.command(event)) return true;
    const policy = config.workflow.trust;
    const comments = await source.listComments(event.number);
    const said =
      event.command === 'retry'
        ? comments.some(
            (comment) =>
              comment.key === undefined &&
              comment.author === event.by &&
              trustsCommenter({ login: comment.author, isBot: comment.authorIsBot, association: comment.authorAssociation }, policy) &&
              /^\s*\/miyabi\s+retry\b/m.test(comment.body),
          )
        : (() => {
            const { answer } = findAnswer(comments, policy);
            return answer !== undefined && answer.comment.author === event.by && promptBody(answer.text) === event.text;
          })();
    if (said) return true;
    return this.#refused(ISSUE_COMMAND, event.number, `no comment of ${event.by} on the tracker says it`) ?? false;
  }

  #refused(type: string, number: number, why: string): undefined {
    this.#options.logger.warn({ issue: number, type, why }, 'issue event not from this watcher and not what the tracker says; ignored');
    return undefined;
  }
}

/**
 * Why a task result that came on `subject` may not be taken, or undefined when it may: it must
 * come on the result subject of the role and agent it names (which only that agent's runner may
 * publish on), and when it answers the issue's current task (`current`), that task must be the role's.
 */
export function resultRefusal(subject: string, result: Pick<TaskResult, 'role' | 'taskId' | 'agentId'>, current: { taskId?: string; role?: string } | undefined): string | undefined {
  if (subject !== resultSubject(result.role, result.agentId)) return `it names ${result.role}'s agent ${result.agentId} but came on ${subject}`;
  if (current?.taskId === result.taskId && current.role !== result.role) return `task ${result.taskId} is ${current.role ?? 'no role'}'s, not ${result.role}'s`;
  return undefined;
}
