/**
 * Merging a pull request: `PUT /repos/{o}/{r}/pulls/{n}/merge` (and `GET`: 204 when merged, 404
 * when not), as GitHub answers it:
 *
 *   405  "Pull Request is not mergeable": closed, already merged, or `mergeable: false`; or the
 *        message the test gave (`setPullMergeable(n, { refuse })`, a protected branch, say)
 *   409  "Head branch was modified. Review and try the merge again.": `sha` is not the head
 *   422  a `merge_method` other than merge, squash or rebase
 *   200  `{ sha, merged: true, message }`: the pull request is merged (a fake 40-hex merge commit),
 *        closed, and — merged into the default branch, as GitHub does it — the issues its body
 *        closes (`Closes #N`, `fixes #N` …) are closed as completed
 *
 * Without origin, a pull request whose head sha the test never set adopts the `sha` of the first
 * merge request. With a bare repository as origin (origin.ts) the merge is real: the head is its
 * branch there, the merge is made in it by the method asked (the commit title and message as
 * GitHub writes them), the answer is the commit the base branch ends at, and a head that does not
 * merge cleanly is refused (405 "Pull Request is not mergeable").
 */
import { closeIssue } from './issues.ts';
import { docs, invalid, type Answer, type FakeRequest } from './http.ts';
import { mergeInOrigin, originHead, type MergeMethod } from './origin.ts';
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
  if (fake.origin === undefined) fields.headSha ??= wanted ?? refJson(fake, fields.head).sha;
  const head = fake.origin === undefined ? fields.headSha! : (originHead(fake.origin, fields.head) ?? fields.headSha ?? refJson(fake, fields.head).sha);
  if (wanted !== undefined && wanted !== head) {
    return { status: 409, body: { message: 'Head branch was modified. Review and try the merge again.', documentation_url: docs, status: '409' } };
  }
  const title = typeof request.commit_title === 'string' ? request.commit_title : `Merge pull request #${pull.number} from ${fake.owner}/${fields.head}`;
  const message = typeof request.commit_message === 'string' ? `${title}\n\n${request.commit_message}` : title;
  let sha: string | undefined;
  if (fake.origin !== undefined) {
    const merged = mergeInOrigin(fake.origin, { base: fields.base, headSha: head, method: mergeMethod as MergeMethod, message });
    if ('conflict' in merged) return refused('Pull Request is not mergeable');
    sha = merged.sha;
    // What was merged stays the head GitHub shows, whatever the branch does afterwards.
    fields.headSha = head;
  }
  const at = fake.now();
  sha ??= fake.sha(`merge ${pull.number} ${head} ${mergeMethod} ${at}`);
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
  for (const number of fields.base === fake.state.defaultBranch ? closedByBody(pull.body ?? '') : []) {
    const issue = fake.state.issues.get(number);
    if (issue !== undefined && issue.pull === undefined && issue.state === 'open') closeIssue(fake, number);
  }
  return { status: 200, body: { sha, merged: true, message: 'Pull Request successfully merged' } };
}
