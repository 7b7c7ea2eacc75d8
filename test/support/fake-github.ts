/**
 * A fake GitHub REST API on node:http (127.0.0.1, a free port) for tests that drive the real
 * octokit client through `baseUrl`. One repository, held in a mutable in-memory state, answered
 * with GitHub's own response shapes (snake_case, `html_url`, `user: { login, type }`, label
 * objects, `pull_request` on the pull requests the issues list includes).
 *
 * Implemented:
 *   GET  /user                                                the token's user (the viewer, `miyabi-bot`)
 *   GET  /repos/{o}/{r}                                       the repository
 *   GET  /repos/{o}/{r}/issues                                state, since, sort, direction, labels
 *   POST /repos/{o}/{r}/issues                                a new issue (title, body, labels), by the viewer
 *   GET  /repos/{o}/{r}/issues/{n}            PATCH …         an issue (or a pull request, as an issue);
 *                                                             PATCH state, title, body
 *   GET  /repos/{o}/{r}/issues/{n}/comments   POST …          comments
 *   GET  /repos/{o}/{r}/issues/{n}/events                     labeled / unlabeled events
 *   POST /repos/{o}/{r}/issues/{n}/labels                     add labels (unknown ones are created)
 *   PUT  /repos/{o}/{r}/issues/{n}/labels                     replace the labels, in one change
 *   DELETE /repos/{o}/{r}/issues/{n}/labels/{name}            404 when the issue does not have it
 *   GET  /repos/{o}/{r}/labels                POST …          repository labels (422 on a duplicate)
 *   GET  /repos/{o}/{r}/issues/{n}/dependencies/blocked_by    the issues that block it (404 when
 *                                                             started with `dependencies: false`)
 *   GET  /repos/{o}/{r}/pulls                 POST …          state, head (`owner:branch`), base;
 *                                                             422 on a second open PR for a head
 *   GET  /repos/{o}/{r}/pulls/{n}             PATCH …         one pull request (merged, mergeable,
 *                                                             mergeable_state); PATCH base/title/body
 *   PUT  /repos/{o}/{r}/pulls/{n}/merge       GET …           405 not mergeable or refused, 409 head
 *                                                             moved; merged closes what `Closes #N`
 *   GET  /repos/{o}/{r}/commits/{ref}/check-runs              check runs (one per name)
 *   GET  /repos/{o}/{r}/commits/{ref}/status                  the combined status
 *   GET  /repos/{o}/{r}/collaborators/{login}/permission      404 for a login it has never seen; 403
 *                                                             for all while permissions are unreadable
 *
 * Every list paginates (`per_page` default 30, max 100, `page`; `Link` with next/last/first/prev
 * as GitHub sends it). Every GET 200 carries a weak `ETag` of its body; a matching
 * `If-None-Match` answers 304 without a body (and without counting against the rate limit).
 * `x-ratelimit-*` headers on every answer, from a budget a test can set (`setRateLimit`): spent,
 * every request is refused (403, `x-ratelimit-remaining: 0`) until it resets; 401 "Bad
 * credentials" without the right token; 404 `{ message: 'Not Found' }` for everything else.
 *
 * Time: every change is one second after the last (`updated_at`), unless the clock is frozen
 * (`freezeClock`): then changes share one second, as GitHub's do within a second. Every set of
 * labels an issue showed is kept (`labelHistory`).
 *
 * Fault injection (`fail`): the next N requests (optionally only those matching a method, a
 * path and a query) answer 5xx, a secondary rate limit (403 + `retry-after`; `window`: every
 * request refused until it is over), a primary rate limit (403 +
 * `x-ratelimit-remaining: 0` + `x-ratelimit-reset`), a 403 naming the permissions it wants
 * (`x-accepted-github-permissions`), or drop the connection; or apply the request and lose the
 * answer (`answer_lost`: dropped, or a 5xx, after the write happened — what makes "the outcome
 * is unclear" testable). Every request is recorded (method, path, query, status, the status the
 * route gave when its answer was lost, when it arrived and whether it counted against the rate
 * limit) so a test can count what the client did and what it cost.
 *
 * Bodies can be raw bytes (`rawBody`), spliced into the JSON as is, to send text that is not
 * valid UTF-8. The bytes must not contain `"`, `\` or control characters.
 *
 * Git: given a bare repository (`origin`, the one the workspace's `origin` remote points at), the
 * branches are real — a pull request's head is its branch there, `mergeable` a trial merge, a
 * merge really made there by the method asked (its sha answered; 405 when it does not merge
 * cleanly), a pull request or base naming a branch it does not have refused (422). Without one,
 * shas are made up (a hash of the branch name, a fake merge commit).
 *
 * Test controls beyond the data: a pull request's head (`setPullHead`), what GitHub says of
 * merging it (`setPullMergeable`: mergeable, mergeable_state, a 405 message), check runs and
 * statuses per sha (`setCheckRun`, `setStatus`), and what blocks an issue (`setBlockedBy`).
 *
 * One module per resource under fake-github/: repository.ts, issues.ts, comments.ts, labels.ts
 * (with the label events), pulls.ts, merges.ts, checks.ts, dependencies.ts, collaborators.ts; faults.ts (faults and rate limits),
 * origin.ts (the bare repository's branches and merges), server.ts (recording, auth, ETags), http.ts (answers, pagination), repo.ts (the shared state,
 * ids, clock and users), types.ts. This file assembles them.
 */
import { checksRoute, setCheckRun, setStatus } from './fake-github/checks.ts';
import { addComment } from './fake-github/comments.ts';
import { collaboratorsRoute, setCollaborator } from './fake-github/collaborators.ts';
import { setBlockedBy } from './fake-github/dependencies.ts';
import { addFault } from './fake-github/faults.ts';
import { notFound, readBody, type Answer, type FakeRequest, type Route } from './fake-github/http.ts';
import { addIssue, closeIssue, issuesRoute } from './fake-github/issues.ts';
import { addLabel, labelsRoute, removeLabel, replaceLabels } from './fake-github/labels.ts';
import { addPull, pullsForHead, pullsRoute, setPullHead, setPullMergeable } from './fake-github/pulls.ts';
import { FakeRepo } from './fake-github/repo.ts';
import { repositoryRoute } from './fake-github/repository.ts';
import { serve } from './fake-github/server.ts';
import type { FakeGitHub } from './fake-github/types.ts';

export type * from './fake-github/types.ts';

/** In the order the real API is matched: the first that knows the request answers it. */
const routes: Route[] = [repositoryRoute, issuesRoute, labelsRoute, pullsRoute, checksRoute, collaboratorsRoute];

export async function startFakeGitHub(options: {
  owner: string;
  repo: string;
  token?: string;
  defaultBranch?: string;
  /** false: no issue dependencies (`…/dependencies/blocked_by` answers 404), as an older GitHub Enterprise Server. */
  dependencies?: boolean;
  /** A bare git repository holding the branches: pull requests' heads and merges are real there (fake-github/origin.ts). */
  origin?: string;
}): Promise<FakeGitHub> {
  const fake = new FakeRepo(options);
  const { state } = fake;
  const prefix = `/repos/${fake.owner}/${fake.repo}`;

  const server = await serve(fake, options.token, async (req, url): Promise<Answer> => {
    // Who the token is: the orchestra's comments are the ones this login wrote.
    if (url.pathname === '/user' && (req.method ?? 'GET') === 'GET') return { status: 200, body: fake.userJson(state.viewer) };
    if (url.pathname !== prefix && !url.pathname.startsWith(`${prefix}/`)) return notFound();
    const request: FakeRequest = {
      method: req.method ?? 'GET',
      url,
      parts: url.pathname.slice(prefix.length).split('/').filter(Boolean).map(decodeURIComponent),
      body: () => readBody(req),
    };
    for (const route of routes) {
      const answer = await route(fake, request);
      if (answer !== undefined) return answer;
    }
    return notFound();
  });

  let closing: Promise<void> | undefined;
  return {
    url: fake.base,
    state,
    user: (login, type) => fake.user(login, type),
    addIssue: (input) => addIssue(fake, input),
    addPull: (input) => addPull(fake, input),
    addComment: (issue, body, author) => addComment(fake, issue, body, fake.user(author ?? 'octocat')),
    labelIssue: (issue, label, actor, actorType) => {
      const found = fake.issueOrThrow(issue);
      if (addLabel(fake, found, label, fake.user(actor, actorType))) fake.labelsChanged(found);
    },
    unlabelIssue: (issue, label, actor) => {
      const found = fake.issueOrThrow(issue);
      if (removeLabel(fake, found, label, fake.user(actor))) fake.labelsChanged(found);
    },
    setLabels: (issue, labels, actor) => {
      const found = fake.issueOrThrow(issue);
      replaceLabels(fake, found, labels, fake.user(actor));
      fake.labelsChanged(found);
    },
    closeIssue: (number, reason) => closeIssue(fake, number, reason),
    setCollaborator: (login, role) => setCollaborator(fake, login, role),
    fail: (fault) => addFault(state, fault),
    setRateLimit: ({ remaining, resetInSeconds }) => void Object.assign(state.rateLimit, { remaining, resetAt: Date.now() + resetInSeconds * 1000 }),
    freezeClock: (frozen) => void (state.clockFrozen = frozen),
    requestsTo: (method, path) =>
      state.requests.filter(
        (r) => r.method === method.toUpperCase() && (typeof path === 'string' ? r.path.startsWith(path) : path.test(r.path)),
      ),
    commentCount: (issue) => state.comments.filter((c) => c.issue === issue).length,
    pullsForHead: (branch) => pullsForHead(fake, branch),
    setPullHead: (number, sha) => setPullHead(fake, number, sha),
    setPullMergeable: (number, merge) => setPullMergeable(fake, number, merge),
    setCheckRun: (sha, run) => setCheckRun(fake, sha, run),
    setStatus: (sha, status) => setStatus(fake, sha, status),
    setBlockedBy: (number, blockers) => setBlockedBy(fake, number, blockers),
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
