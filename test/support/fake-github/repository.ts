/**
 * The repository itself: `GET /repos/{o}/{r}` (its default branch, visibility and the viewer's
 * permissions), and the JSON of a branch of it as pull requests embed it: its sha read from the
 * bare repository when the fake has one, else a hash of its name.
 */
import { createHash } from 'node:crypto';
import { permissionsOf } from './collaborators.ts';
import type { Route } from './http.ts';
import { originHead } from './origin.ts';
import type { FakeRepo } from './repo.ts';

export const repoJson = (fake: FakeRepo) => {
  const { owner, repo, state } = fake;
  return {
    id: 1296269,
    node_id: 'R_1296269',
    name: repo,
    full_name: `${owner}/${repo}`,
    owner: fake.userJson(fake.ownerUser()),
    private: state.private,
    html_url: fake.html(''),
    description: null,
    fork: false,
    url: fake.api(''),
    default_branch: state.defaultBranch,
    visibility: state.private ? 'private' : 'public',
    has_issues: true,
    open_issues_count: [...state.issues.values()].filter((i) => i.state === 'open').length,
    permissions: permissionsOf(state.collaborators.get(state.viewer.login)),
    created_at: '2011-01-26T19:01:12Z',
    updated_at: '2011-01-26T19:14:43Z',
    pushed_at: '2011-01-26T19:06:43Z',
  };
};

export const refJson = (fake: FakeRepo, branch: string) => ({
  label: `${fake.owner}:${branch}`,
  ref: branch,
  sha: (fake.origin === undefined ? undefined : originHead(fake.origin, branch)) ?? createHash('sha1').update(branch).digest('hex'),
  user: fake.userJson(fake.ownerUser()),
  repo: repoJson(fake),
});

export const repositoryRoute: Route = (fake, { method, parts }) =>
  parts.length === 0 && method === 'GET' ? { status: 200, body: repoJson(fake) } : undefined;
