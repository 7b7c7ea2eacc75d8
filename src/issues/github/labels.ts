/**
 * The labels resource of the github source: who applied a label (the issue's events, read
 * conditionally, and that login's write access), one label of a family at a time on an issue, and
 * the repository's labels created when missing (a 422 "already exists" is fine).
 *
 * One label of a family at a time: the issue is read, then its labels are replaced with one `PUT
 * …/issues/{n}/labels` — the family's other labels gone, the new one there, every label that is
 * not the family's kept as read. The issue never shows two of the family, nor none between two
 * (an add then a removal would show both for as long as the writes are spaced). The PUT replaces
 * the whole set, so a label someone adds between the read and the PUT (milliseconds apart, one
 * write at a time per issue here) would be lost: the window is that of one round trip.
 */
import { IssueErrorCodes, IssueSourceError, gitHubStatus } from '../errors.ts';
import type { LabelSpec, Labeler } from '../source.ts';
import type { GitHubAccess } from './access.ts';
import { isBotUser, toTrackedIssue, type GitHubIssues } from './issues.ts';
import { ConditionalLists } from './pages.ts';
import type { GitHubRepo } from './repo.ts';

interface EventJson {
  event?: string;
  label?: { name?: string };
  actor?: { login?: string; type?: string } | null;
}

export class GitHubLabels {
  /** Each issue's events, by ETag: asked again after the issue changed, a 304 when no label moved. */
  private readonly events: ConditionalLists;

  constructor(
    private readonly github: GitHubRepo,
    private readonly issues: GitHubIssues,
    private readonly access: GitHubAccess,
  ) {
    this.events = new ConditionalLists(github);
  }

  async labeler(number: number, label: string): Promise<Labeler | undefined> {
    const { github } = this;
    return github.call(`reading who labeled #${number} ${label}`, async () => {
      let events: EventJson[];
      try {
        const { owner, repo } = github;
        events = await this.events.read<EventJson>(
          `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}/issues/${number}/events?per_page=${github.perPage}`,
        );
      } catch (error) {
        if (gitHubStatus(error) === 404 || gitHubStatus(error) === 410) return undefined;
        throw error;
      }
      const wanted = label.toLowerCase();
      const event = events.findLast((e) => e.event === 'labeled' && e.label?.name?.toLowerCase() === wanted);
      if (event === undefined) return undefined;
      const login = event.actor?.login;
      if (login === undefined) return { login: 'ghost', isBot: false, hasWriteAccess: false };
      const access = await this.access.writeAccess(login);
      return { login, isBot: isBotUser(event.actor), hasWriteAccess: access.hasWriteAccess, ...(access.problem ? { accessProblem: access.problem } : {}) };
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
        const kept = current.filter((name) => !family.some((f) => same(f, name)) || (label !== undefined && same(name, label)));
        const wanted = label === undefined || kept.some((name) => same(name, label)) ? kept : [...kept, label];
        if (wanted.length === current.length && wanted.every((name, index) => name === current[index])) return;
        await github.octokit.request('PUT /repos/{owner}/{repo}/issues/{issue_number}/labels', {
          ...github.base,
          issue_number: number,
          labels: wanted,
        });
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
