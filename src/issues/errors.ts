/**
 * Typed errors of the issue source and its webhook receiver, with stable codes (logs and metrics
 * carry the code, never the message text). The message names the repository and, for a missing
 * permission, the permission, so `doctor` can print it as it is.
 * The codes live with the others in src/errors.ts (`IssueErrorCodes`, part of `ErrorCodes`).
 */
import { IssueErrorCodes, MiyabiError, type IssueErrorCode } from '../errors.ts';

export { IssueErrorCodes, type IssueErrorCode } from '../errors.ts';

export class IssueSourceError extends MiyabiError {
  /** The same as `code`, typed as one of the issue source's codes. */
  readonly issueCode: IssueErrorCode;
  /** The HTTP status GitHub answered, when there was one. */
  readonly status: number | undefined;
  constructor(code: IssueErrorCode, message: string, options?: { cause?: unknown; status?: number }) {
    super(code, message, options);
    this.name = 'IssueSourceError';
    this.issueCode = code;
    this.status = options?.status;
  }
}

/** What a failed GitHub call was doing, for the message: `posting a comment on o/r#12`. */
export interface GitHubCallContext {
  /** `owner/repo` */
  repository: string;
  what: string;
  /** The token: replaced wherever GitHub's answer quotes it. */
  secret?: string;
}

interface HttpErrorLike {
  status?: number;
  message?: string;
  response?: { headers?: Record<string, string | number | undefined>; data?: unknown };
}

const permissionNames: Record<string, string> = {
  issues: 'Issues',
  pull_requests: 'Pull requests',
  metadata: 'Metadata',
  contents: 'Contents',
  administration: 'Administration',
};
const levelNames: Record<string, string> = { read: 'read', write: 'read and write', admin: 'admin' };

/**
 * GitHub's `x-accepted-github-permissions` (`issues=write,pull_requests=write; contents=read`:
 * alternatives separated by `;`, each a list of `name=level`) in words:
 * `Issues: read and write and Pull requests: read and write, or Contents: read`.
 */
export function describeAcceptedPermissions(header: string): string {
  return header
    .split(';')
    .map((set) =>
      set
        .split(',')
        .map((entry) => entry.trim())
        .filter(Boolean)
        .map((entry) => {
          const [name = '', level = ''] = entry.split('=').map((part) => part.trim());
          const label = permissionNames[name] ?? name.replaceAll('_', ' ').replace(/^./, (c) => c.toUpperCase());
          return `${label}: ${levelNames[level] ?? level}`;
        })
        .join(' and '),
    )
    .filter(Boolean)
    .join(', or ');
}

/** The permissions the github source needs, for a 403 that does not name them. */
export const requiredPermissions =
  'Issues: read and write and Pull requests: read and write (a classic token: the repo scope)';

function gitHubMessage(error: HttpErrorLike): string {
  const data = error.response?.data;
  if (typeof data === 'object' && data !== null && typeof (data as { message?: unknown }).message === 'string') {
    return (data as { message: string }).message;
  }
  return error.message ?? 'no message';
}

/**
 * An octokit failure as an IssueSourceError naming the repository and what was being done.
 * Messages carry GitHub's own message (with the token replaced, should it quote it) and never a
 * header.
 */
export function fromGitHubError(error: unknown, context: GitHubCallContext): IssueSourceError {
  if (error instanceof IssueSourceError) return error;
  const failure = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as HttpErrorLike;
  const { status } = failure;
  const headers = failure.response?.headers ?? {};
  const hasResponse = failure.response !== undefined;
  const quoted = gitHubMessage(failure);
  // An upstream body may echo what it was sent (a proxy, an error page): never the token.
  const detail = context.secret ? quoted.split(context.secret).join('[REDACTED]') : quoted;
  const at = `${context.what} (${context.repository})`;
  const options = { cause: error, ...(status !== undefined && hasResponse ? { status } : {}) };
  if (!hasResponse || status === undefined || status >= 500) {
    return new IssueSourceError(
      IssueErrorCodes.GitHubUnavailable,
      `GitHub is unavailable while ${at}: ${hasResponse ? `${status} ` : ''}${detail}`,
      options,
    );
  }
  if (status === 401) {
    return new IssueSourceError(
      IssueErrorCodes.GitHubTokenInvalid,
      `GitHub rejected the token while ${at}: it is wrong, expired or revoked (401 ${detail})`,
      options,
    );
  }
  if ((status === 403 || status === 429) && (String(headers['x-ratelimit-remaining']) === '0' || /rate limit/i.test(detail))) {
    return new IssueSourceError(IssueErrorCodes.GitHubRateLimited, `GitHub rate limit while ${at}: ${detail}`, options);
  }
  if (status === 403) {
    const accepted = headers['x-accepted-github-permissions'];
    const needs = typeof accepted === 'string' && accepted.trim() !== '' ? describeAcceptedPermissions(accepted) : requiredPermissions;
    return new IssueSourceError(
      IssueErrorCodes.GitHubPermissionDenied,
      `permission denied while ${at}: the token needs ${needs} on ${context.repository} (403 ${detail})`,
      options,
    );
  }
  if (status === 404 || status === 410) {
    return new IssueSourceError(IssueErrorCodes.GitHubNotFound, `not found while ${at} (${status} ${detail})`, options);
  }
  if (status === 400 || status === 422) {
    return new IssueSourceError(IssueErrorCodes.GitHubRequestInvalid, `GitHub refused ${at}: ${status} ${detail}`, options);
  }
  return new IssueSourceError(IssueErrorCodes.GitHubRequestFailed, `GitHub answered ${status} while ${at}: ${detail}`, options);
}

/** The HTTP status of an octokit failure that got an answer; undefined otherwise. */
export function gitHubStatus(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const failure = error as HttpErrorLike;
  if (failure.response === undefined) return undefined;
  return failure.status;
}
