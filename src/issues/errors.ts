/**
 * Typed errors of the issue source and its webhook receiver, with stable codes (logs and metrics
 * carry the code, never the message text). The message names the repository and, for a missing
 * permission, the permission, so `doctor` can print it as it is.
 *
 * `IssueErrorCodes` will join `ErrorCodes` in src/errors.ts (as `AgentErrorCodes` did); until
 * then `IssueSourceError` hands its code to `MiyabiError` through a cast, and its own `code`
 * field is typed with the issue codes.
 */
import { MiyabiError, type ErrorCode } from '../errors.ts';

export const IssueErrorCodes = {
  /** No token configured for the github source. */
  GitHubTokenMissing: 'github_token_missing',
  /** GitHub answered 401: the token is wrong, expired or revoked. */
  GitHubTokenInvalid: 'github_token_invalid',
  /** The repository does not exist, or the token cannot see it (GitHub answers 404 for both). */
  GitHubRepoNotFound: 'github_repo_not_found',
  /** GitHub answered 403: the token lacks a permission (the message names it). */
  GitHubPermissionDenied: 'github_permission_denied',
  /** A rate limit GitHub would not lift within the wait the client accepts. */
  GitHubRateLimited: 'github_rate_limited',
  /** 5xx or network failures that outlasted the retries. */
  GitHubUnavailable: 'github_unavailable',
  /** Something the call names (an issue, a label) does not exist: GitHub answered 404 or 410. */
  GitHubNotFound: 'github_not_found',
  /** GitHub refused the request as invalid (422, 400). */
  GitHubRequestInvalid: 'github_request_invalid',
  /** Any other answer GitHub should not give. */
  GitHubRequestFailed: 'github_request_failed',
  /** A call after `close()`. */
  IssueSourceClosed: 'issue_source_closed',
  /** A webhook delivery without a valid `X-Hub-Signature-256`. */
  WebhookSignatureInvalid: 'webhook_signature_invalid',
  /** A webhook delivery whose body is not the JSON GitHub sends. */
  WebhookPayloadInvalid: 'webhook_payload_invalid',
  /** A webhook delivery larger than the receiver accepts. */
  WebhookPayloadTooLarge: 'webhook_payload_too_large',
} as const;

export type IssueErrorCode = (typeof IssueErrorCodes)[keyof typeof IssueErrorCodes];

export class IssueSourceError extends MiyabiError {
  /** The issue code (a superset of ErrorCode once the codes join src/errors.ts). */
  readonly issueCode: IssueErrorCode;
  /** The HTTP status GitHub answered, when there was one. */
  readonly status: number | undefined;
  constructor(code: IssueErrorCode, message: string, options?: { cause?: unknown; status?: number }) {
    super(code as unknown as ErrorCode, message, options);
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
 * Messages carry GitHub's own message and never a header, so never the token.
 */
export function fromGitHubError(error: unknown, context: GitHubCallContext): IssueSourceError {
  if (error instanceof IssueSourceError) return error;
  const failure = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as HttpErrorLike;
  const { status } = failure;
  const headers = failure.response?.headers ?? {};
  const hasResponse = failure.response !== undefined;
  const detail = gitHubMessage(failure);
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
