/**
 * Pull requests: `GET /repos/{o}/{r}/pulls` (state, head as `owner:branch`, base; newest first)
 * and `POST` (422 on a second open pull request for a head and base), kept among the issues as
 * GitHub numbers them.
 */
import { invalid, paginate, type Route } from './http.ts';
import { labelsJson } from './labels.ts';
import type { FakeRepo } from './repo.ts';
import { refJson } from './repository.ts';
import type { FakeGitHub, FakeIssue } from './types.ts';

const pullJson = (fake: FakeRepo, i: FakeIssue) => ({
  url: fake.api(`/pulls/${i.number}`),
  id: i.number * 104729,
  node_id: `PR_${i.number}`,
  html_url: fake.html(`/pull/${i.number}`),
  diff_url: fake.html(`/pull/${i.number}.diff`),
  patch_url: fake.html(`/pull/${i.number}.patch`),
  issue_url: fake.api(`/issues/${i.number}`),
  number: i.number,
  state: i.state,
  locked: false,
  title: i.title,
  user: fake.userJson(i.user),
  body: i.body,
  labels: labelsJson(fake, i),
  milestone: null,
  created_at: i.createdAt,
  updated_at: i.updatedAt,
  closed_at: i.closedAt,
  merged_at: null,
  merge_commit_sha: null,
  assignee: null,
  assignees: [],
  requested_reviewers: [],
  head: refJson(fake, i.pull!.head),
  base: refJson(fake, i.pull!.base),
  author_association: i.authorAssociation,
  auto_merge: null,
  draft: i.pull!.draft,
});

export function addPull(fake: FakeRepo, input: Parameters<FakeGitHub['addPull']>[0]): FakeIssue {
  const { state } = fake;
  const at = fake.now();
  const author = fake.user(input.author ?? state.viewer.login);
  const pull: FakeIssue = {
    number: fake.nextNumber(),
    title: input.title ?? `Pull ${input.head}`,
    body: input.body ?? '',
    labels: [],
    state: 'open',
    user: author,
    authorAssociation: fake.associationOf(author.login),
    createdAt: at,
    updatedAt: at,
    closedAt: null,
    pull: { head: input.head, base: input.base ?? state.defaultBranch, draft: input.draft ?? false },
  };
  state.issues.set(pull.number, pull);
  return pull;
}

/** Pull requests (open or not) whose head is `branch`. */
export const pullsForHead = (fake: FakeRepo, branch: string): FakeIssue[] => [...fake.state.issues.values()].filter((i) => i.pull?.head === branch);

export const pullsRoute: Route = async (fake, { method, url, parts, body }) => {
  const { owner, state } = fake;
  const [a, b] = parts;
  if (a !== 'pulls' || b !== undefined) return undefined;
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
    return paginate(fake, url, items.map((p) => pullJson(fake, p)));
  }
  if (method === 'POST') {
    const request = await body();
    const head = String(request.head ?? '').replace(new RegExp(`^${owner}:`), '');
    const baseRef = String(request.base ?? '');
    if (head === '' || baseRef === '' || typeof request.title !== 'string') {
      return invalid([{ resource: 'PullRequest', code: 'missing_field', field: head === '' ? 'head' : baseRef === '' ? 'base' : 'title' }]);
    }
    if (pulls.some((p) => p.state === 'open' && p.pull!.head === head && p.pull!.base === baseRef)) {
      return invalid([{ resource: 'PullRequest', code: 'custom', message: `A pull request already exists for ${owner}:${head}.` }]);
    }
    const pull = addPull(fake, {
      head,
      base: baseRef,
      title: request.title,
      body: typeof request.body === 'string' ? request.body : '',
      draft: request.draft === true,
      author: state.viewer.login,
    });
    return { status: 201, body: pullJson(fake, pull) };
  }
  return undefined;
};
