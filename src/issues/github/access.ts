/**
 * What the token may do and who may write: the preflight of `doctor` and `up` (the repository,
 * its issues and its pull requests can be read), a collaborator's write access (remembered for
 * a while), and the repository's default branch, learned once.
 */
import { IssueErrorCodes, IssueSourceError, gitHubStatus } from '../errors.ts';
import type { GitHubRepo } from './repo.ts';

const writeRoles = new Set(['admin', 'maintain', 'write']);

export class GitHubAccess {
  private readonly permissions = new Map<string, { hasWriteAccess: boolean; at: number }>();
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

  async hasWriteAccess(login: string): Promise<boolean> {
    const { now, permissionCacheMs } = this.options;
    const cached = this.permissions.get(login);
    if (cached !== undefined && now() - cached.at < permissionCacheMs) return cached.hasWriteAccess;
    let hasWriteAccess: boolean;
    try {
      const { data } = await this.github.octokit.request('GET /repos/{owner}/{repo}/collaborators/{username}/permission', {
        ...this.github.base,
        username: login,
      });
      hasWriteAccess = writeRoles.has(data.permission) || writeRoles.has(data.role_name);
    } catch (error) {
      if (gitHubStatus(error) !== 404) throw error;
      hasWriteAccess = false;
    }
    this.permissions.set(login, { hasWriteAccess, at: now() });
    return hasWriteAccess;
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
