/**
 * GitHub's issue dependencies: `GET /repos/{o}/{r}/issues/{n}/dependencies/blocked_by`, the issues
 * that block issue n (issue objects, paginated), from the test's `setBlockedBy`. A blocker of
 * another repository is an issue object of that repository (its `repository_url` and `html_url`
 * name it). Started with `dependencies: false`, the fake answers 404 here, as a GitHub Enterprise
 * Server without the feature does.
 */
import { notFound, paginate, type Answer, type FakeRequest } from './http.ts';
import type { FakeRepo } from './repo.ts';
import type { FakeBlocker, FakeIssue } from './types.ts';

export function setBlockedBy(fake: FakeRepo, number: number, blockers: FakeBlocker[]): void {
  fake.issueOrThrow(number);
  fake.state.blockedBy.set(number, blockers.map((blocker) => ({ ...blocker })));
}

/** An issue of another repository, as GitHub embeds one. */
const foreignIssueJson = (fake: FakeRepo, repo: string, number: number) => ({
  url: `${fake.base}/repos/${repo}/issues/${number}`,
  repository_url: `${fake.base}/repos/${repo}`,
  html_url: `https://github.com/${repo}/issues/${number}`,
  id: number * 7907,
  node_id: `I_${repo}_${number}`,
  number,
  title: `${repo}#${number}`,
  user: fake.userJson(fake.ownerUser()),
  labels: [],
  state: 'open',
  locked: false,
  comments: 0,
  created_at: '2024-01-01T00:00:00Z',
  updated_at: '2024-01-01T00:00:00Z',
  closed_at: null,
  author_association: 'NONE',
  body: '',
  state_reason: null,
});

/** `…/issues/{n}/dependencies/blocked_by` of an issue that exists. */
export function issueDependenciesRoute(
  fake: FakeRepo,
  issue: FakeIssue,
  { method, url, parts }: FakeRequest,
  issueJson: (fake: FakeRepo, issue: FakeIssue) => unknown,
): Answer | undefined {
  const [, , c, d, e] = parts;
  if (c !== 'dependencies' || d !== 'blocked_by' || e !== undefined || method !== 'GET') return undefined;
  if (!fake.state.dependencies) return notFound();
  const here = `${fake.owner}/${fake.repo}`.toLowerCase();
  const items = (fake.state.blockedBy.get(issue.number) ?? []).map((blocker) => {
    const local = blocker.repo === undefined || blocker.repo.toLowerCase() === here ? fake.state.issues.get(blocker.number) : undefined;
    return local !== undefined ? issueJson(fake, local) : foreignIssueJson(fake, blocker.repo ?? `${fake.owner}/${fake.repo}`, blocker.number);
  });
  return paginate(fake, url, items);
}
