/**
 * The local tracker's pull requests (`pulls.json`, one view `pull-<n>.md` each): opened once per
 * head branch (an open one of the same head is answered instead), read as the merge stage sees
 * them, merged, and pointed at another base.
 *
 * The local source knows no git. Merging goes through the `LocalRepository` port the source is
 * given (the orchestra's git code implements it on `workspace.repo`); the head commit of an open
 * pull request is the port's `head(branch)`. Without a port a pull request's `headSha` is the one
 * recorded at its merge, else `''`, and a merge throws `merge_unavailable`.
 *
 * Exactly once: a pull request recorded merged answers `merged` with `already` and is not merged
 * again; a merge of one pull request runs one at a time in this process. A crash between the
 * port's merge and its record replays the merge: the port must then answer `merged` with the
 * commit it made (the head is already in the base).
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Logger } from 'pino';
import type { MergeOutcome, MergeRequest, PullRequestRef, PullRequestRequest, PullRequestState } from '../source.ts';
import { LocalIssueSourceError, LocalSourceErrorCodes } from './errors.ts';
import type { IssueFile } from './issue-files.ts';
import { jsonFile, pullsSchema, readTrackerFile, renderPull, writeAtomically, type LocalPullRequest, type TrackerRecord } from './tracker.ts';

/** What the local source asks of the repository it merges in. */
export interface LocalRepository {
  /** The commit `branch` points at; undefined when there is no such branch. */
  head(branch: string): Promise<string | undefined>;
  /**
   * Merges `head` into `base` when `head` is still at `headSha` (else `head_changed`). A head
   * already in the base answers `merged` with the commit that brought it there.
   */
  merge(request: LocalMergeRequest): Promise<MergeOutcome>;
}

export interface LocalMergeRequest {
  head: string;
  headSha: string;
  base: string;
  method: MergeRequest['method'];
  title: string;
  message: string;
}

/** What the source lends its pull requests: its directory, its chains and its issue records. */
export interface LocalPullsHost {
  trackerDir: string;
  repository: LocalRepository | undefined;
  logger: Logger | undefined;
  serialized<T>(key: string, work: () => Promise<T>): Promise<T>;
  requireIssue(number: number): Promise<IssueFile>;
  changeRecord<T>(number: number, change: (record: TrackerRecord) => T, known?: IssueFile): Promise<T>;
}

export class LocalPulls {
  private readonly file: string;

  constructor(private readonly host: LocalPullsHost) {
    this.file = path.join(host.trackerDir, 'pulls.json');
  }

  async open(request: PullRequestRequest): Promise<PullRequestRef & { created: boolean }> {
    const { host } = this;
    const issue = await host.requireIssue(request.issue);
    const { pull, created } = await this.change(async (pulls) => {
      const existing = pulls.find((candidate) => candidate.head === request.head && candidate.state === 'open');
      if (existing) return { pull: existing, created: false };
      const number = pulls.reduce((highest, candidate) => Math.max(highest, candidate.number), 0) + 1;
      const opened: LocalPullRequest = {
        number,
        issue: request.issue,
        head: request.head,
        base: request.base ?? 'main',
        title: request.title,
        body: request.body,
        draft: request.draft,
        url: pathToFileURL(path.resolve(host.trackerDir, `pull-${number}.md`)).href,
        createdAt: new Date().toISOString(),
        state: 'open',
        merged: false,
      };
      pulls.push(opened);
      return { pull: opened, created: true };
    });
    // Also for an existing one: a crash may have come between pulls.json and the issue's record.
    await host.changeRecord(request.issue, (record) => {
      if (!record.pullRequests.includes(pull.number)) record.pullRequests.push(pull.number);
    }, issue);
    if (created) host.logger?.info({ issue: request.issue, pull: pull.number, head: pull.head }, 'local pull request written');
    return { number: pull.number, url: pull.url, created };
  }

  async get(number: number): Promise<PullRequestState | undefined> {
    const pull = (await this.read()).find((candidate) => candidate.number === number);
    if (!pull) return undefined;
    const headSha = pull.state === 'open' ? ((await this.host.repository?.head(pull.head)) ?? pull.headSha) : pull.headSha;
    return {
      number: pull.number,
      url: pull.url,
      state: pull.state,
      merged: pull.merged,
      ...(pull.mergeCommit !== undefined ? { mergeCommitSha: pull.mergeCommit } : {}),
      headRef: pull.head,
      headSha: headSha ?? '',
      baseRef: pull.base,
      mergeable: true,
      updatedAt: pull.updatedAt ?? pull.createdAt,
    };
  }

  async merge(request: MergeRequest): Promise<MergeOutcome> {
    const { host } = this;
    return host.serialized(`merge:${request.number}`, async () => {
      const pull = (await this.read()).find((candidate) => candidate.number === request.number);
      if (!pull) return { kind: 'refused', reason: `pull request #${request.number} does not exist in ${host.trackerDir}` };
      if (pull.merged) {
        await this.recordOnIssue(pull);
        return { kind: 'merged', sha: pull.mergeCommit ?? '', already: true };
      }
      if (pull.state === 'closed') return { kind: 'refused', reason: `pull request #${pull.number} is closed without being merged` };
      if (host.repository === undefined) {
        throw new LocalIssueSourceError(
          LocalSourceErrorCodes.MergeUnavailable,
          `cannot merge pull request #${pull.number}: the local issue source was given no repository to merge in`,
        );
      }
      const outcome = await host.repository.merge({
        head: pull.head,
        headSha: request.headSha,
        base: pull.base,
        method: request.method,
        title: request.title,
        message: request.message,
      });
      if (outcome.kind !== 'merged') {
        host.logger?.info({ issue: pull.issue, pull: pull.number, outcome: outcome.kind }, 'local merge not done');
        return outcome;
      }
      const at = new Date().toISOString();
      const merged = await this.change(async (pulls) => {
        const entry = pulls.find((candidate) => candidate.number === pull.number)!;
        Object.assign(entry, { state: 'closed', merged: true, mergedAt: at, mergeCommit: outcome.sha, method: request.method, headSha: request.headSha, updatedAt: at });
        return entry;
      });
      await this.recordOnIssue(merged);
      host.logger?.info({ issue: pull.issue, pull: pull.number, sha: outcome.sha, method: request.method }, 'local pull request merged');
      return outcome;
    });
  }

  async retarget(number: number, base: string): Promise<void> {
    await this.change(async (pulls) => {
      const pull = pulls.find((candidate) => candidate.number === number);
      if (!pull) throw new LocalIssueSourceError(LocalSourceErrorCodes.PullNotFound, `pull request #${number} does not exist in ${this.host.trackerDir}`);
      if (pull.base === base) return;
      if (pull.state === 'closed') {
        throw new LocalIssueSourceError(LocalSourceErrorCodes.PullClosed, `pull request #${number} is closed: its base stays ${pull.base}`);
      }
      pull.base = base;
      pull.updatedAt = new Date().toISOString();
    });
  }

  private async read(): Promise<LocalPullRequest[]> {
    return (await readTrackerFile(this.file, pullsSchema))?.value ?? [];
  }

  /** Read, change and (when it changed) rewrite pulls.json and the changed views, one call at a time. */
  private change<T>(change: (pulls: LocalPullRequest[]) => Promise<T>): Promise<T> {
    return this.host.serialized(this.file, async () => {
      const pulls = await this.read();
      const before = pulls.map((pull) => JSON.stringify(pull));
      const result = await change(pulls);
      const changed = pulls.filter((pull, index) => JSON.stringify(pull) !== before[index]);
      if (changed.length > 0) {
        await mkdir(this.host.trackerDir, { recursive: true });
        await writeAtomically(this.file, jsonFile(pulls));
        for (const pull of changed) await writeAtomically(path.join(this.host.trackerDir, `pull-${pull.number}.md`), renderPull(pull));
      }
      return result;
    });
  }

  /** The merge on the issue's record; an issue whose file is gone keeps only pulls.json's. */
  private async recordOnIssue(pull: LocalPullRequest): Promise<void> {
    const merged = { pull: pull.number, sha: pull.mergeCommit ?? '', method: pull.method ?? 'merge', at: pull.mergedAt ?? '' };
    try {
      await this.host.changeRecord(pull.issue, (record) => {
        if (record.merged?.pull !== pull.number || record.merged.sha !== merged.sha) record.merged = merged;
      });
    } catch (error) {
      if (!(error instanceof LocalIssueSourceError) || error.code !== LocalSourceErrorCodes.IssueNotFound) throw error;
      this.host.logger?.warn({ issue: pull.issue, pull: pull.number }, `issue #${pull.issue} has no file any more: its merge is recorded in pulls.json only`);
    }
  }
}
