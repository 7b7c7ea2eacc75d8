/**
 * Typed errors of the agent protocol, with stable codes (logs, metrics and outcomes carry the
 * code, never the message text).
 *
 * They stand apart from `MiyabiError` (src/errors.ts) only because that file's code map is
 * shared; the codes here are meant to join it. Until then `AgentProtocolError` has the same
 * shape: `code`, `message`, `cause`.
 */
export const AgentErrorCodes = {
  /** A `{{variable}}` in a prompt template that no task can ever fill (a typo). */
  PromptUnknownVariable: 'prompt_unknown_variable',
  /** A `{{variable}}` the template may use, with no value for this task. */
  PromptMissingValue: 'prompt_missing_value',
  /** A `{{` that does not open a variable, or one never closed. */
  PromptSyntax: 'prompt_syntax',
  /** The template file cannot be read, or renders to nothing. */
  PromptTemplateUnreadable: 'prompt_template_unreadable',
  PromptEmpty: 'prompt_empty',
  /** A `{placeholder}` in the agent command that the runner does not know. */
  CommandUnknownPlaceholder: 'command_unknown_placeholder',
  /** The agent command (argv[0]) cannot be found or is not executable. */
  CommandNotFound: 'command_not_found',
  /** The task given to the runner does not match the task schema. */
  TaskInvalid: 'task_invalid',
  /** The per-task directory cannot be written, or would be inside the worktree. */
  TaskFilesUnwritable: 'task_files_unwritable',
  /** The worktree to run in does not exist. */
  WorktreeMissing: 'worktree_missing',
  /** The agent wrote a result file that is not valid JSON of the result schema. */
  ResultInvalid: 'result_invalid',
} as const;

export type AgentErrorCode = (typeof AgentErrorCodes)[keyof typeof AgentErrorCodes];

export class AgentProtocolError extends Error {
  readonly code: AgentErrorCode;
  constructor(code: AgentErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AgentProtocolError';
    this.code = code;
  }
}

/** A prompt template problem: names the variable (when there is one) and the template file. */
export class PromptTemplateError extends AgentProtocolError {
  constructor(
    code: AgentErrorCode,
    message: string,
    readonly template: string,
    readonly variable?: string,
    readonly line?: number,
  ) {
    super(code, message);
    this.name = 'PromptTemplateError';
  }
}

/** A `{placeholder}` of the agent command that the runner does not know. */
export class UnknownPlaceholderError extends AgentProtocolError {
  constructor(
    readonly placeholder: string,
    readonly argIndex: number,
    known: readonly string[],
  ) {
    super(
      AgentErrorCodes.CommandUnknownPlaceholder,
      `unknown placeholder {${placeholder}} in argument ${argIndex} of the agent command; known: ${known.map((name) => `{${name}}`).join(', ')}`,
    );
    this.name = 'UnknownPlaceholderError';
  }
}
