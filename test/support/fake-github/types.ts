/**
 * The fake GitHub's data and its API: the users, issues, comments, events, labels and faults it
 * holds (`FakeGitHubState`, mutable by tests) and the `FakeGitHub` handle a test drives.
 */
import type { AuthorAssociation } from '../../../src/issues/source.ts';

export type FakeUserType = 'User' | 'Bot' | 'Organization';
export type FakeRole = 'admin' | 'maintain' | 'write' | 'triage' | 'read';

export interface FakeUser {
  id: number;
  login: string;
  type: FakeUserType;
}

export interface FakeIssue {
  number: number;
  title: string;
  body: string | null;
  /** Sent instead of `body` when set, bytes as they are. */
  rawBody?: Buffer;
  /** Label names, in the order they were added. */
  labels: string[];
  state: 'open' | 'closed';
  user: FakeUser;
  authorAssociation: AuthorAssociation;
  createdAt: string;
  updatedAt: string;
  closedAt: string | null;
  /** Set on pull requests (which GitHub also lists as issues). */
  pull?: { head: string; base: string; draft: boolean };
}

export interface FakeComment {
  id: number;
  issue: number;
  body: string;
  user: FakeUser;
  authorAssociation: AuthorAssociation;
  createdAt: string;
}

export interface FakeEvent {
  id: number;
  issue: number;
  event: 'labeled' | 'unlabeled';
  actor: FakeUser;
  label: string;
  createdAt: string;
}

export interface FakeLabel {
  id: number;
  name: string;
  color: string;
  description: string | null;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: string;
  /** 0 when the connection was dropped. */
  status: number;
}

export type FaultKind = 'server_error' | 'secondary_rate_limit' | 'rate_limit' | 'forbidden' | 'network';

export interface Fault {
  kind: FaultKind;
  /** How many matching requests fail; default 1. */
  times?: number;
  method?: string;
  /** Matches the path (no query): a string is a prefix. */
  path?: string | RegExp;
  /** server_error: default 500. */
  status?: number;
  /** secondary_rate_limit: `retry-after` seconds (default 1). rate_limit: seconds to the reset (default 0). */
  retryAfter?: number;
  /** forbidden: the `x-accepted-github-permissions` header, e.g. `issues=write`. */
  acceptedPermissions?: string;
}

export interface FakeGitHubState {
  owner: string;
  repo: string;
  defaultBranch: string;
  private: boolean;
  /** The user the token belongs to: author of what the client writes. */
  viewer: FakeUser;
  issues: Map<number, FakeIssue>;
  comments: FakeComment[];
  events: FakeEvent[];
  /** By lower-cased name. */
  labels: Map<string, FakeLabel>;
  collaborators: Map<string, FakeRole>;
  users: Map<string, FakeUser>;
  requests: RecordedRequest[];
  faults: Array<Fault & { times: number }>;
  rateLimit: { limit: number; remaining: number };
}

export interface FakeGitHub {
  /** `http://127.0.0.1:port`: the client's `baseUrl`. */
  readonly url: string;
  readonly state: FakeGitHubState;
  user(login: string, type?: FakeUserType): FakeUser;
  addIssue(input: {
    title?: string;
    body?: string | null;
    rawBody?: Buffer;
    labels?: string[];
    author?: string;
    authorType?: FakeUserType;
    authorAssociation?: AuthorAssociation;
    state?: 'open' | 'closed';
  }): FakeIssue;
  addPull(input: { head: string; base?: string; title?: string; body?: string; draft?: boolean; author?: string }): FakeIssue;
  addComment(issue: number, body: string, author?: string): FakeComment;
  /** Adds the label with a `labeled` event by `actor`. */
  labelIssue(issue: number, label: string, actor: string, actorType?: FakeUserType): void;
  unlabelIssue(issue: number, label: string, actor: string): void;
  closeIssue(issue: number): void;
  setCollaborator(login: string, role: FakeRole): void;
  fail(fault: Fault): void;
  /** Recorded requests matching a method and a path (a string is a prefix). */
  requestsTo(method: string, path: string | RegExp): RecordedRequest[];
  commentCount(issue: number): number;
  /** Pull requests (open or not) whose head is `branch`. */
  pullsForHead(branch: string): FakeIssue[];
  close(): Promise<void>;
}
