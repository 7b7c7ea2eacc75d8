/**
 * What the token may do and who may write: the preflight of `doctor` and `up` (the repository,
 * its issues and its pull requests can be read), a collaborator's write access (remembered for
 * a while), and the repository's default branch, learned once.
 *
 * A collaborator's write access is `GET /repos/{o}/{r}/collaborators/{login}/permission`, which
 * GitHub answers only to a token whose user has push access to the repository (a classic token:
 * the repo scope; a fine-grained token or a GitHub App: Metadata read). A token that may not read
 * it is not an outage: the access is unknown (`problem` names the request and what the token
 * lacks, logged once), remembered as such for the same while, and the trust gate decides without
 * it (a labeler on `workflow.trust.allow` is trusted anyway; another one is not judged yet).
 */
import { describeAcceptedPermissions, IssueErrorCodes, IssueSourceError, fromGitHubError, gitHubStatus } from '../errors.ts';
import type { GitHubRepo } from './repo.ts';

const writeRoles = new Set(['admin', 'maintain', 'write']);

export interface WriteAccess {
  /** Undefined when GitHub would not say (`problem`). */
  hasWriteAccess: boolean | undefined;
  problem?: string;
}

export class GitHubAccess {
  private readonly permissions = new Map<string, WriteAccess & { at: number }>();
  private problemLogged = false;
  private defaultBranch: string | undefined;
  private viewerLogin: Promise<string | undefined> | undefined;

  constructor(
    private readonly github: GitHubRepo,
    private readonly options: { permissionCacheMs: number; now: () => number },
  ) {}

  /**
   * Preflight for `doctor` and `up`: the token can see the repository and read its issues and
   * pull requests. Throws an IssueSourceError naming the repository (404), the token (401) or
   * the permission missing (403, from GitHub's `x-accepted-github-permissions`).
   */
  async checkAccess(): Promise<{ fullName: string; defaultBranch: string; private: boolean }> {
    const { github } = this;
    github.assertOpen();
    let repository: { full_name: string; default_branch: string; private: boolean };
    try {
      repository = (await github.octokit.request('GET /repos/{owner}/{repo}', github.base)).data;
    } catch (error) {
      if (gitHubStatus(error) === 404) {
        throw new IssueSourceError(
          IssueErrorCodes.GitHubRepoNotFound,
          `repository ${github.repository} not found, or the token cannot see it (a fine-grained token must list the repository and have Metadata: read)`,
          { cause: error, status: 404 },
        );
      }
      throw github.errorOf(error, `reading repository ${github.repository}`);
    }
    this.defaultBranch = repository.default_branch;
    await github.call('reading the issues', () =>
      github.octokit.request('GET /repos/{owner}/{repo}/issues', { ...github.base, per_page: 1 }),
    );
    await github.call('reading the pull requests', () =>
      github.octokit.request('GET /repos/{owner}/{repo}/pulls', { ...github.base, per_page: 1 }),
    );
    return { fullName: repository.full_name, defaultBranch: repository.default_branch, private: repository.private };
  }

  /**
   * The login the token acts as (`GET /user`), learned once; undefined when GitHub will not say
   * (an app's installation token answers 403: configure `issues.github.login` for it).
   */
  viewer(): Promise<string | undefined> {
    this.viewerLogin ??= this.github.octokit.request('GET /user').then(
      ({ data }) => data.login,
      (error: unknown) => {
        const status = gitHubStatus(error);
        // A refusal is the answer (an app's token): asked once. An outage: asked again next time.
        if (status === undefined || status >= 500) this.viewerLogin = undefined;
        else this.github.logger.warn({ status }, 'GitHub will not say who the token is (GET /user): own comments are recognised by their signature alone; set issues.github.login');
        return undefined;
      },
    );
    return this.viewerLogin;
  }

  /** Whether `login` may write to the repository; unknown (with the reason) when the token may not read it. */
  async writeAccess(login: string): Promise<WriteAccess> {
    const { now, permissionCacheMs } = this.options;
    const cached = this.permissions.get(login);
    if (cached !== undefined && now() - cached.at < permissionCacheMs) return cached;
    let access: WriteAccess;
    try {
      const { data } = await this.github.octokit.request('GET /repos/{owner}/{repo}/collaborators/{username}/permission', {
        ...this.github.base,
        username: login,
      });
      access = { hasWriteAccess: writeRoles.has(data.permission) || writeRoles.has(data.role_name) };
    } catch (error) {
      const status = gitHubStatus(error);
      if (status === 404) access = { hasWriteAccess: false };
      else if (status === 403 && !isRateLimit(error)) access = { hasWriteAccess: undefined, problem: this.permissionProblem(login, error) };
      else throw error;
    }
    this.permissions.set(login, { ...access, at: now() });
    return access;
  }

  /** The 403 of the permission lookup in words: the request, GitHub's answer, what the token needs. */
  private permissionProblem(login: string, error: unknown): string {
    const { github } = this;
    const response = (error as { response?: { headers?: Record<string, unknown>; data?: { message?: unknown } } }).response;
    const accepted = response?.headers?.['x-accepted-github-permissions'];
    const message = typeof response?.data?.message === 'string' ? response.data.message : 'Forbidden';
    const needs =
      typeof accepted === 'string' && accepted.trim() !== ''
        ? describeAcceptedPermissions(accepted)
        : 'a user with push access to the repository (a classic token: the repo scope; a fine-grained token or a GitHub App: Metadata read)';
    const problem =
      `the token may not read ${login}'s permission on ${github.repository} ` +
      `(GET /repos/${github.owner}/${github.repo}/collaborators/${login}/permission answered 403 ${message}): ` +
      `the trust gate needs it to tell who may apply the trigger label; it needs ${needs}`;
    if (!this.problemLogged) {
      this.problemLogged = true;
      github.logger.warn({ repository: github.repository, status: 403 }, problem);
    }
    return problem;
  }

  async repositoryDefaultBranch(): Promise<string> {
    this.defaultBranch ??= (await this.github.octokit.request('GET /repos/{owner}/{repo}', this.github.base)).data.default_branch;
    return this.defaultBranch;
  }

  /** Drops the remembered permissions (the source is closed). */
  forget(): void {
    this.permissions.clear();
  }
}

/** A 403 that is a rate limit (the client waits those out), not a refusal. */
function isRateLimit(error: unknown): boolean {
  const failure = error as { message?: string; response?: { headers?: Record<string, unknown> } };
  return String(failure.response?.headers?.['x-ratelimit-remaining']) === '0' || /rate limit/i.test(failure.message ?? '');
}
