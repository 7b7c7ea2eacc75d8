/**
 * The local issue source: a directory of Markdown issues with YAML front matter, the embedded
 * default (no network, no token). What the orchestra says back is written as files to a
 * separate tracker directory; the operator's issue files are only ever read.
 *
 * An issue file (`<dir>/*.md`, the name does not matter):
 *
 *   ---
 *   number: 12                      # required, a positive integer
 *   title: Add a --json flag        # required
 *   labels: [miyabi, bug]           # default []
 *   author: alice                   # default `local`
 *   association: OWNER              # default OWNER: the directory is the operator's own
 *   state: open                     # open | closed, default open
 *   dependsOn: [3, "#4"]            # default []
 *   labeledBy: { miyabi: alice }    # who applied a label; default the author
 *   comments:                       # people's comments, oldest first; default []
 *     - author: bob                 # required
 *       association: CONTRIBUTOR    # default OWNER, as for the issue
 *       bot: false                  # default: the login ends with [bot]
 *       body: Please also cover --yaml.   # required
 *   ---
 *   The body, Markdown.
 *
 * A file that does not parse is skipped with one warning per version of the file (so does every
 * file of a number two files claim); the other issues are still served. A malformed comment is
 * such a problem, named `comments[<i>].<field>`.
 *
 * The tracker directory, created on the first write:
 * - `issue-<n>.json`: `{ number, labels: { added, removed }, state?, comments: [{ key, body, at,
 *   afterFileComments }], pullRequests: [n], merged?: { pull, sha, method, at } }`. Effective
 *   labels: the front matter's, plus `added`, minus `removed`; the effective state is `state`,
 *   else the front matter's. `afterFileComments` is how many comments the issue file had when the
 *   orchestra posted: `listComments` answers both kinds in one order by it (the file's first when
 *   equal), the file's as `f<i>`, the tracker's as `t<i>` by `miyabi-orchestra[bot]` with their key.
 * - `issue-<n>.md`: the conversation rendered for a person, rewritten on each change.
 * - `pulls.json`: `[{ number, issue, head, base, title, body, draft, url, createdAt, state,
 *   merged, mergedAt?, mergeCommit?, method?, headSha?, updatedAt? }]`, one open one per head
 *   branch, numbered from 1 (older entries without the merge fields are open and unmerged);
 *   `pull-<n>.md` renders each, "Merged as <sha> (<method>) at <time>" once merged. Merging goes
 *   through the `repository` port the source is given (local/pulls.ts).
 * - `labels.json`: `[{ name, color, description }]`, the labels `syncLabels` created.
 *
 * Every write replaces its file by a rename (a `kill -9` leaves the old file or the new one, never
 * half of one), and the read-modify-write of one file runs one at a time in this process (a
 * promise chain per file). Two processes writing one tracker directory at once are not
 * supported: the orchestra runs one issue source.
 *
 * The code: local/issue-files.ts (parsing, reading the directory), local/tracker.ts (the tracker
 * files: schemas, atomic writes, the rendered views, the conversation's order), local/pulls.ts
 * (pull requests and merges), local/errors.ts; this file is the source.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Logger } from 'pino';
import type {
  AuthorAssociation,
  IssueSource,
  LabelSpec,
  Labeler,
  ListResult,
  MergeOutcome,
  MergeRequest,
  PullRequestRef,
  PullRequestRequest,
  PullRequestState,
  TrackedComment,
  TrackedIssue,
} from './source.ts';
import { LocalIssueSourceError, LocalSourceErrorCodes } from './local/errors.ts';
import type { IssueFile } from './local/issue-files.ts';
import { IssueDirectory } from './local/issue-directory.ts';
import { LocalPulls, type LocalRepository } from './local/pulls.ts';
import {
  corrupt,
  effectiveLabels,
  jsonFile,
  labelsSchema,
  readTrackerFile,
  renderIssue,
  trackedComments,
  trackerRecordSchema,
  writeAtomically,
  type TrackerRecord,
} from './local/tracker.ts';

export { LocalIssueSourceError, LocalSourceErrorCodes, type LocalSourceErrorCode } from './local/errors.ts';
export { readIssueDirectory, type IssueDirectoryScan } from './local/issue-directory.ts';
export {
  parseIssueFile,
  type IssueFile,
  type IssueFileComment,
  type IssueFileFields,
  type IssueFileProblem,
  type ParsedIssueFile,
} from './local/issue-files.ts';
export type { LocalMergeRequest, LocalRepository } from './local/pulls.ts';
export { LOCAL_ORCHESTRA_LOGIN, type LocalPullRequest, type TrackerRecord } from './local/tracker.ts';

const WRITE_ACCESS: ReadonlySet<AuthorAssociation> = new Set(['OWNER', 'MEMBER', 'COLLABORATOR']);

const isBotLogin = (login: string): boolean => login.endsWith('[bot]');

function trackedIssue(issue: IssueFile, tracked: { value: TrackerRecord; mtimeMs: number } | undefined): TrackedIssue {
  return {
    number: issue.number,
    title: issue.title,
    body: issue.body,
    labels: effectiveLabels(issue, tracked?.value),
    state: tracked?.value.state ?? issue.state,
    author: issue.author,
    authorAssociation: issue.association,
    authorIsBot: isBotLogin(issue.author),
    url: pathToFileURL(path.resolve(issue.file)).href,
    updatedAt: new Date(Math.max(issue.mtimeMs, tracked?.mtimeMs ?? 0)).toISOString(),
    dependsOn: issue.dependsOn,
  };
}

export interface LocalIssueSourceOptions {
  /** The directory of issue files (read only). */
  dir: string;
  /** Where comments, labels, states and pull requests are written. */
  trackerDir: string;
  logger?: Logger;
  /** The repository pull requests are merged in (git, given by the orchestra); without it a merge throws. */
  repository?: LocalRepository;
}

export class LocalIssueSource implements IssueSource {
  readonly kind = 'local';
  private readonly chains = new Map<string, Promise<void>>();
  /** File → the version and problem last warned about, so each is logged once. */
  private warned = new Map<string, string>();
  private readonly pulls: LocalPulls;
  private readonly directory: IssueDirectory;

  constructor(private readonly options: LocalIssueSourceOptions) {
    this.directory = new IssueDirectory(options.dir);
    this.pulls = new LocalPulls({
      trackerDir: options.trackerDir,
      repository: options.repository,
      logger: options.logger,
      serialized: (key, work) => this.serialized(key, work),
      requireIssue: (number) => this.requireIssue(number),
      changeRecord: (number, change, known) => this.changeRecord(number, change, known),
    });
  }

  async listOpen(): Promise<ListResult> {
    const issues = await this.scan();
    const tracked = await Promise.all(issues.map(async (issue) => trackedIssue(issue, await this.readRecord(issue.number))));
    return { issues: tracked.filter((issue) => issue.state === 'open') };
  }

  async get(number: number): Promise<TrackedIssue | undefined> {
    const issue = await this.directory.find(number);
    return issue && trackedIssue(issue, await this.readRecord(number));
  }

  /**
   * `labeledBy` says who applied a label; a label of the front matter it does not name was
   * applied by the author. Any other label (one the orchestra added, or none) has no known labeler.
   */
  async labeler(number: number, label: string): Promise<Labeler | undefined> {
    const issue = await this.directory.find(number);
    if (!issue) return undefined;
    const named = Object.hasOwn(issue.labeledBy, label) ? issue.labeledBy[label] : undefined;
    const login = named ?? (issue.labels.includes(label) ? issue.author : undefined);
    if (login === undefined) return undefined;
    return { login, isBot: isBotLogin(login), hasWriteAccess: WRITE_ACCESS.has(issue.association) };
  }

  async comment(number: number, key: string, body: string): Promise<{ posted: boolean }> {
    return this.changeRecord(number, (record, issue) => {
      if (record.comments.some((comment) => comment.key === key)) return { posted: false };
      record.comments.push({ key, body, at: new Date().toISOString(), afterFileComments: issue.comments.length });
      return { posted: true };
    });
  }

  async setExclusiveLabel(number: number, family: readonly string[], label: string | undefined): Promise<void> {
    // Recorded both ways whatever the front matter says, so a later edit of the file never
    // brings a second label of the family back.
    await this.changeRecord(number, ({ labels }) => {
      for (const member of new Set([...family, ...(label === undefined ? [] : [label])])) {
        const keep = member === label;
        labels.added = labels.added.filter((other) => other !== member);
        labels.removed = labels.removed.filter((other) => other !== member);
        (keep ? labels.added : labels.removed).push(member);
      }
    });
  }

  openPullRequest(request: PullRequestRequest): Promise<PullRequestRef & { created: boolean }> {
    return this.pulls.open(request);
  }

  /** The issue file's comments and the orchestra's, in the order they were written. */
  async listComments(number: number): Promise<TrackedComment[]> {
    const issue = await this.requireIssue(number);
    return trackedComments(issue, (await this.readRecord(number))?.value);
  }

  pullRequest(number: number): Promise<PullRequestState | undefined> {
    return this.pulls.get(number);
  }

  mergePullRequest(request: MergeRequest): Promise<MergeOutcome> {
    return this.pulls.merge(request);
  }

  retargetPullRequest(number: number, base: string): Promise<void> {
    return this.pulls.retarget(number, base);
  }

  async syncLabels(labels: readonly LabelSpec[]): Promise<{ created: string[] }> {
    const file = path.join(this.options.trackerDir, 'labels.json');
    return this.serialized(file, async () => {
      const existing = (await readTrackerFile(file, labelsSchema))?.value ?? [];
      // Case-insensitive, as GitHub compares label names.
      const known = new Set(existing.map((label) => label.name.toLowerCase()));
      const missing: LabelSpec[] = [];
      for (const label of labels) {
        if (known.has(label.name.toLowerCase())) continue;
        known.add(label.name.toLowerCase());
        missing.push({ name: label.name, color: label.color, description: label.description });
      }
      if (missing.length > 0) {
        await mkdir(this.options.trackerDir, { recursive: true });
        await writeAtomically(file, jsonFile([...existing, ...missing]));
      }
      return { created: missing.map((label) => label.name) };
    });
  }

  async close(): Promise<void> {
    while (this.chains.size > 0) await Promise.all(this.chains.values());
  }

  private recordFile(number: number): string {
    return path.join(this.options.trackerDir, `issue-${number}.json`);
  }

  private async readRecord(number: number): Promise<{ value: TrackerRecord; mtimeMs: number } | undefined> {
    const file = this.recordFile(number);
    const record = await readTrackerFile(file, trackerRecordSchema);
    if (record && record.value.number !== number) throw corrupt(file, `number: ${record.value.number}, not ${number}`);
    return record;
  }

  private async requireIssue(number: number): Promise<IssueFile> {
    const issue = await this.directory.find(number);
    if (issue) return issue;
    throw new LocalIssueSourceError(
      LocalSourceErrorCodes.IssueNotFound,
      `issue #${number}: no valid issue file of that number in ${this.options.dir}`,
    );
  }

  /** Read, change and (when it changed) rewrite issue `number`'s record and its rendering, one call at a time. */
  private async changeRecord<T>(number: number, change: (record: TrackerRecord, issue: IssueFile) => T, known?: IssueFile): Promise<T> {
    const file = this.recordFile(number);
    // The issue is read inside the chain: reading it first would let calls overtake each other.
    return this.serialized(file, async () => {
      const issue = known ?? (await this.requireIssue(number));
      const record = (await this.readRecord(number))?.value ?? {
        number,
        labels: { added: [], removed: [] },
        comments: [],
        pullRequests: [],
      };
      const before = JSON.stringify(record);
      const result = change(record, issue);
      if (JSON.stringify(record) !== before) {
        await mkdir(this.options.trackerDir, { recursive: true });
        await writeAtomically(file, jsonFile(record));
        await writeAtomically(path.join(this.options.trackerDir, `issue-${number}.md`), renderIssue(issue, record));
      }
      return result;
    });
  }

  private serialized<T>(key: string, work: () => Promise<T>): Promise<T> {
    const run = (this.chains.get(key) ?? Promise.resolve()).then(work);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.chains.set(key, settled);
    void settled.then(() => {
      if (this.chains.get(key) === settled) this.chains.delete(key);
    });
    return run;
  }

  private async scan(): Promise<IssueFile[]> {
    const { issues, problems } = await this.directory.scan();
    const warned = new Map<string, string>();
    for (const problem of problems) {
      const version = `${problem.mtimeMs ?? ''} ${problem.message}`;
      warned.set(problem.file, version);
      if (this.warned.get(problem.file) === version) continue;
      this.options.logger?.warn({ file: problem.file, problem: problem.message }, `${problem.file}: ${problem.message}`);
    }
    this.warned = warned;
    return issues;
  }
}
