/**
 * Merging a pull request: `PUT /repos/{o}/{r}/pulls/{n}/merge` (and `GET`: 204 when merged, 404
 * when not), as GitHub answers it:
 *
 *   405  "Pull Request is not mergeable": closed, already merged, or `mergeable: false`; or the
 *        message the test gave (`setPullMergeable(n, { refuse })`, a protected branch, say)
 *   409  "Head branch was modified. Review and try the merge again.": `sha` is not the head
 *   422  a `merge_method` other than merge, squash or rebase
 *   200  `{ sha, merged: true, message }`: the pull request is merged (a fake 40-hex merge commit),
 *        closed, and the issues its body closes (`Closes #N`, `fixes #N` …) are closed as completed
 *
 * A pull request whose head sha the test never set adopts the `sha` of the first merge request.
 */
import { closeIssue } from './issues.ts';
import { docs, invalid, type Answer, type FakeRequest } from './http.ts';
import type { FakeRepo } from './repo.ts';
import { refJson } from './repository.ts';
import type { FakeIssue } from './types.ts';

const methods = new Set(['merge', 'squash', 'rebase']);

/** The issue numbers a pull request body closes, as GitHub reads its closing keywords. */
export function closedByBody(body: string): number[] {
  const numbers = [...body.matchAll(/\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\s*:?\s+#(\d+)\b/gi)].map((match) => Number(match[1]));
  return [...new Set(numbers)];
}

const refused = (message: string): Answer => ({ status: 405, body: { message, documentation_url: docs, status: '405' } });

/** `…/pulls/{n}/merge` of a pull request that exists. */
export async function mergeRoute(fake: FakeRepo, pull: FakeIssue, { method, body }: FakeRequest): Promise<Answer | undefined> {
  const fields = pull.pull!;
  if (method === 'GET') return fields.merged ? { status: 204 } : { status: 404, body: { message: 'Not Found', documentation_url: docs, status: '404' } };
  if (method !== 'PUT') return undefined;
  const request = await body();
  const mergeMethod = request.merge_method ?? 'merge';
  if (typeof mergeMethod !== 'string' || !methods.has(mergeMethod)) {
    return invalid([{ resource: 'PullRequest', code: 'invalid', field: 'merge_method' }]);
  }
  if (pull.state === 'closed' || fields.merged !== undefined || fields.mergeable === false) return refused('Pull Request is not mergeable');
  if (fields.refuseMerge !== undefined) return refused(fields.refuseMerge);
  const wanted = typeof request.sha === 'string' ? request.sha : undefined;
  fields.headSha ??= wanted ?? refJson(fake, fields.head).sha;
  if (wanted !== undefined && wanted !== fields.headSha) {
    return { status: 409, body: { message: 'Head branch was modified. Review and try the merge again.', documentation_url: docs, status: '409' } };
  }
  const at = fake.now();
  const sha = fake.sha(`merge ${pull.number} ${fields.headSha} ${mergeMethod} ${at}`);
  fields.merged = {
    at,
    sha,
    method: mergeMethod,
    ...(typeof request.commit_title === 'string' ? { title: request.commit_title } : {}),
    ...(typeof request.commit_message === 'string' ? { message: request.commit_message } : {}),
    by: fake.state.viewer,
  };
  pull.state = 'closed';
  pull.closedAt = at;
  pull.updatedAt = at;
  for (const number of closedByBody(pull.body ?? '')) {
    const issue = fake.state.issues.get(number);
    if (issue !== undefined && issue.pull === undefined && issue.state === 'open') closeIssue(fake, number);
  }
  return { status: 200, body: { sha, merged: true, message: 'Pull Request successfully merged' } };
}
