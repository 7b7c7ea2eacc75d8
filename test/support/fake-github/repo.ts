/**
 * The one repository the fake serves, as every resource module shares it: its state, ids and
 * GitHub-style timestamps (each one second after the last, so every change is visible), the
 * users and their association, and the URLs and user JSON every answer embeds.
 */
import { createHash } from 'node:crypto';
import type { AuthorAssociation } from '../../../src/issues/source.ts';
import type { FakeGitHubState, FakeIssue, FakeUser, FakeUserType } from './types.ts';

const epoch = Date.parse('2024-01-01T00:00:00Z');

export class FakeRepo {
  readonly owner: string;
  readonly repo: string;
  readonly state: FakeGitHubState;
  /** `http://127.0.0.1:port`, once the server listens. */
  base = '';
  /** Raw bodies travel as placeholders (one per issue) until the JSON text becomes bytes. */
  readonly raw = new Map<string, Buffer>();
  /** A bare git repository holding the repository's branches (origin.ts), when the test gave one. */
  readonly origin: string | undefined;
  #ids = 1000;
  #clock = 0;
  #nextNumber = 1;

  constructor(options: { owner: string; repo: string; defaultBranch?: string; dependencies?: boolean; origin?: string }) {
    const { owner, repo } = options;
    this.owner = owner;
    this.repo = repo;
    this.origin = options.origin;
    this.state = {
      owner,
      repo,
      defaultBranch: options.defaultBranch ?? 'main',
      private: false,
      viewer: { id: this.nextId(), login: 'miyabi-bot', type: 'User' },
      issues: new Map(),
      comments: [],
      events: [],
      labels: new Map(),
      collaborators: new Map(),
      users: new Map(),
      requests: [],
      faults: [],
      checkRuns: new Map(),
      statuses: new Map(),
      blockedBy: new Map(),
      dependencies: options.dependencies ?? true,
      rateLimit: { limit: 5000, remaining: 5000, resetAt: Date.now() + 3_600_000 },
      secondaryUntil: 0,
      permissionsReadable: true,
      clockFrozen: false,
    };
    const { state } = this;
    state.users.set(state.viewer.login, state.viewer);
    state.users.set(owner, { id: this.nextId(), login: owner, type: 'User' });
    state.collaborators.set(state.viewer.login, 'write');
    state.collaborators.set(owner, 'admin');
  }

  nextId(): number {
    return ++this.#ids;
  }

  /**
   * GitHub's timestamp format; each call one second later, so every change is visible — unless
   * the clock is frozen (`state.clockFrozen`): then every change shares one second, as changes
   * made within a second do on GitHub.
   */
  now(): string {
    if (!this.state.clockFrozen || this.#clock === 0) this.#clock += 1;
    return new Date(epoch + this.#clock * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  }

  /** Records the issue's labels as they are now (after a request or a test step changed them). */
  labelsChanged(issue: FakeIssue): void {
    issue.labelHistory.push([...issue.labels]);
  }

  /** Issues and pull requests share one sequence of numbers, as on GitHub. */
  nextNumber(): number {
    return this.#nextNumber++;
  }

  user(login: string, type?: FakeUserType): FakeUser {
    let found = this.state.users.get(login);
    if (found === undefined) {
      found = { id: this.nextId(), login, type: type ?? (login.endsWith('[bot]') ? 'Bot' : 'User') };
      this.state.users.set(login, found);
    }
    return found;
  }

  ownerUser(): FakeUser {
    return this.user(this.owner);
  }

  associationOf(login: string): AuthorAssociation {
    return login === this.owner ? 'OWNER' : this.state.collaborators.has(login) ? 'COLLABORATOR' : 'NONE';
  }

  /** A fake commit sha: 40 hex digits derived from `seed`. */
  sha(seed: string): string {
    return createHash('sha1').update(seed).digest('hex');
  }

  issueOrThrow(number: number): FakeIssue {
    const issue = this.state.issues.get(number);
    if (issue === undefined) throw new Error(`fake GitHub: no issue #${number}`);
    return issue;
  }

  api(path: string): string {
    return `${this.base}/repos/${this.owner}/${this.repo}${path}`;
  }

  html(path: string): string {
    return `https://github.com/${this.owner}/${this.repo}${path}`;
  }

  userJson(u: FakeUser) {
    return {
      login: u.login,
      id: u.id,
      node_id: `U_${u.id}`,
      avatar_url: `https://avatars.githubusercontent.com/u/${u.id}?v=4`,
      gravatar_id: '',
      url: `${this.base}/users/${encodeURIComponent(u.login)}`,
      html_url: `https://github.com/${encodeURIComponent(u.login)}`,
      type: u.type,
      site_admin: false,
    };
  }
}
