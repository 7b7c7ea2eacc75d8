/**
 * A fake GitHub REST API on node:http (127.0.0.1, a free port) for tests that drive the real
 * octokit client through `baseUrl`. One repository, held in a mutable in-memory state, answered
 * with GitHub's own response shapes (snake_case, `html_url`, `user: { login, type }`, label
 * objects, `pull_request` on the pull requests the issues list includes).
 *
 * Implemented:
 *   GET  /repos/{o}/{r}                                       the repository
 *   GET  /repos/{o}/{r}/issues                                state, since, sort, direction, labels
 *   GET  /repos/{o}/{r}/issues/{n}                            an issue (or a pull request, as an issue)
 *   GET  /repos/{o}/{r}/issues/{n}/comments   POST …          comments
 *   GET  /repos/{o}/{r}/issues/{n}/events                     labeled / unlabeled events
 *   POST /repos/{o}/{r}/issues/{n}/labels                     add labels (unknown ones are created)
 *   DELETE /repos/{o}/{r}/issues/{n}/labels/{name}            404 when the issue does not have it
 *   GET  /repos/{o}/{r}/labels                POST …          repository labels (422 on a duplicate)
 *   GET  /repos/{o}/{r}/pulls                 POST …          state, head (`owner:branch`), base;
 *                                                             422 on a second open PR for a head
 *   GET  /repos/{o}/{r}/collaborators/{login}/permission      404 for a login it has never seen
 *
 * Every list paginates (`per_page` default 30, max 100, `page`; `Link` with next/last/first/prev
 * as GitHub sends it). Every GET 200 carries a weak `ETag` of its body; a matching
 * `If-None-Match` answers 304 without a body (and without counting against the rate limit).
 * `x-ratelimit-*` headers on every answer; 401 "Bad credentials" without the right token; 404
 * `{ message: 'Not Found' }` for everything else.
 *
 * Fault injection (`fail`): the next N requests (optionally only those matching a method and a
 * path) answer 5xx, a secondary rate limit (403 + `retry-after`), a primary rate limit (403 +
 * `x-ratelimit-remaining: 0` + `x-ratelimit-reset`), a 403 naming the permissions it wants
 * (`x-accepted-github-permissions`), or drop the connection. Every request is recorded (method,
 * path, query, status) so a test can count what the client did.
 *
 * Bodies can be raw bytes (`rawBody`), spliced into the JSON as is, to send text that is not
 * valid UTF-8. The bytes must not contain `"`, `\` or control characters.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AuthorAssociation } from '../../src/issues/source.ts';

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

const docs = 'https://docs.github.com/rest';
const epoch = Date.parse('2024-01-01T00:00:00Z');

export async function startFakeGitHub(options: { owner: string; repo: string; token?: string; defaultBranch?: string }): Promise<FakeGitHub> {
  const { owner, repo, token } = options;
  let ids = 1000;
  let clock = 0;
  const nextId = () => ++ids;
  /** GitHub's timestamp format; each call one second later, so every change is visible. */
  const now = () => new Date(epoch + ++clock * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  let nextNumber = 1;

  const state: FakeGitHubState = {
    owner,
    repo,
    defaultBranch: options.defaultBranch ?? 'main',
    private: false,
    viewer: { id: nextId(), login: 'miyabi-bot', type: 'User' },
    issues: new Map(),
    comments: [],
    events: [],
    labels: new Map(),
    collaborators: new Map(),
    users: new Map(),
    requests: [],
    faults: [],
    rateLimit: { limit: 5000, remaining: 5000 },
  };
  state.users.set(state.viewer.login, state.viewer);
  state.users.set(owner, { id: nextId(), login: owner, type: 'User' });
  state.collaborators.set(state.viewer.login, 'write');
  state.collaborators.set(owner, 'admin');

  const user = (login: string, type?: FakeUserType): FakeUser => {
    let found = state.users.get(login);
    if (found === undefined) {
      found = { id: nextId(), login, type: type ?? (login.endsWith('[bot]') ? 'Bot' : 'User') };
      state.users.set(login, found);
    }
    return found;
  };

  const ensureLabel = (name: string): FakeLabel => {
    let label = state.labels.get(name.toLowerCase());
    if (label === undefined) {
      label = { id: nextId(), name, color: 'ededed', description: null };
      state.labels.set(name.toLowerCase(), label);
    }
    return label;
  };

  const issueOrThrow = (number: number): FakeIssue => {
    const issue = state.issues.get(number);
    if (issue === undefined) throw new Error(`fake GitHub: no issue #${number}`);
    return issue;
  };

  const addLabel = (issue: FakeIssue, name: string, actor: FakeUser): boolean => {
    const label = ensureLabel(name);
    if (issue.labels.some((l) => l.toLowerCase() === label.name.toLowerCase())) return false;
    issue.labels.push(label.name);
    issue.updatedAt = now();
    state.events.push({ id: nextId(), issue: issue.number, event: 'labeled', actor, label: label.name, createdAt: issue.updatedAt });
    return true;
  };

  const removeLabel = (issue: FakeIssue, name: string, actor: FakeUser): boolean => {
    const index = issue.labels.findIndex((l) => l.toLowerCase() === name.toLowerCase());
    if (index < 0) return false;
    const [removed] = issue.labels.splice(index, 1);
    issue.updatedAt = now();
    state.events.push({ id: nextId(), issue: issue.number, event: 'unlabeled', actor, label: removed!, createdAt: issue.updatedAt });
    return true;
  };

  const addComment = (number: number, body: string, author: FakeUser): FakeComment => {
    const issue = issueOrThrow(number);
    const comment: FakeComment = {
      id: nextId(),
      issue: number,
      body,
      user: author,
      authorAssociation: associationOf(author.login),
      createdAt: now(),
    };
    state.comments.push(comment);
    issue.updatedAt = comment.createdAt;
    return comment;
  };

  const associationOf = (login: string): AuthorAssociation =>
    login === owner ? 'OWNER' : state.collaborators.has(login) ? 'COLLABORATOR' : 'NONE';

  // ---- JSON shapes ------------------------------------------------------------------------

  let base = '';
  const api = (path: string) => `${base}/repos/${owner}/${repo}${path}`;
  const html = (path: string) => `https://github.com/${owner}/${repo}${path}`;

  const userJson = (u: FakeUser) => ({
    login: u.login,
    id: u.id,
    node_id: `U_${u.id}`,
    avatar_url: `https://avatars.githubusercontent.com/u/${u.id}?v=4`,
    gravatar_id: '',
    url: `${base}/users/${encodeURIComponent(u.login)}`,
    html_url: `https://github.com/${encodeURIComponent(u.login)}`,
    type: u.type,
    site_admin: false,
  });

  const labelJson = (l: FakeLabel) => ({
    id: l.id,
    node_id: `LA_${l.id}`,
    url: api(`/labels/${encodeURIComponent(l.name)}`),
    name: l.name,
    color: l.color,
    default: false,
    description: l.description,
  });

  /** Raw bodies travel as placeholders (one per issue) until the JSON text becomes bytes. */
  const raw = new Map<string, Buffer>();
  const bodyValue = (issue: FakeIssue): string | null => {
    if (issue.rawBody === undefined) return issue.body;
    const token = `@@fake-github-raw-${issue.number}@@`;
    raw.set(token, issue.rawBody);
    return token;
  };

  const issueJson = (i: FakeIssue) => ({
    url: api(`/issues/${i.number}`),
    repository_url: api(''),
    labels_url: api(`/issues/${i.number}/labels{/name}`),
    comments_url: api(`/issues/${i.number}/comments`),
    events_url: api(`/issues/${i.number}/events`),
    html_url: html(`/${i.pull ? 'pull' : 'issues'}/${i.number}`),
    id: i.number * 7919,
    node_id: `I_${i.number}`,
    number: i.number,
    title: i.title,
    user: userJson(i.user),
    labels: i.labels.map((name) => labelJson(ensureLabel(name))),
    state: i.state,
    locked: false,
    assignee: null,
    assignees: [],
    milestone: null,
    comments: state.comments.filter((c) => c.issue === i.number).length,
    created_at: i.createdAt,
    updated_at: i.updatedAt,
    closed_at: i.closedAt,
    author_association: i.authorAssociation,
    active_lock_reason: null,
    ...(i.pull
      ? {
          draft: i.pull.draft,
          pull_request: {
            url: api(`/pulls/${i.number}`),
            html_url: html(`/pull/${i.number}`),
            diff_url: html(`/pull/${i.number}.diff`),
            patch_url: html(`/pull/${i.number}.patch`),
            merged_at: null,
          },
        }
      : {}),
    body: bodyValue(i),
    closed_by: null,
    reactions: { url: api(`/issues/${i.number}/reactions`), total_count: 0, '+1': 0, '-1': 0, laugh: 0, hooray: 0, confused: 0, heart: 0, rocket: 0, eyes: 0 },
    timeline_url: api(`/issues/${i.number}/timeline`),
    performed_via_github_app: null,
    state_reason: i.state === 'closed' ? 'completed' : null,
  });

  const commentJson = (c: FakeComment) => ({
    url: api(`/issues/comments/${c.id}`),
    html_url: html(`/issues/${c.issue}#issuecomment-${c.id}`),
    issue_url: api(`/issues/${c.issue}`),
    id: c.id,
    node_id: `IC_${c.id}`,
    user: userJson(c.user),
    created_at: c.createdAt,
    updated_at: c.createdAt,
    author_association: c.authorAssociation,
    body: c.body,
    reactions: { url: api(`/issues/comments/${c.id}/reactions`), total_count: 0 },
    performed_via_github_app: null,
  });

  const eventJson = (e: FakeEvent) => {
    const label = ensureLabel(e.label);
    return {
      id: e.id,
      node_id: `LE_${e.id}`,
      url: api(`/issues/events/${e.id}`),
      actor: userJson(e.actor),
      event: e.event,
      commit_id: null,
      commit_url: null,
      created_at: e.createdAt,
      label: { name: label.name, color: label.color },
      performed_via_github_app: null,
    };
  };

  const ownerUser = () => user(owner);
  const repoJson = () => ({
    id: 1296269,
    node_id: 'R_1296269',
    name: repo,
    full_name: `${owner}/${repo}`,
    owner: userJson(ownerUser()),
    private: state.private,
    html_url: html(''),
    description: null,
    fork: false,
    url: api(''),
    default_branch: state.defaultBranch,
    visibility: state.private ? 'private' : 'public',
    has_issues: true,
    open_issues_count: [...state.issues.values()].filter((i) => i.state === 'open').length,
    permissions: permissionsOf(state.collaborators.get(state.viewer.login)),
    created_at: '2011-01-26T19:01:12Z',
    updated_at: '2011-01-26T19:14:43Z',
    pushed_at: '2011-01-26T19:06:43Z',
  });

  const permissionsOf = (role: FakeRole | undefined) => ({
    admin: role === 'admin',
    maintain: role === 'admin' || role === 'maintain',
    push: role === 'admin' || role === 'maintain' || role === 'write',
    triage: role !== undefined && role !== 'read',
    pull: true,
  });

  const refJson = (branch: string) => ({
    label: `${owner}:${branch}`,
    ref: branch,
    sha: createHash('sha1').update(branch).digest('hex'),
    user: userJson(ownerUser()),
    repo: repoJson(),
  });

  const pullJson = (i: FakeIssue) => ({
    url: api(`/pulls/${i.number}`),
    id: i.number * 104729,
    node_id: `PR_${i.number}`,
    html_url: html(`/pull/${i.number}`),
    diff_url: html(`/pull/${i.number}.diff`),
    patch_url: html(`/pull/${i.number}.patch`),
    issue_url: api(`/issues/${i.number}`),
    number: i.number,
    state: i.state,
    locked: false,
    title: i.title,
    user: userJson(i.user),
    body: i.body,
    labels: i.labels.map((name) => labelJson(ensureLabel(name))),
    milestone: null,
    created_at: i.createdAt,
    updated_at: i.updatedAt,
    closed_at: i.closedAt,
    merged_at: null,
    merge_commit_sha: null,
    assignee: null,
    assignees: [],
    requested_reviewers: [],
    head: refJson(i.pull!.head),
    base: refJson(i.pull!.base),
    author_association: i.authorAssociation,
    auto_merge: null,
    draft: i.pull!.draft,
  });

  // ---- HTTP -------------------------------------------------------------------------------

  type Answer = { status: number; body?: unknown; headers?: Record<string, string | number> };
  const notFound = (): Answer => ({ status: 404, body: { message: 'Not Found', documentation_url: docs, status: '404' } });
  const invalid = (errors: unknown[]): Answer => ({
    status: 422,
    body: { message: 'Validation Failed', errors, documentation_url: docs, status: '422' },
  });

  const paginate = (url: URL, items: unknown[]): Answer => {
    const perPage = Math.min(100, Math.max(1, Number(url.searchParams.get('per_page') ?? 30) || 30));
    const page = Math.max(1, Number(url.searchParams.get('page') ?? 1) || 1);
    const last = Math.max(1, Math.ceil(items.length / perPage));
    const link = (n: number, rel: string) => {
      const target = new URL(url.pathname + url.search, base);
      target.searchParams.set('page', String(n));
      return `<${target.href}>; rel="${rel}"`;
    };
    const links: string[] = [];
    if (page > 1) links.push(link(page - 1, 'prev'));
    if (page < last) links.push(link(page + 1, 'next'), link(last, 'last'));
    if (page > 1) links.push(link(1, 'first'));
    return {
      status: 200,
      body: items.slice((page - 1) * perPage, page * perPage),
      headers: links.length > 0 ? { link: links.join(', ') } : {},
    };
  };

  const readBody = async (req: IncomingMessage): Promise<Record<string, unknown>> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (chunks.length === 0) return {};
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
  };

  const route = async (req: IncomingMessage, url: URL): Promise<Answer> => {
    const method = req.method ?? 'GET';
    const prefix = `/repos/${owner}/${repo}`;
    if (url.pathname !== prefix && !url.pathname.startsWith(`${prefix}/`)) return notFound();
    const parts = url.pathname.slice(prefix.length).split('/').filter(Boolean).map(decodeURIComponent);
    const [a, b, c, d] = parts;

    if (parts.length === 0 && method === 'GET') return { status: 200, body: repoJson() };

    if (a === 'issues' && parts.length === 1 && method === 'GET') {
      const wanted = url.searchParams.get('state') ?? 'open';
      const since = url.searchParams.get('since');
      const labels = url.searchParams.get('labels')?.split(',').filter(Boolean) ?? [];
      const sort = url.searchParams.get('sort') ?? 'created';
      const direction = url.searchParams.get('direction') ?? 'desc';
      const key = (i: FakeIssue) => (sort === 'updated' ? i.updatedAt : i.createdAt) + String(i.number).padStart(9, '0');
      const items = [...state.issues.values()]
        .filter((i) => wanted === 'all' || i.state === wanted)
        .filter((i) => since === null || i.updatedAt >= since)
        .filter((i) => labels.every((l) => i.labels.some((x) => x.toLowerCase() === l.toLowerCase())))
        .sort((x, y) => (direction === 'asc' ? 1 : -1) * key(x).localeCompare(key(y)));
      return paginate(url, items.map(issueJson));
    }

    if (a === 'issues' && b !== undefined) {
      const issue = state.issues.get(Number(b));
      if (issue === undefined || !/^\d+$/.test(b)) return notFound();
      if (c === undefined && method === 'GET') return { status: 200, body: issueJson(issue) };
      if (c === 'comments' && d === undefined) {
        if (method === 'GET') return paginate(url, state.comments.filter((x) => x.issue === issue.number).map(commentJson));
        if (method === 'POST') {
          const body = await readBody(req);
          if (typeof body.body !== 'string') return invalid([{ resource: 'IssueComment', code: 'missing_field', field: 'body' }]);
          return { status: 201, body: commentJson(addComment(issue.number, body.body, state.viewer)) };
        }
      }
      if (c === 'events' && d === undefined && method === 'GET') {
        return paginate(url, state.events.filter((e) => e.issue === issue.number).map(eventJson));
      }
      if (c === 'labels' && d === undefined && method === 'POST') {
        const body = await readBody(req);
        const names = Array.isArray(body.labels) ? body.labels : [];
        for (const name of names) addLabel(issue, String(name), state.viewer);
        return { status: 200, body: issue.labels.map((name) => labelJson(ensureLabel(name))) };
      }
      if (c === 'labels' && d !== undefined && method === 'DELETE') {
        if (!removeLabel(issue, d, state.viewer)) {
          return { status: 404, body: { message: 'Label does not exist', documentation_url: docs, status: '404' } };
        }
        return { status: 200, body: issue.labels.map((name) => labelJson(ensureLabel(name))) };
      }
      return notFound();
    }

    if (a === 'labels' && b === undefined) {
      if (method === 'GET') return paginate(url, [...state.labels.values()].map(labelJson));
      if (method === 'POST') {
        const body = await readBody(req);
        const name = String(body.name ?? '');
        if (state.labels.has(name.toLowerCase())) return invalid([{ resource: 'Label', code: 'already_exists', field: 'name' }]);
        const label: FakeLabel = {
          id: nextId(),
          name,
          color: String(body.color ?? 'ededed').replace(/^#/, ''),
          description: typeof body.description === 'string' ? body.description : null,
        };
        state.labels.set(name.toLowerCase(), label);
        return { status: 201, body: labelJson(label) };
      }
    }

    if (a === 'pulls' && b === undefined) {
      const pulls = [...state.issues.values()].filter((i) => i.pull !== undefined);
      if (method === 'GET') {
        const wanted = url.searchParams.get('state') ?? 'open';
        const head = url.searchParams.get('head');
        const baseRef = url.searchParams.get('base');
        const items = pulls
          .filter((p) => wanted === 'all' || p.state === wanted)
          .filter((p) => head === null || `${owner}:${p.pull!.head}` === head)
          .filter((p) => baseRef === null || p.pull!.base === baseRef)
          .sort((x, y) => y.number - x.number);
        return paginate(url, items.map(pullJson));
      }
      if (method === 'POST') {
        const body = await readBody(req);
        const head = String(body.head ?? '').replace(new RegExp(`^${owner}:`), '');
        const baseRef = String(body.base ?? '');
        if (head === '' || baseRef === '' || typeof body.title !== 'string') {
          return invalid([{ resource: 'PullRequest', code: 'missing_field', field: head === '' ? 'head' : baseRef === '' ? 'base' : 'title' }]);
        }
        if (pulls.some((p) => p.state === 'open' && p.pull!.head === head && p.pull!.base === baseRef)) {
          return invalid([{ resource: 'PullRequest', code: 'custom', message: `A pull request already exists for ${owner}:${head}.` }]);
        }
        const pull = fake.addPull({
          head,
          base: baseRef,
          title: body.title,
          body: typeof body.body === 'string' ? body.body : '',
          draft: body.draft === true,
          author: state.viewer.login,
        });
        return { status: 201, body: pullJson(pull) };
      }
    }

    if (a === 'collaborators' && b !== undefined && c === 'permission' && method === 'GET') {
      const found = state.users.get(b);
      if (found === undefined) return { status: 404, body: { message: `${b} is not a user`, documentation_url: docs, status: '404' } };
      const role = state.collaborators.get(b);
      // GitHub's `permission` folds maintain into write and triage into read; `role_name` does not.
      const permission = role === 'admin' ? 'admin' : role === 'maintain' || role === 'write' ? 'write' : 'read';
      return {
        status: 200,
        body: { permission, role_name: role ?? 'read', user: { ...userJson(found), permissions: permissionsOf(role), role_name: role ?? 'read' } },
      };
    }

    return notFound();
  };

  const rateHeaders = () => ({
    'x-ratelimit-limit': state.rateLimit.limit,
    'x-ratelimit-remaining': state.rateLimit.remaining,
    'x-ratelimit-reset': Math.floor(Date.now() / 1000) + 3600,
    'x-ratelimit-used': state.rateLimit.limit - state.rateLimit.remaining,
    'x-ratelimit-resource': 'core',
  });

  const takeFault = (method: string, path: string): Fault | undefined => {
    const index = state.faults.findIndex(
      (f) =>
        (f.method === undefined || f.method.toUpperCase() === method) &&
        (f.path === undefined || (typeof f.path === 'string' ? path.startsWith(f.path) : f.path.test(path))),
    );
    if (index < 0) return undefined;
    const fault = state.faults[index]!;
    fault.times -= 1;
    if (fault.times <= 0) state.faults.splice(index, 1);
    return fault;
  };

  const faultAnswer = (fault: Fault): Answer => {
    switch (fault.kind) {
      case 'server_error':
        return { status: fault.status ?? 500, body: { message: 'Server Error' } };
      case 'secondary_rate_limit':
        return {
          status: 403,
          headers: { 'retry-after': fault.retryAfter ?? 1 },
          body: {
            message:
              'You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID 0000:0000:0000000:0000000:00000000.',
            documentation_url: `${docs}/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits`,
            status: '403',
          },
        };
      case 'rate_limit':
        return {
          status: 403,
          headers: {
            'x-ratelimit-remaining': 0,
            'x-ratelimit-reset': Math.floor((Date.now() + (fault.retryAfter ?? 0) * 1000) / 1000),
          },
          body: {
            message: `API rate limit exceeded for user ID ${state.viewer.id}. If you reach out to GitHub Support for help, please include the request ID 0000:0000:0000000:0000000:00000000.`,
            documentation_url: `${docs}/overview/rate-limits-for-the-rest-api#about-the-primary-rate-limit`,
            status: '403',
          },
        };
      case 'forbidden':
        return {
          status: 403,
          headers: fault.acceptedPermissions ? { 'x-accepted-github-permissions': fault.acceptedPermissions } : {},
          body: { message: 'Resource not accessible by personal access token', documentation_url: docs, status: '403' },
        };
      case 'network':
        return { status: 0 };
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', base);
    const method = req.method ?? 'GET';
    const record: RecordedRequest = { method, path: url.pathname, query: url.search, status: 0 };
    state.requests.push(record);

    let answer: Answer;
    const authorization = req.headers.authorization ?? '';
    const authorized = token === undefined || new RegExp(`^(token|bearer) ${escape(token)}$`, 'i').test(authorization);
    const fault = authorized ? takeFault(method, url.pathname) : undefined;
    if (!authorized) {
      answer = { status: 401, body: { message: 'Bad credentials', documentation_url: docs, status: '401' } };
    } else if (fault?.kind === 'network') {
      req.socket.destroy();
      return;
    } else if (fault !== undefined) {
      answer = faultAnswer(fault);
    } else {
      answer = await route(req, url);
    }

    let payload: Buffer = answer.body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(answer.body), 'utf8');
    if (raw.size > 0) payload = splice(payload, raw);
    const etag = method === 'GET' && answer.status === 200 ? `W/"${createHash('sha256').update(payload).digest('hex').slice(0, 32)}"` : undefined;
    const notModified = etag !== undefined && req.headers['if-none-match'] === etag;
    // A 304 does not count against the rate limit; every other answer does, and says so.
    if (!notModified && state.rateLimit.remaining > 0) state.rateLimit.remaining -= 1;
    const headers: Record<string, string | number> = {
      'x-github-request-id': `FAKE:${state.requests.length}`,
      'x-github-api-version-selected': '2022-11-28',
      ...rateHeaders(),
      ...(etag !== undefined ? { etag } : {}),
      ...answer.headers,
    };
    record.status = notModified ? 304 : answer.status;
    if (notModified) {
      res.writeHead(304, headers).end();
      return;
    }
    res.writeHead(answer.status, { 'content-type': 'application/json; charset=utf-8', ...headers, 'content-length': payload.length });
    res.end(payload);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: `fake GitHub failed: ${String(error)}` }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  let closing: Promise<void> | undefined;
  const fake: FakeGitHub = {
    url: base,
    state,
    user,
    addIssue: (input) => {
      const at = now();
      const author = user(input.author ?? 'octocat', input.authorType);
      const issue: FakeIssue = {
        number: nextNumber++,
        title: input.title ?? `Issue ${nextNumber - 1}`,
        body: input.body === undefined ? '' : input.body,
        ...(input.rawBody ? { rawBody: input.rawBody } : {}),
        labels: [],
        state: input.state ?? 'open',
        user: author,
        authorAssociation: input.authorAssociation ?? associationOf(author.login),
        createdAt: at,
        updatedAt: at,
        closedAt: input.state === 'closed' ? at : null,
      };
      state.issues.set(issue.number, issue);
      for (const label of input.labels ?? []) {
        issue.labels.push(ensureLabel(label).name);
        state.events.push({ id: nextId(), issue: issue.number, event: 'labeled', actor: author, label, createdAt: at });
      }
      return issue;
    },
    addPull: (input) => {
      const at = now();
      const author = user(input.author ?? state.viewer.login);
      const pull: FakeIssue = {
        number: nextNumber++,
        title: input.title ?? `Pull ${input.head}`,
        body: input.body ?? '',
        labels: [],
        state: 'open',
        user: author,
        authorAssociation: associationOf(author.login),
        createdAt: at,
        updatedAt: at,
        closedAt: null,
        pull: { head: input.head, base: input.base ?? state.defaultBranch, draft: input.draft ?? false },
      };
      state.issues.set(pull.number, pull);
      return pull;
    },
    addComment: (issue, body, author) => addComment(issue, body, user(author ?? 'octocat')),
    labelIssue: (issue, label, actor, actorType) => void addLabel(issueOrThrow(issue), label, user(actor, actorType)),
    unlabelIssue: (issue, label, actor) => void removeLabel(issueOrThrow(issue), label, user(actor)),
    closeIssue: (number) => {
      const issue = issueOrThrow(number);
      issue.state = 'closed';
      issue.updatedAt = now();
      issue.closedAt = issue.updatedAt;
    },
    setCollaborator: (login, role) => {
      user(login);
      state.collaborators.set(login, role);
    },
    fail: (fault) => void state.faults.push({ ...fault, times: fault.times ?? 1 }),
    requestsTo: (method, path) =>
      state.requests.filter(
        (r) => r.method === method.toUpperCase() && (typeof path === 'string' ? r.path.startsWith(path) : path.test(r.path)),
      ),
    commentCount: (issue) => state.comments.filter((c) => c.issue === issue).length,
    pullsForHead: (branch) => [...state.issues.values()].filter((i) => i.pull?.head === branch),
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
  return fake;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Replaces each `"token"` placeholder's token with its raw bytes. */
function splice(payload: Buffer, raw: Map<string, Buffer>): Buffer {
  const parts: Buffer[] = [];
  let rest = payload;
  for (;;) {
    let first: { at: number; token: string } | undefined;
    for (const token of raw.keys()) {
      const at = rest.indexOf(token);
      if (at >= 0 && (first === undefined || at < first.at)) first = { at, token };
    }
    if (first === undefined) break;
    parts.push(rest.subarray(0, first.at), raw.get(first.token)!);
    rest = rest.subarray(first.at + Buffer.byteLength(first.token));
  }
  parts.push(rest);
  return Buffer.concat(parts);
}
