/**
 * CI on a commit: check runs (`GET /repos/{o}/{r}/commits/{ref}/check-runs`: `{ total_count,
 * check_runs }`, paginated, one run per name: a test's `setCheckRun` replaces the run of that
 * name) and commit statuses (`GET …/commits/{ref}/status`: the combined status, its `statuses`
 * the newest of each context, paginated, and the combined `state`: failure when one failed or
 * errored, pending when one is pending or there is none, else success). `ref` is the sha the
 * test used.
 */
import { paginate, type Route } from './http.ts';
import type { FakeRepo } from './repo.ts';
import type { FakeCheckRun, FakeGitHub, FakeStatus } from './types.ts';

export function setCheckRun(fake: FakeRepo, sha: string, input: Parameters<FakeGitHub['setCheckRun']>[1]): FakeCheckRun {
  const status = input.status ?? (input.conclusion ? 'completed' : 'queued');
  const at = fake.now();
  const run: FakeCheckRun = {
    id: fake.nextId(),
    name: input.name,
    status,
    conclusion: status === 'completed' ? (input.conclusion ?? 'success') : null,
    output: { title: input.output?.title ?? null, summary: input.output?.summary ?? null, text: input.output?.text ?? null },
    ...(input.detailsUrl !== undefined ? { detailsUrl: input.detailsUrl } : {}),
    startedAt: at,
    completedAt: status === 'completed' ? at : null,
  };
  const runs = (fake.state.checkRuns.get(sha) ?? []).filter((other) => other.name !== run.name);
  fake.state.checkRuns.set(sha, [...runs, run]);
  return run;
}

export function setStatus(fake: FakeRepo, sha: string, input: Parameters<FakeGitHub['setStatus']>[1]): FakeStatus {
  const status: FakeStatus = {
    id: fake.nextId(),
    context: input.context,
    state: input.state,
    description: input.description ?? null,
    targetUrl: input.targetUrl ?? null,
    createdAt: fake.now(),
  };
  fake.state.statuses.set(sha, [...(fake.state.statuses.get(sha) ?? []), status]);
  return status;
}

const checkRunJson = (fake: FakeRepo, sha: string, run: FakeCheckRun) => ({
  id: run.id,
  head_sha: sha,
  node_id: `CR_${run.id}`,
  external_id: '',
  url: `${fake.base}/repos/${fake.owner}/${fake.repo}/check-runs/${run.id}`,
  html_url: fake.html(`/runs/${run.id}`),
  details_url: run.detailsUrl ?? fake.html(`/runs/${run.id}`),
  status: run.status,
  conclusion: run.conclusion,
  started_at: run.startedAt,
  completed_at: run.completedAt,
  output: { ...run.output, annotations_count: 0, annotations_url: `${fake.base}/repos/${fake.owner}/${fake.repo}/check-runs/${run.id}/annotations` },
  name: run.name,
  check_suite: { id: run.id + 1 },
  app: { id: 15368, slug: 'github-actions', name: 'GitHub Actions' },
  pull_requests: [],
});

const statusJson = (fake: FakeRepo, status: FakeStatus) => ({
  url: `${fake.base}/repos/${fake.owner}/${fake.repo}/statuses/${status.id}`,
  avatar_url: 'https://avatars.githubusercontent.com/u/0?v=4',
  id: status.id,
  node_id: `SC_${status.id}`,
  state: status.state,
  description: status.description,
  target_url: status.targetUrl,
  context: status.context,
  created_at: status.createdAt,
  updated_at: status.createdAt,
  creator: fake.userJson(fake.ownerUser()),
});

/** The newest status of each context, newest first. */
const newestPerContext = (statuses: readonly FakeStatus[]): FakeStatus[] => {
  const seen = new Set<string>();
  return [...statuses].reverse().filter((status) => !seen.has(status.context) && seen.add(status.context));
};

export const checksRoute: Route = (fake, { method, url, parts }) => {
  const [a, ref, c, d] = parts;
  if (a !== 'commits' || ref === undefined || d !== undefined || method !== 'GET') return undefined;
  if (c === 'check-runs') {
    const runs = (fake.state.checkRuns.get(ref) ?? []).map((run) => checkRunJson(fake, ref, run));
    const page = paginate(fake, url, runs);
    return { ...page, body: { total_count: runs.length, check_runs: page.body } };
  }
  if (c === 'status') {
    const statuses = newestPerContext(fake.state.statuses.get(ref) ?? []);
    const state = statuses.some((s) => s.state === 'failure' || s.state === 'error')
      ? 'failure'
      : statuses.length === 0 || statuses.some((s) => s.state === 'pending')
        ? 'pending'
        : 'success';
    const page = paginate(fake, url, statuses.map((status) => statusJson(fake, status)));
    return {
      ...page,
      body: {
        state,
        statuses: page.body,
        sha: ref,
        total_count: statuses.length,
        repository: { id: 1296269, full_name: `${fake.owner}/${fake.repo}` },
        commit_url: `${fake.base}/repos/${fake.owner}/${fake.repo}/commits/${ref}`,
        url: `${fake.base}/repos/${fake.owner}/${fake.repo}/commits/${ref}/status`,
      },
    };
  }
  return undefined;
};
