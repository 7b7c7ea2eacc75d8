/**
 * The github source's issues about the orchestra's own health (`notify.githubIssues`). One open
 * issue per problem key: its body starts with a hidden marker naming the key, and before an issue
 * is opened the open issues carrying the label are read for one the orchestra's login wrote with
 * that marker — so a restarted orchestra, or an open whose answer was lost, never opens a second.
 * Comments go through the comments resource (once per comment key); closing is a last comment and
 * `state: closed`.
 */
import type { HealthIssueTracker } from '../source.ts';
import type { GitHubComments } from './comments.ts';
import type { GitHubRepo } from './repo.ts';

export function healthMarker(key: string): string {
  return `<!-- miyabi-health:key=${encodeURIComponent(key)} -->`;
}

const MARKER = /^<!-- miyabi-health:key=(\S*) -->/;

export class GitHubHealthIssues implements HealthIssueTracker {
  constructor(
    private readonly github: GitHubRepo,
    private readonly comments: GitHubComments,
    private readonly label: string,
    private readonly login: () => Promise<string | undefined>,
  ) {}

  open(key: string, title: string, body: string): Promise<number> {
    const { github } = this;
    return github.serialized(`health:${key}`, () =>
      github.call(`opening the health issue of ${key}`, async () => {
        const found = await this.find(key);
        if (found !== undefined) return found;
        await github.createOnce(
          // Not retried by the client: a lost answer is looked for (createOnce) before another try.
          () =>
            github.octokit.request('POST /repos/{owner}/{repo}/issues', {
              ...github.base,
              title,
              body: `${healthMarker(key)}\n${body}`,
              labels: [this.label],
              request: { retries: 0 },
            }),
          async () => (await this.find(key)) !== undefined,
        );
        const opened = await this.find(key);
        if (opened === undefined) throw new Error(`the health issue of ${key} was opened but is not listed`);
        return opened;
      }),
    );
  }

  async comment(number: number, commentKey: string, body: string): Promise<void> {
    await this.comments.comment(number, commentKey, body);
  }

  async close(number: number, commentKey: string, body: string): Promise<void> {
    await this.comments.comment(number, commentKey, body);
    const { github } = this;
    await github.call(`closing health issue #${number}`, () =>
      github.octokit.request('PATCH /repos/{owner}/{repo}/issues/{issue_number}', { ...github.base, issue_number: number, state: 'closed', state_reason: 'completed' }),
    );
  }

  listOpen(): Promise<Array<{ key: string; number: number }>> {
    return this.github.call('listing the open health issues', () => this.own());
  }

  /** The open issue with the label, the marker of `key` and the orchestra's login as its author. */
  private async find(key: string): Promise<number | undefined> {
    return (await this.own()).find((issue) => issue.key === key)?.number;
  }

  /** The open issues with the label, a marker, and the orchestra's login as their author. */
  private async own(): Promise<Array<{ key: string; number: number }>> {
    const { github } = this;
    const login = await this.login();
    const issues = await github.octokit.paginate('GET /repos/{owner}/{repo}/issues', { ...github.base, state: 'open', labels: this.label, per_page: github.perPage });
    return issues.flatMap((issue) => {
      const found = MARKER.exec(issue.body ?? '');
      if (found === null || (login !== undefined && issue.user?.login !== login)) return [];
      try {
        return [{ key: decodeURIComponent(found[1]!), number: issue.number }];
      } catch {
        return []; // not a marker the orchestra wrote
      }
    });
  }
}
