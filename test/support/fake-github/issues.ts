/**
 * Issues: `GET /repos/{o}/{r}/issues` (state, since, sort, direction, labels; pull requests
 * included, as GitHub lists them), `POST` (created by the token's user, the viewer), `GET …/issues/{n}`
 * (a pull request too, as an issue) and `PATCH` (state, title, body), the
 * sub-resources of an issue handed to comments.ts, labels.ts and dependencies.ts, and a test's issues: added with
 * their labels (and a `labeled` event each), closed. `since` compares to the second, as GitHub's
 * timestamps are: two changes within one second share an `updated_at` (see `freezeClock`). A raw body travels as a placeholder the
 * server splices the bytes into.
 */
import { issueCommentsRoute } from './comments.ts';
import { issueDependenciesRoute } from './dependencies.ts';
import { invalid, notFound, paginate, type Route } from './http.ts';
import { ensureLabel, issueLabelsRoute, labelsJson } from './labels.ts';
import type { FakeRepo } from './repo.ts';
import type { FakeGitHub, FakeIssue } from './types.ts';

const bodyValue = (fake: FakeRepo, issue: FakeIssue): string | null => {
  if (issue.rawBody === undefined) return issue.body;
  const token = `@@fake-github-raw-${issue.number}@@`;
  fake.raw.set(token, issue.rawBody);
  return token;
};

export const issueJson = (fake: FakeRepo, i: FakeIssue) => {
  const api = (path: string) => fake.api(path);
  const html = (path: string) => fake.html(path);
  return {
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
    user: fake.userJson(i.user),
    labels: labelsJson(fake, i),
    state: i.state,
    locked: false,
    assignee: null,
    assignees: [],
    milestone: null,
    comments: fake.state.comments.filter((c) => c.issue === i.number).length,
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
            merged_at: i.pull.merged?.at ?? null,
          },
        }
      : {}),
    body: bodyValue(fake, i),
    closed_by: null,
    reactions: { url: api(`/issues/${i.number}/reactions`), total_count: 0, '+1': 0, '-1': 0, laugh: 0, hooray: 0, confused: 0, heart: 0, rocket: 0, eyes: 0 },
    timeline_url: api(`/issues/${i.number}/timeline`),
    performed_via_github_app: null,
    state_reason: i.state === 'closed' ? (i.stateReason ?? 'completed') : null,
  };
};

export function addIssue(fake: FakeRepo, input: Parameters<FakeGitHub['addIssue']>[0]): FakeIssue {
  const { state } = fake;
  const at = fake.now();
  const author = fake.user(input.author ?? 'octocat', input.authorType);
  const number = fake.nextNumber();
  const issue: FakeIssue = {
    number,
    title: input.title ?? `Issue ${number}`,
    body: input.body === undefined ? '' : input.body,
    ...(input.rawBody ? { rawBody: input.rawBody } : {}),
    labels: [],
    state: input.state ?? 'open',
    user: author,
    authorAssociation: input.authorAssociation ?? fake.associationOf(author.login),
    createdAt: at,
    updatedAt: at,
    closedAt: input.state === 'closed' ? at : null,
    labelHistory: [],
  };
  state.issues.set(issue.number, issue);
  for (const label of input.labels ?? []) {
    issue.labels.push(ensureLabel(fake, label).name);
    state.events.push({ id: fake.nextId(), issue: issue.number, event: 'labeled', actor: author, label, createdAt: at });
  }
  fake.labelsChanged(issue);
  return issue;
}

export function closeIssue(fake: FakeRepo, number: number, reason?: FakeIssue['stateReason']): void {
  const issue = fake.issueOrThrow(number);
  issue.state = 'closed';
  if (reason) issue.stateReason = reason;
  issue.updatedAt = fake.now();
  issue.closedAt = issue.updatedAt;
}

export const issuesRoute: Route = async (fake, request) => {
  const { state } = fake;
  const { method, url, parts } = request;
  const [a, b, c] = parts;

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
    return paginate(fake, url, items.map((i) => issueJson(fake, i)));
  }

  if (a === 'issues' && parts.length === 1 && method === 'POST') {
    const input = await request.body();
    if (typeof input.title !== 'string' || input.title === '') return invalid([{ resource: 'Issue', code: 'missing_field', field: 'title' }]);
    const labels = Array.isArray(input.labels) ? input.labels.filter((label): label is string => typeof label === 'string') : [];
    const created = addIssue(fake, { title: input.title, body: typeof input.body === 'string' ? input.body : '', labels, author: state.viewer.login });
    return { status: 201, body: issueJson(fake, created) };
  }

  if (a === 'issues' && b !== undefined) {
    const issue = state.issues.get(Number(b));
    if (issue === undefined || !/^\d+$/.test(b)) return notFound();
    if (c === undefined && method === 'GET') return { status: 200, body: issueJson(fake, issue) };
    if (c === undefined && method === 'PATCH') {
      const input = await request.body();
      if (input.state === 'closed' && issue.state === 'open') closeIssue(fake, issue.number);
      if (input.state === 'open' && issue.state === 'closed') Object.assign(issue, { state: 'open', closedAt: null, updatedAt: fake.now() });
      if (typeof input.title === 'string') issue.title = input.title;
      if (typeof input.body === 'string') issue.body = input.body;
      return { status: 200, body: issueJson(fake, issue) };
    }
    return (
      (await issueCommentsRoute(fake, issue, request)) ??
      (await issueLabelsRoute(fake, issue, request)) ??
      issueDependenciesRoute(fake, issue, request, issueJson) ??
      notFound()
    );
  }

  return undefined;
};
