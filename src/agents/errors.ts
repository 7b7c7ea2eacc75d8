/**
 * Typed errors of the agent protocol, with stable codes (logs, metrics and outcomes carry the
 * code, never the message text).
 *
 * The codes live in src/errors.ts with every other code (`AgentErrorCodes` is their part of
 * `ErrorCodes`); `AgentProtocolError` is a `MiyabiError`.
 */
import { AgentErrorCodes, MiyabiError, type AgentErrorCode } from '../errors.ts';

export { AgentErrorCodes, type AgentErrorCode } from '../errors.ts';

export class AgentProtocolError extends MiyabiError {
  declare readonly code: AgentErrorCode;
  constructor(code: AgentErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'AgentProtocolError';
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
