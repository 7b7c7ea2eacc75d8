/**
 * Comment commands, as webhook deliveries bring them to the issue watcher: `/miyabi retry` from a
 * trusted commenter asks the workflow to run a failed issue again (`issue.command`, msgId
 * `command:<n>:<comment id>`); another comment may answer the question an agent asked
 * (./answers.ts). The orchestra's own comments (a key) are neither. Each comment is obeyed once
 * for good: the ledger (`command.<n>.<comment id>`, in the bus's `miyabi-once` KV bucket with
 * retention) makes GitHub's redelivery of it, even days later, a no-op. It is written after the
 * publish; a crash between the two publishes the command again at the redelivery, with the same
 * `id`, and the workflow obeys each id once (./obeyed-commands.ts).
 */
import type { Logger } from 'pino';
import type { OrchestraConfig } from '../config/schema.ts';
import { trustsCommenter } from '../issues/trust.ts';
import type { OnceLedger } from '../issues/webhook.ts';
import type { AnswerWatch, IssueComment } from './answers.ts';
import { ISSUE_COMMAND, issueSubject } from './issue-events.ts';

/** In memory: a process's own ledger, when no durable one is given. */
export function memoryLedger(): OnceLedger {
  const keys = new Set<string>();
  return { has: async (key) => keys.has(key), add: async (key) => void keys.add(key) };
}

export interface CommentCommandsOptions {
  config: OrchestraConfig;
  answers: AnswerWatch;
  ledger: OnceLedger;
  publish: (subject: string, type: string, payload: unknown, msgId: string) => Promise<void>;
  logger: Logger;
  onIgnored?: (reason: string) => void;
}

export class CommentCommands {
  readonly #options: CommentCommandsOptions;
  readonly #ledger: OnceLedger;
  readonly #answers: AnswerWatch;
  readonly #waitingLabel: string;

  constructor(options: CommentCommandsOptions) {
    this.#options = options;
    this.#ledger = options.ledger;
    this.#answers = options.answers;
    this.#waitingLabel = options.config.workflow.stateLabels.waiting_for_human;
  }

  /**
   * A new comment, as a webhook delivered it, on an issue with these labels: `/miyabi retry` from
   * a trusted commenter asks the workflow to run a failed issue again; another may answer the
   * question an agent asked (./answers.ts). The orchestra's own comments (a key) are neither. A
   * comment obeyed once is never obeyed again (the ledger, by comment id): GitHub's redelivery of
   * it, even days later, is a no-op.
   */
  async comment(comment: IssueComment, labels: readonly string[] = []): Promise<boolean> {
    if (comment.key !== undefined) return false;
    const done = `command.${comment.issue}.${comment.commentId}`;
    if (await this.#ledger.has(done)) {
      this.#options.logger.info({ issue: comment.issue, commentId: comment.commentId }, 'comment already obeyed; not again');
      return false;
    }
    const command = /^\s*\/miyabi\s+(retry)\b/m.exec(comment.body)?.[1];
    if (command === undefined) {
      const answered = await this.#answers.fromComment(comment, labels.includes(this.#waitingLabel));
      if (answered) await this.#ledger.add(done);
      return answered;
    }
    const trusted = trustsCommenter({ login: comment.author, isBot: comment.authorIsBot, association: comment.authorAssociation }, this.#options.config.workflow.trust);
    if (!trusted) {
      this.#options.logger.warn({ issue: comment.issue, author: comment.author, association: comment.authorAssociation }, `/miyabi ${command} from an untrusted commenter ignored`);
      this.#options.onIgnored?.('untrusted_commenter');
      return false;
    }
    // Published, then remembered: a crash between the two publishes it again at the redelivery,
    // with the same id, which the workflow obeys once for good (./obeyed-commands.ts).
    const id = `command:${comment.issue}:${comment.commentId}`;
    await this.#options.publish(issueSubject(comment.issue), ISSUE_COMMAND, { number: comment.issue, command, by: comment.author, id }, id);
    await this.#ledger.add(done);
    return true;
  }
}
