/**
 * The labels resource of the github source: who applied a label (the issue's events, and that
 * login's write access), one label of a family at a time on an issue (added first, then the
 * family's others removed; a 404 on removal is fine), and the repository's labels created when
 * missing (a 422 "already exists" is fine).
 */
import { IssueErrorCodes, IssueSourceError, gitHubStatus } from '../errors.ts';
import type { LabelSpec, Labeler } from '../source.ts';
import type { GitHubAccess } from './access.ts';
import { isBotUser, toTrackedIssue, type GitHubIssues } from './issues.ts';
import type { GitHubRepo } from './repo.ts';

export class GitHubLabels {
  constructor(
    private readonly github: GitHubRepo,
    private readonly issues: GitHubIssues,
    private readonly access: GitHubAccess,
  ) {}

  async labeler(number: number, label: string): Promise<Labeler | undefined> {
    const { github } = this;
    return github.call(`reading who labeled #${number} ${label}`, async () => {
      let events: Array<{ event?: string; label?: { name?: string }; actor?: { login?: string; type?: string } | null }>;
      try {
        events = await github.octokit.paginate('GET /repos/{owner}/{repo}/issues/{issue_number}/events', {
          ...github.base,
          issue_number: number,
          per_page: github.perPage,
        });
      } catch (error) {
        if (gitHubStatus(error) === 404 || gitHubStatus(error) === 410) return undefined;
        throw error;
      }
      const wanted = label.toLowerCase();
      const event = events.findLast((e) => e.event === 'labeled' && e.label?.name?.toLowerCase() === wanted);
      if (event === undefined) return undefined;
      const login = event.actor?.login;
      if (login === undefined) return { login: 'ghost', isBot: false, hasWriteAccess: false };
      return { login, isBot: isBotUser(event.actor), hasWriteAccess: await this.access.hasWriteAccess(login) };
    });
  }

  async setExclusiveLabel(number: number, family: readonly string[], label: string | undefined): Promise<void> {
    const { github } = this;
    return github.call(`setting ${label ?? 'no label'} of [${family.join(', ')}] on #${number}`, () =>
      github.serialized(`labels:${number}`, async () => {
        const issue = await this.issues.issueJson(number);
        if (issue === undefined) {
          throw new IssueSourceError(IssueErrorCodes.GitHubNotFound, `issue ${github.repository}#${number} not found`, { status: 404 });
        }
        const current = toTrackedIssue(issue).labels;
        const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
        if (label !== undefined && !current.some((name) => same(name, label))) {
          await github.octokit.request('POST /repos/{owner}/{repo}/issues/{issue_number}/labels', {
            ...github.base,
            issue_number: number,
            labels: [label],
          });
        }
        const stale = current.filter((name) => family.some((f) => same(f, name)) && (label === undefined || !same(name, label)));
        for (const name of stale) {
          try {
            await github.octokit.request('DELETE /repos/{owner}/{repo}/issues/{issue_number}/labels/{name}', {
              ...github.base,
              issue_number: number,
              name,
            });
          } catch (error) {
            if (gitHubStatus(error) !== 404) throw error;
          }
        }
      }),
    );
  }

  async syncLabels(labels: readonly LabelSpec[]): Promise<{ created: string[] }> {
    const { github } = this;
    return github.call('creating the missing labels', async () => {
      const existing = await github.octokit.paginate('GET /repos/{owner}/{repo}/labels', { ...github.base, per_page: github.perPage });
      const names = new Set(existing.map((label) => label.name.toLowerCase()));
      const created: string[] = [];
      for (const spec of labels) {
        if (names.has(spec.name.toLowerCase())) continue;
        try {
          await github.octokit.request('POST /repos/{owner}/{repo}/labels', {
            ...github.base,
            name: spec.name,
            color: spec.color.replace(/^#/, ''),
            description: spec.description,
          });
          created.push(spec.name);
        } catch (error) {
          if (gitHubStatus(error) !== 422) throw error;
        }
        names.add(spec.name.toLowerCase());
      }
      if (created.length > 0) github.logger.info({ repository: github.repository, labels: created }, 'created labels');
      return { created };
    });
  }
}
