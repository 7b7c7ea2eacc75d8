/**
 * Pull requests: `GET /repos/{o}/{r}/pulls` (state, head as `owner:branch`, base; newest first)
 * and `POST` (422 on a second open pull request for a head and base), kept among the issues as
 * GitHub numbers them; `GET /pulls/{n}` (with what only the single pull request says: merged,
 * mergeable, mergeable_state, merged_by), `PATCH /pulls/{n}` (base, title, body; 422 for the base
 * of a closed one), and a test's controls of the head commit and of what GitHub says of merging
 * it. The merge itself is merges.ts.
 *
 * With a bare repository as origin (origin.ts) the branches are real: an open pull request's head
 * is its branch's commit there, whether it is mergeable is a trial merge of its base and head
 * (unless the test said otherwise), and a pull request (or a new base) naming a branch origin does
 * not have is refused 422, as GitHub does.
 */
import { docs, invalid, notFound, paginate, type Route } from './http.ts';
import { labelsJson } from './labels.ts';
import { mergeRoute } from './merges.ts';
import { mergesCleanly, originHead } from './origin.ts';
import type { FakeRepo } from './repo.ts';
import { refJson } from './repository.ts';
import type { FakeGitHub, FakeIssue } from './types.ts';

/**
 * The head commit GitHub shows: an open pull request's branch in origin when the fake has one;
 * else (and once merged) the one set, else a hash of the branch name.
 */
export const headShaOf = (fake: FakeRepo, i: FakeIssue): string => {
  const fields = i.pull!;
  const pushed = fake.origin !== undefined && fields.merged === undefined ? originHead(fake.origin, fields.head) : undefined;
  return pushed ?? fields.headSha ?? refJson(fake, fields.head).sha;
};

/** What GitHub says of merging an open pull request: what the test set, else (with origin) a trial merge. */
function mergeability(fake: FakeRepo, i: FakeIssue): { mergeable: boolean; state: string } {
  const { mergeable, mergeableState, head, base } = i.pull!;
  if (mergeable !== undefined || fake.origin === undefined) return { mergeable: mergeable !== false, state: mergeableState ?? 'clean' };
  return mergesCleanly(fake.origin, base, head) ? { mergeable: true, state: mergeableState ?? 'clean' } : { mergeable: false, state: 'dirty' };
}

/** With origin: a 422 naming `field` when `branch` is not one of its branches. */
const missingBranch = (fake: FakeRepo, branch: string, field: 'head' | 'base') =>
  fake.origin !== undefined && originHead(fake.origin, branch) === undefined ? invalid([{ resource: 'PullRequest', field, code: 'invalid' }]) : undefined;

/** A pull request as GitHub lists it. */
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
  merged_at: i.pull!.merged?.at ?? null,
  merge_commit_sha: i.pull!.merged?.sha ?? null,
  assignee: null,
  assignees: [],
  requested_reviewers: [],
  head: { ...refJson(fake, i.pull!.head), sha: headShaOf(fake, i) },
  base: refJson(fake, i.pull!.base),
  author_association: i.authorAssociation,
  auto_merge: null,
  draft: i.pull!.draft,
});

/** One pull request, as `GET /pulls/{n}` answers it: the list's fields and the merge's. */
export const pullDetailJson = (fake: FakeRepo, i: FakeIssue) => {
  const { merged } = i.pull!;
  const open = i.state === 'open';
  // GitHub stops computing mergeability once a pull request is closed; null: still computing.
  const merge = open ? (i.pull!.mergeable === null ? { mergeable: null, state: i.pull!.mergeableState ?? 'clean' } : mergeability(fake, i)) : undefined;
  return {
    ...pullJson(fake, i),
    merged: merged !== undefined,
    mergeable: merge?.mergeable ?? null,
    rebaseable: open ? merge?.mergeable !== false : null,
    mergeable_state: merge?.state ?? 'unknown',
    merged_by: merged ? fake.userJson(merged.by) : null,
    comments: fake.state.comments.filter((c) => c.issue === i.number).length,
    review_comments: 0,
    maintainer_can_modify: false,
    commits: 1,
    additions: 1,
    deletions: 0,
    changed_files: 1,
  };
};

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
    labelHistory: [],
  };
  state.issues.set(pull.number, pull);
  return pull;
}

/** Pull requests (open or not) whose head is `branch`. */
export const pullsForHead = (fake: FakeRepo, branch: string): FakeIssue[] => [...fake.state.issues.values()].filter((i) => i.pull?.head === branch);

export function pullOrThrow(fake: FakeRepo, number: number): FakeIssue {
  const pull = fake.issueOrThrow(number);
  if (pull.pull === undefined) throw new Error(`fake GitHub: #${number} is not a pull request`);
  return pull;
}

export function setPullHead(fake: FakeRepo, number: number, sha: string): void {
  const pull = pullOrThrow(fake, number);
  pull.pull!.headSha = sha;
  pull.updatedAt = fake.now();
}

export function setPullMergeable(fake: FakeRepo, number: number, state: Parameters<FakeGitHub['setPullMergeable']>[1]): void {
  const { pull } = pullOrThrow(fake, number);
  if (state.mergeable !== undefined) pull!.mergeable = state.mergeable;
  if (state.mergeableState !== undefined) pull!.mergeableState = state.mergeableState;
  if (state.refuse === null) delete pull!.refuseMerge;
  else if (state.refuse !== undefined) pull!.refuseMerge = state.refuse;
}

export const pullsRoute: Route = async (fake, request) => {
  const { owner, state } = fake;
  const { method, url, parts, body } = request;
  const [a, b, c] = parts;
  if (a !== 'pulls') return undefined;
  if (b !== undefined) {
    const pull = /^\d+$/.test(b) ? state.issues.get(Number(b)) : undefined;
    if (pull?.pull === undefined) return notFound();
    if (c === 'merge') return mergeRoute(fake, pull, request);
    if (c !== undefined) return undefined;
    if (method === 'GET') return { status: 200, body: pullDetailJson(fake, pull) };
    if (method === 'PATCH') {
      const change = await body();
      if (change.base !== undefined) {
        if (typeof change.base !== 'string' || change.base === '') return invalid([{ resource: 'PullRequest', code: 'invalid', field: 'base' }]);
        if (pull.state === 'closed') {
          return { status: 422, body: { message: 'Cannot change the base branch of a closed pull request.', documentation_url: docs, status: '422' } };
        }
        const missing = missingBranch(fake, change.base, 'base');
        if (missing !== undefined) return missing;
        pull.pull.base = change.base;
      }
      if (typeof change.title === 'string') pull.title = change.title;
      if (typeof change.body === 'string') pull.body = change.body;
      pull.updatedAt = fake.now();
      return { status: 200, body: pullDetailJson(fake, pull) };
    }
    return undefined;
  }
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
    const missing = missingBranch(fake, head, 'head') ?? missingBranch(fake, baseRef, 'base');
    if (missing !== undefined) return missing;
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
