/**
 * Comments: `GET` and `POST /repos/{o}/{r}/issues/{n}/comments` (a post is by the viewer, the
 * token's user), and a test's own comments by anyone.
 */
import { invalid, paginate, type Answer, type FakeRequest } from './http.ts';
import type { FakeRepo } from './repo.ts';
import type { FakeComment, FakeIssue, FakeUser } from './types.ts';

export const addComment = (fake: FakeRepo, number: number, body: string, author: FakeUser): FakeComment => {
  const issue = fake.issueOrThrow(number);
  const comment: FakeComment = {
    id: fake.nextId(),
    issue: number,
    body,
    user: author,
    authorAssociation: fake.associationOf(author.login),
    createdAt: fake.now(),
  };
  fake.state.comments.push(comment);
  issue.updatedAt = comment.createdAt;
  return comment;
};

const commentJson = (fake: FakeRepo, c: FakeComment) => ({
  url: fake.api(`/issues/comments/${c.id}`),
  html_url: fake.html(`/issues/${c.issue}#issuecomment-${c.id}`),
  issue_url: fake.api(`/issues/${c.issue}`),
  id: c.id,
  node_id: `IC_${c.id}`,
  user: fake.userJson(c.user),
  created_at: c.createdAt,
  updated_at: c.createdAt,
  author_association: c.authorAssociation,
  body: c.body,
  reactions: { url: fake.api(`/issues/comments/${c.id}/reactions`), total_count: 0 },
  performed_via_github_app: null,
});

/** `…/issues/{n}/comments` of an issue that exists. */
export async function issueCommentsRoute(fake: FakeRepo, issue: FakeIssue, { method, url, parts, body }: FakeRequest): Promise<Answer | undefined> {
  const { state } = fake;
  const [, , c, d] = parts;
  if (c !== 'comments' || d !== undefined) return undefined;
  if (method === 'GET') return paginate(fake, url, state.comments.filter((x) => x.issue === issue.number).map((x) => commentJson(fake, x)));
  if (method === 'POST') {
    const request = await body();
    if (typeof request.body !== 'string') return invalid([{ resource: 'IssueComment', code: 'missing_field', field: 'body' }]);
    return { status: 201, body: commentJson(fake, addComment(fake, issue.number, request.body, state.viewer)) };
  }
  return undefined;
}
