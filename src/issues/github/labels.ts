/**
 * The labels resource of the github source: who applied a label (the issue's events, read
 * conditionally, and that login's write access), one label of a family at a time on an issue, and
 * the repository's labels created when missing (a 422 "already exists" is fine).
 *
 * One label of a family at a time: the issue is read, then its labels are replaced with one `PUT
 * …/issues/{n}/labels` — the family's other labels gone, the new one there, every label that is
 * not the family's kept as read. The issue never shows two of the family, nor none between two
 * (an add then a removal would show both for as long as the writes are spaced).
 *
 * The PUT replaces the whole set, so a label someone adds between the read and the PUT would go
 * with it. So after the PUT the issue's events are read (conditionally, the same list `labeler`
 * reads: the watcher's next lookup is then a 304) and a label that is not the family's, applied
 * by someone else and then removed by the token's own user since the read — never on purpose —
 * is put back (`POST`, which adds without replacing). Who applied a label put back that way is
 * still who applied it first: an `unlabeled` then `labeled` pair by the token's user is passed
 * over (`appliedBy`), so a label the orchestra restored never vouches for an issue in its name.
 * The token's user is `issues.github.login`, or what `GET /user` says; a token named by neither
 * (an App's, no login) gets no such repair.
 */
import { IssueErrorCodes, IssueSourceError, gitHubStatus } from '../errors.ts';
import type { LabelSpec, Labeler } from '../source.ts';
import type { GitHubAccess } from './access.ts';
import { isBotUser, toTrackedIssue, type GitHubIssues } from './issues.ts';
import { ConditionalLists } from './pages.ts';
import type { GitHubRepo } from './repo.ts';

export interface EventJson {
  id?: number;
  event?: string;
  created_at?: string;
  label?: { name?: string };
  actor?: { login?: string; type?: string } | null;
}

export class GitHubLabels {
  /** Each issue's events, by ETag: asked again after the issue changed, a 304 when no label moved. */
  private readonly events: ConditionalLists;
  /** Issues whose last PUT was not checked for labels it dropped, and since when (GitHub's clock). */
  private readonly unchecked = new Map<number, string>();

  constructor(
    private readonly github: GitHubRepo,
    private readonly issues: GitHubIssues,
    private readonly access: GitHubAccess,
    /** The login the token writes as (undefined when GitHub will not say). */
    private readonly login: () => Promise<string | undefined>,
  ) {
    this.events = new ConditionalLists(github);
  }

  async labeler(number: number, label: string): Promise<Labeler | undefined> {
    const { github } = this;
    return github.call(`reading who labeled #${number} ${label}`, async () => {
      const event = await this.lastLabeling(number, label);
      if (event === undefined) return undefined;
      const login = event.actor?.login;
      if (login === undefined) return { login: 'ghost', isBot: false, hasWriteAccess: false, event: labelingOf(event) };
      const access = await this.access.writeAccess(login);
      return {
        login,
        isBot: isBotUser(event.actor),
        hasWriteAccess: access.hasWriteAccess,
        ...(access.problem ? { accessProblem: access.problem } : {}),
        event: labelingOf(event),
      };
    });
  }

  /** Which labelling applied `label` last: the events alone (conditionally: a 304 when no label moved), no permission lookup. */
  async labelingEvent(number: number, label: string): Promise<string | undefined> {
    const event = await this.github.call(`reading who labeled #${number} ${label}`, () => this.lastLabeling(number, label));
    return event === undefined ? undefined : labelingOf(event);
  }

  private async lastLabeling(number: number, label: string): Promise<EventJson | undefined> {
    let events: EventJson[];
    try {
      events = await this.eventsOf(number);
    } catch (error) {
      if (gitHubStatus(error) === 404 || gitHubStatus(error) === 410) return undefined;
      throw error;
    }
    return appliedBy(events, label, await this.ownLoginIfRestored(events, label));
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
        const changed = wanted.length !== current.length || !wanted.every((name, index) => name === current[index]);
        // A PUT not checked afterwards (the check failed, or the PUT's answer was lost) is checked
        // when the write is tried again, from the first read on.
        if (!changed && !this.unchecked.has(number)) return;
        const since = this.unchecked.get(number) ?? issue.updated_at ?? '';
        this.unchecked.set(number, since);
        if (changed) {
          await github.octokit.request('PUT /repos/{owner}/{repo}/issues/{issue_number}/labels', {
            ...github.base,
            issue_number: number,
            labels: wanted,
          });
        }
        await this.putBackDropped(number, family, since);
        this.unchecked.delete(number);
      }),
    );
  }

  /**
   * Labels not of the family that someone else applied and the token's user then removed, since
   * the issue was read for the PUT (`since`, GitHub's clock): a PUT that raced an add. Added again.
   */
  private async putBackDropped(number: number, family: readonly string[], since: string): Promise<void> {
    const own = await this.login();
    if (own === undefined) return;
    const byLabel = new Map<string, EventJson[]>();
    for (const event of await this.eventsOf(number)) {
      const name = event.label?.name?.toLowerCase();
      if (name === undefined || (event.event !== 'labeled' && event.event !== 'unlabeled') || family.some((f) => f.toLowerCase() === name)) continue;
      byLabel.set(name, [...(byLabel.get(name) ?? []), event]);
    }
    const dropped: string[] = [];
    for (const events of byLabel.values()) {
      const [added, removed] = events.slice(-2);
      const raced = added?.event === 'labeled' && added.actor?.login !== own && removed?.event === 'unlabeled' && removed.actor?.login === own;
      if (raced && (removed.created_at ?? '') >= since) dropped.push(removed.label!.name!);
    }
    if (dropped.length === 0) return;
    this.github.logger.warn({ issue: number, labels: dropped }, 'labels added while the state label was being written were dropped by it: put back');
    await this.github.octokit.request('POST /repos/{owner}/{repo}/issues/{issue_number}/labels', { ...this.github.base, issue_number: number, labels: dropped });
  }

  private eventsOf(number: number): Promise<EventJson[]> {
    const { owner, repo, perPage } = this.github;
    return this.events.read<EventJson>(`/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}/issues/${number}/events?per_page=${perPage}`);
  }

  /** The token's login, asked only when the label's last `labeled` event may be one it restored. */
  private async ownLoginIfRestored(events: readonly EventJson[], label: string): Promise<string | undefined> {
    const wanted = label.toLowerCase();
    const mine = events.filter((e) => e.label?.name?.toLowerCase() === wanted);
    const [before, last] = mine.slice(-2);
    const restored = last?.event === 'labeled' && before?.event === 'unlabeled' && before.actor?.login === last.actor?.login;
    return restored ? this.login() : undefined;
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

/** A labelling's identity: its event and who applied it. */
const labelingOf = (event: EventJson): string => `${event.id ?? event.created_at ?? ''}:${event.actor?.login ?? 'ghost'}`;

/**
 * The event that applied `label` last, passing over each `unlabeled` then `labeled` pair of it by
 * `own` (a label the orchestra's PUT dropped and put back: still applied by whoever applied it).
 */
export function appliedBy<T extends EventJson>(events: readonly T[], label: string, own: string | undefined): T | undefined {
  const wanted = label.toLowerCase();
  const mine = events.filter((e) => (e.event === 'labeled' || e.event === 'unlabeled') && e.label?.name?.toLowerCase() === wanted);
  for (let index = mine.length - 1; index >= 0; index -= 1) {
    const event = mine[index]!;
    if (event.event !== 'labeled') continue;
    const before = mine[index - 1];
    if (own !== undefined && event.actor?.login === own && before?.event === 'unlabeled' && before.actor?.login === own) {
      index -= 1;
      continue;
    }
    return event;
  }
  return undefined;
}
