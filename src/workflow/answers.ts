/**
 * Answers to agents' questions, found by the issue watcher. An agent that answers `needs_input`
 * puts its issue in `waiting_for_human`: the workflow sets the state label
 * (`workflow.stateLabels.waiting_for_human`) and posts the question as a comment whose key holds
 * `.needs-input.` (`issue-<n>.g<gen>.needs-input.<stage>.r<round>.q<k>`).
 *
 * **The answer** is the first comment after the latest question that
 *   - is not the orchestra's own (it has a key: the hidden marker on GitHub, the tracker locally),
 *   - is by someone the orchestra trusts (`trustsCommenter`: an association in
 *     `workflow.trust.associations`, a login in `trust.allow`; a bot only in `trust.bots`),
 *   - and is not another command (`/miyabi retry` …).
 * `/miyabi answer <text>` at the start of a line says it explicitly: the text after the command,
 * to the end of the comment, is the answer (an empty one is no answer). A reply by someone not
 * trusted does nothing but one warn line and `onIgnored('untrusted_commenter')`, once per comment.
 *
 * Found by polling (the issues in scope carrying the label: `listComments`) and by the webhook
 * (`issue_comment` created on an issue carrying the label, or `/miyabi answer` on any issue; the
 * workflow ignores an answer to an issue that waits for none). Published on
 * `miyabi.events.issue.<n>` as `issue.command`:
 *
 *   { number, command: 'answer', by: <login>, text: <the answer, at most 64 KiB> }
 *   msgId `answer:<n>:<comment id>`
 *
 * The same comment seen by both ways, or by two polls, has the same msgId (the bus drops the
 * copy within its duplicate window); this process also remembers what it published.
 */
import type { Logger } from 'pino';
import type { AuthorAssociation, TrackedComment } from '../issues/source.ts';
import { promptBody } from '../issues/text.ts';
import { trustsCommenter, type TrustPolicy } from '../issues/trust.ts';


/** A comment as the watcher sees it: from `listComments`, or from a webhook delivery. */
export interface IssueComment {
  issue: number;
  commentId: number | string;
  body: string;
  author: string;
  authorAssociation: AuthorAssociation;
  authorIsBot: boolean;
  /** Set on the orchestra's own comments: the key it posted them with. */
  key?: string;
}

/** Whether a comment is one of the orchestra's questions. */
export function isQuestion(comment: Pick<TrackedComment, 'key'>): boolean {
  return comment.key?.includes('.needs-input.') === true;
}

const command = /^[ \t]*\/miyabi[ \t]+([a-z-]+)/im;
const answerCommand = /^[ \t]*\/miyabi[ \t]+answer\b([\s\S]*)/im;

/**
 * What a person's comment answers: the whole comment, the text of `/miyabi answer …`, or nothing
 * (another `/miyabi` command, an empty answer).
 */
export function answerText(body: string): string | undefined {
  const explicit = answerCommand.exec(body);
  if (explicit) return explicit[1]!.trim() || undefined;
  if (command.test(body)) return undefined;
  return body.trim() === '' ? undefined : body.trim();
}

export interface FoundAnswer {
  comment: TrackedComment;
  text: string;
}

/**
 * The answer to the latest question of a conversation (oldest first), and the replies before it
 * that were not trusted. No question, no answer.
 */
export function findAnswer(comments: readonly TrackedComment[], policy: TrustPolicy): { answer?: FoundAnswer; untrusted: TrackedComment[] } {
  const question = comments.findLastIndex(isQuestion);
  const untrusted: TrackedComment[] = [];
  if (question === -1) return { untrusted };
  for (const comment of comments.slice(question + 1)) {
    if (comment.key !== undefined) continue;
    if (!trustsCommenter({ login: comment.author, isBot: comment.authorIsBot, association: comment.authorAssociation }, policy)) {
      untrusted.push(comment);
      continue;
    }
    const text = answerText(comment.body);
    if (text !== undefined) return { answer: { comment, text }, untrusted };
  }
  return { untrusted };
}

export interface AnswerWatchOptions {
  policy: TrustPolicy;
  /** Publishes the answer on the issue's subject as `issue.command` (the watcher's). */
  publish: (number: number, payload: AnswerCommand, msgId: string) => Promise<void>;
  logger: Logger;
  onIgnored?: (reason: string) => void;
}

/** The published payload: the `issue.command` the workflow accepts. */
export interface AnswerCommand {
  number: number;
  command: 'answer';
  by: string;
  text: string;
  /** The message id: the workflow obeys each once for good (./obeyed-commands.ts). */
  id: string;
}

/** What the watcher remembers of answers: published ones and untrusted replies already reported, by issue. */
export class AnswerWatch {
  readonly #options: AnswerWatchOptions;
  readonly #published = new Map<number, Set<string>>();
  readonly #reported = new Map<number, Set<string>>();

  constructor(options: AnswerWatchOptions) {
    this.#options = options;
  }

  /** A conversation read by polling: publishes its answer, once per comment. */
  async fromConversation(number: number, comments: readonly TrackedComment[]): Promise<boolean> {
    const { answer, untrusted } = findAnswer(comments, this.#options.policy);
    for (const comment of untrusted) this.#untrusted(asIssueComment(number, comment));
    return answer ? this.#publish(number, answer.comment.id, answer.comment.author, answer.text) : false;
  }

  /**
   * A comment as a webhook delivered it, on an issue with these labels: an answer when the issue
   * waits for one (`waiting`), or when it says `/miyabi answer`.
   */
  async fromComment(comment: IssueComment, waiting: boolean): Promise<boolean> {
    if (comment.key !== undefined) return false;
    const explicit = answerCommand.test(comment.body);
    if (!waiting && !explicit) return false;
    const trusted = trustsCommenter({ login: comment.author, isBot: comment.authorIsBot, association: comment.authorAssociation }, this.#options.policy);
    if (!trusted) {
      this.#untrusted(comment);
      return false;
    }
    const text = answerText(comment.body);
    return text === undefined ? false : this.#publish(comment.issue, String(comment.commentId), comment.author, text);
  }

  /** An issue that left the scope (closed, released): nothing of it is kept. */
  forget(number: number): void {
    this.#published.delete(number);
    this.#reported.delete(number);
  }

  async #publish(number: number, commentId: string, by: string, text: string): Promise<boolean> {
    const published = this.#published.get(number) ?? new Set<string>();
    if (published.has(commentId)) return false;
    const id = `answer:${number}:${commentId}`;
    const payload: AnswerCommand = { number, command: 'answer', by, text: promptBody(text), id };
    await this.#options.publish(number, payload, id);
    published.add(commentId);
    this.#published.set(number, published);
    this.#options.logger.info({ issue: number, by, comment: commentId }, 'answer to the question published');
    return true;
  }

  #untrusted(comment: IssueComment): void {
    const reported = this.#reported.get(comment.issue) ?? new Set<string>();
    const id = String(comment.commentId);
    if (reported.has(id)) return;
    reported.add(id);
    this.#reported.set(comment.issue, reported);
    this.#options.logger.warn(
      { issue: comment.issue, author: comment.author, association: comment.authorAssociation, comment: id },
      'reply to a question from an untrusted commenter ignored',
    );
    this.#options.onIgnored?.('untrusted_commenter');
  }
}

function asIssueComment(number: number, comment: TrackedComment): IssueComment {
  return {
    issue: number,
    commentId: comment.id,
    body: comment.body,
    author: comment.author,
    authorAssociation: comment.authorAssociation,
    authorIsBot: comment.authorIsBot,
    ...(comment.key === undefined ? {} : { key: comment.key }),
  };
}
