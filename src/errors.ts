/**
 * Typed errors with stable codes (the nats.js habit): logs and metrics use `code`, never the
 * message text. Every error the orchestra raises on purpose is a MiyabiError.
 */
/** The agent protocol's part (src/agents): a task's outcome carries one of these. */
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
  /** The task (or its issue) is past its budget: failed, not retried (docs/BUDGETS.md). */
  BudgetExceeded: 'budget_exceeded',
  /** The role requires the agent's sandbox (`isolation.sandbox: required`) and the host cannot make it. */
  SandboxUnavailable: 'sandbox_unavailable',
} as const;

export type AgentErrorCode = (typeof AgentErrorCodes)[keyof typeof AgentErrorCodes];

/** The issue sources' part (src/issues): GitHub, webhooks, the local tracker. */
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
  /** The local issue directory does not exist or is not a directory. */
  IssueDirMissing: 'issue_dir_missing',
  /** A write to an issue no valid file of the local directory describes. */
  IssueNotFound: 'issue_not_found',
  /** A local tracker file that is not the JSON the source writes (truncated or edited by hand). */
  TrackerFileCorrupt: 'tracker_file_corrupt',
  /** A pull request the local tracker does not have. */
  PullNotFound: 'pull_not_found',
  /** A change the local tracker refuses on a closed pull request (its base, once merged). */
  PullClosed: 'pull_closed',
  /** A merge asked of the local source, which was given no repository to merge in. */
  MergeUnavailable: 'merge_unavailable',
} as const;

export type IssueErrorCode = (typeof IssueErrorCodes)[keyof typeof IssueErrorCodes];

export const ErrorCodes = {
  ...AgentErrorCodes,
  ...IssueErrorCodes,
  ConfigInvalid: 'config_invalid',
  ConfigUnreadable: 'config_unreadable',
  ChildStartFailed: 'child_start_failed',
  ChildStartTimeout: 'child_start_timeout',
  SupervisorEscalated: 'supervisor_escalated',
  SupervisorNotRunning: 'supervisor_not_running',
  DuplicateChild: 'duplicate_child',
  UnknownChild: 'unknown_child',
  ProcessExited: 'process_exited',
  ProcessKilled: 'process_killed',
  NatsUnreachable: 'nats_unreachable',
  NatsServerMissing: 'nats_server_missing',
  NatsServerExited: 'nats_server_exited',
  /** The embedded nats-server alive but its JetStream not answering (wedged by a full disk): restarted. */
  NatsStalled: 'nats_stalled',
  /** A NATS identity (nkey seed) file missing, broken or readable by others (src/infra/nats/identities.ts). */
  NatsCredentialsInvalid: 'nats_credentials_invalid',
  MessageInvalid: 'message_invalid',
  BusTopologyConflict: 'bus_topology_conflict',
  BusPublishFailed: 'bus_publish_failed',
  BusClosed: 'bus_closed',
  OrchestraNotRunning: 'orchestra_not_running',
  OrchestraAlreadyRunning: 'orchestra_already_running',
  AgentUnhealthy: 'agent_unhealthy',
  HttpListenFailed: 'http_listen_failed',
  InvalidArgument: 'invalid_argument',
  TmuxCommandFailed: 'tmux_command_failed',
  TmuxControlUnavailable: 'tmux_control_unavailable',
  NotAGitRepository: 'not_a_git_repository',
  GitCommandFailed: 'git_command_failed',
  WorktreeConflict: 'worktree_conflict',
  ActorDown: 'actor_down',
  /** The inspection history stream (MIYABI_INSPECT) is not there: deleted, or never made (src/infra/bus/inspection-stream.ts). */
  InspectionHistoryMissing: 'inspection_history_missing',
  /** A log search whose query FTS5 cannot parse, or with nothing to search for (src/logs). */
  LogQueryInvalid: 'log_query_invalid',
  /** A write fenced by the leader lease, refused: this node does not lead that epoch, or was deposed (src/cluster/leader-lease.ts). */
  LeaseLost: 'lease_lost',
  /** A write fenced by the leader lease, held back: the lease could not be confirmed (no answer from its bucket). */
  LeaseUnconfirmed: 'lease_unconfirmed',
  /** The cluster's members bucket belongs to another cluster (it works another tracker): refused at start (src/actors/membership.ts). */
  ClusterMismatch: 'cluster_mismatch',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export class MiyabiError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MiyabiError';
    this.code = code;
  }
}

/** Error text safe for a log line or a status report, whatever was thrown. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'string') return error;
  try {
    return JSON.stringify(error);
  } catch {
    return String(error);
  }
}
