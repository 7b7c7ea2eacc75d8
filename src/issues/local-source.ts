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
 *   ---
 *   The body, Markdown.
 *
 * A file that does not parse is skipped with one warning per version of the file (so does every
 * file of a number two files claim); the other issues are still served.
 *
 * The tracker directory, created on the first write:
 * - `issue-<n>.json`: `{ number, labels: { added, removed }, state?, comments: [{ key, body, at }],
 *   pullRequests: [n] }`. Effective labels: the front matter's, plus `added`, minus `removed`;
 *   the effective state is `state`, else the front matter's.
 * - `issue-<n>.md`: the conversation rendered for a person, rewritten on each change.
 * - `pulls.json`: `[{ number, issue, head, base, title, body, draft, url, createdAt }]`, one per
 *   head branch, numbered from 1; `pull-<n>.md` renders each.
 * - `labels.json`: `[{ name, color, description }]`, the labels `syncLabels` created.
 *
 * Every write replaces its file by a rename (a `kill -9` leaves the old file or the new one, never
 * half of one), and the read-modify-write of one file runs one at a time in this process (a
 * promise chain per file). Two processes writing one tracker directory at once are not
 * supported: the orchestra runs one issue source.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Logger } from 'pino';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { describeError, IssueErrorCodes, MiyabiError } from '../errors.ts';
import type {
  AuthorAssociation,
  IssueSource,
  LabelSpec,
  Labeler,
  ListResult,
  PullRequestRef,
  PullRequestRequest,
  TrackedIssue,
} from './source.ts';

export const LocalSourceErrorCodes = {
  IssueDirMissing: IssueErrorCodes.IssueDirMissing,
  IssueNotFound: IssueErrorCodes.IssueNotFound,
  TrackerFileCorrupt: IssueErrorCodes.TrackerFileCorrupt,
} as const;

export type LocalSourceErrorCode = (typeof LocalSourceErrorCodes)[keyof typeof LocalSourceErrorCodes];

export class LocalIssueSourceError extends MiyabiError {
  constructor(code: LocalSourceErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'LocalIssueSourceError';
  }
}

/** What one issue file says, front matter and body. */
export interface IssueFileFields {
  number: number;
  title: string;
  body: string;
  labels: string[];
  author: string;
  association: AuthorAssociation;
  state: 'open' | 'closed';
  dependsOn: number[];
  /** Label → login of whoever applied it. */
  labeledBy: Record<string, string>;
}

export interface IssueFile extends IssueFileFields {
  /** The path, as `dir` joined with the file name. */
  file: string;
  mtimeMs: number;
}

export interface IssueFileProblem {
  file: string;
  /** `<field>: <what is wrong>`, e.g. `number: expected a positive integer`. */
  message: string;
  /** The version of the file the problem is about (warnings are once per version). */
  mtimeMs?: number;
}

export type ParsedIssueFile = { ok: true; issue: IssueFileFields } | { ok: false; problem: IssueFileProblem };

const ASSOCIATIONS: readonly AuthorAssociation[] = [
  'OWNER',
  'MEMBER',
  'COLLABORATOR',
  'CONTRIBUTOR',
  'FIRST_TIME_CONTRIBUTOR',
  'FIRST_TIMER',
  'MANNEQUIN',
  'NONE',
];
const WRITE_ACCESS: ReadonlySet<AuthorAssociation> = new Set(['OWNER', 'MEMBER', 'COLLABORATOR']);

// Not fatal: invalid bytes become U+FFFD, so a stray Latin-1 file is served rather than refused.
const utf8 = new TextDecoder('utf-8');

const OPENING_FENCE = /^---[ \t]*\r?\n/;
const CLOSING_FENCE = /^---[ \t]*\r?$/gm;

class FieldProblem extends Error {}

/** Parses one issue file's text; `file` only names it in the problem. */
export function parseIssueFile(text: string, file: string): ParsedIssueFile {
  const problem = (message: string): ParsedIssueFile => ({ ok: false, problem: { file, message } });
  const opening = OPENING_FENCE.exec(text);
  if (!opening) return problem('front matter: missing (the file must start with a --- line)');
  const closing = new RegExp(CLOSING_FENCE.source, 'gm');
  closing.lastIndex = opening[0].length;
  const fence = closing.exec(text);
  if (!fence) return problem('front matter: no closing --- line');
  let data: unknown;
  try {
    // `error`: a YAML warning (an unknown tag, say) is not for the daemon's console.
    data = parseYaml(text.slice(opening[0].length, fence.index), { logLevel: 'error' }) ?? {};
  } catch (error) {
    return problem(`front matter: invalid YAML (${describeError(error).split('\n')[0]})`);
  }
  if (typeof data !== 'object' || Array.isArray(data)) return problem('front matter: expected a mapping of fields');
  const body = text
    .slice(fence.index + fence[0].length)
    .replace(/^(?:[ \t]*\r?\n)+/, '')
    .trimEnd();
  try {
    return { ok: true, issue: { ...issueFields(data as Record<string, unknown>), body } };
  } catch (error) {
    if (error instanceof FieldProblem) return problem(error.message);
    throw error;
  }
}

function fail(field: string, what: string): never {
  throw new FieldProblem(`${field}: ${what}`);
}

const isIssueNumber = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) > 0;
const isName = (value: unknown): value is string => typeof value === 'string' && value.trim() !== '';

function issueFields(data: Record<string, unknown>): Omit<IssueFileFields, 'body'> {
  // An empty YAML value (`labels:`) is null: the field's default, as if it were not there.
  const given = (field: string): unknown => data[field] ?? undefined;
  const text = (field: string, fallback?: string): string => {
    const value = given(field) ?? fallback;
    if (value === undefined) fail(field, 'required, a string');
    return isName(value) ? value : fail(field, 'expected a non-empty string');
  };

  const number = given('number');
  if (number === undefined) fail('number', 'required, a positive integer');
  if (!isIssueNumber(number)) fail('number', 'expected a positive integer');

  const labels = given('labels') ?? [];
  if (!Array.isArray(labels) || !labels.every(isName)) fail('labels', 'expected a list of label names');

  const associationGiven = given('association') ?? 'OWNER';
  const association = ASSOCIATIONS.find((known) => typeof associationGiven === 'string' && known === associationGiven.toUpperCase());
  if (association === undefined) fail('association', `expected one of ${ASSOCIATIONS.join(', ')}`);

  const state = given('state') ?? 'open';
  if (state !== 'open' && state !== 'closed') fail('state', 'expected open or closed');

  const dependsOn = given('dependsOn') ?? [];
  if (!Array.isArray(dependsOn)) fail('dependsOn', 'expected a list of issue numbers');
  const dependencies = dependsOn.map((entry: unknown) => {
    const value = typeof entry === 'string' && /^\s*#?\d+\s*$/.test(entry) ? Number(entry.replace('#', '')) : entry;
    return isIssueNumber(value) ? value : fail('dependsOn', `${JSON.stringify(entry)} is not an issue number`);
  });

  const labeledBy = given('labeledBy') ?? {};
  if (typeof labeledBy !== 'object' || Array.isArray(labeledBy)) fail('labeledBy', 'expected a mapping of label to login');
  // No prototype: a label named `__proto__` or `constructor` is a label like any other.
  const labelers: Record<string, string> = Object.create(null);
  for (const [label, login] of Object.entries(labeledBy)) labelers[label] = isName(login) ? login : fail(`labeledBy.${label}`, 'expected a login');

  return {
    number,
    title: text('title'),
    labels: [...new Set(labels)],
    author: text('author', 'local'),
    association,
    state,
    dependsOn: [...new Set(dependencies)],
    labeledBy: labelers,
  };
}

/**
 * The issues of `dir`, sorted by number, and the files skipped with why. Only `*.md` files
 * directly in `dir`; dot files are editors' locks and backups, not issues.
 */
export async function readIssueDirectory(dir: string): Promise<{ issues: IssueFile[]; problems: IssueFileProblem[] }> {
  let names: string[];
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    names = entries
      .filter((entry) => (entry.isFile() || entry.isSymbolicLink()) && !entry.name.startsWith('.') && /\.md$/i.test(entry.name))
      .map((entry) => entry.name)
      .sort();
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code === 'ENOTDIR' ? 'is not a directory' : 'cannot be read';
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new LocalIssueSourceError(
      LocalSourceErrorCodes.IssueDirMissing,
      missing ? `issue directory ${dir} does not exist` : `issue directory ${dir} ${why}: ${describeError(error)}`,
      { cause: error },
    );
  }
  const read = await Promise.all(names.map((name) => readIssueFile(path.join(dir, name))));
  const problems: IssueFileProblem[] = [];
  const byNumber = new Map<number, IssueFile[]>();
  for (const entry of read) {
    if (entry === undefined) continue;
    if ('message' in entry) {
      problems.push(entry);
      continue;
    }
    byNumber.set(entry.number, [...(byNumber.get(entry.number) ?? []), entry]);
  }
  const issues: IssueFile[] = [];
  for (const [number, files] of byNumber) {
    if (files.length === 1) {
      issues.push(files[0]!);
      continue;
    }
    for (const issue of files) {
      const others = files.filter((other) => other !== issue).map((other) => other.file);
      const skipped = files.length === 2 ? 'both' : 'all';
      problems.push({ file: issue.file, message: `number: ${number} is also the number of ${others.join(', ')}; ${skipped} skipped`, mtimeMs: issue.mtimeMs });
    }
  }
  issues.sort((a, b) => a.number - b.number);
  return { issues, problems };
}

async function readIssueFile(file: string): Promise<IssueFile | IssueFileProblem | undefined> {
  try {
    const info = await stat(file);
    if (!info.isFile()) return undefined;
    const parsed = parseIssueFile(utf8.decode(await readFile(file)), file);
    return parsed.ok ? { ...parsed.issue, file, mtimeMs: info.mtimeMs } : { ...parsed.problem, mtimeMs: info.mtimeMs };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // removed since listed, or a dangling link
    return { file, message: `file: cannot be read (${describeError(error)})` };
  }
}

const trackerRecordSchema = z.object({
  number: z.number().int().positive(),
  labels: z.object({ added: z.array(z.string()), removed: z.array(z.string()) }),
  state: z.enum(['open', 'closed']).optional(),
  comments: z.array(z.object({ key: z.string(), body: z.string(), at: z.string() })),
  pullRequests: z.array(z.number().int().positive()),
});

export type TrackerRecord = z.infer<typeof trackerRecordSchema>;

const pullsSchema = z.array(
  z.object({
    number: z.number().int().positive(),
    issue: z.number().int().positive(),
    head: z.string(),
    base: z.string(),
    title: z.string(),
    body: z.string(),
    draft: z.boolean(),
    url: z.string(),
    createdAt: z.string(),
  }),
);

export type LocalPullRequest = z.infer<typeof pullsSchema>[number];

const labelsSchema = z.array(z.object({ name: z.string(), color: z.string(), description: z.string() }));

function corrupt(file: string, why: string, cause?: unknown): LocalIssueSourceError {
  return new LocalIssueSourceError(
    LocalSourceErrorCodes.TrackerFileCorrupt,
    `tracker file ${file} is corrupt (${why}); repair it or remove it`,
    { cause },
  );
}

/** A tracker file and its mtime; undefined when it does not exist yet. */
async function readTrackerFile<T>(file: string, schema: z.ZodType<T>): Promise<{ value: T; mtimeMs: number } | undefined> {
  let bytes: Buffer;
  let mtimeMs: number;
  try {
    mtimeMs = (await stat(file)).mtimeMs;
    bytes = await readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(utf8.decode(bytes));
  } catch (error) {
    throw corrupt(file, `not valid JSON: ${describeError(error)}`, error);
  }
  const result = schema.safeParse(json);
  if (!result.success) {
    const first = result.error.issues[0];
    throw corrupt(file, `${first?.path.join('.') || 'top level'}: ${first?.message ?? 'unexpected shape'}`);
  }
  return { value: result.data, mtimeMs };
}

/** Replaces `file` by a rename, so a reader or a crash sees the old text or the new, never half. */
async function writeAtomically(file: string, text: string): Promise<void> {
  // No fsync: the contract is surviving kill -9 (the page cache survives it), not a power cut.
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${randomUUID().slice(0, 8)}.tmp`);
  try {
    await writeFile(temporary, text);
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;
const isBotLogin = (login: string): boolean => login.endsWith('[bot]');

function effectiveLabels(issue: IssueFile, record: TrackerRecord | undefined): string[] {
  if (!record) return issue.labels;
  const removed = new Set(record.labels.removed);
  return [...new Set([...issue.labels, ...record.labels.added])].filter((label) => !removed.has(label));
}

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

function renderIssue(issue: IssueFile, record: TrackerRecord): string {
  const labels = effectiveLabels(issue, record);
  const lines = [
    `# #${issue.number}: ${issue.title}`,
    '',
    `- State: ${record.state ?? issue.state}`,
    `- Labels: ${labels.length > 0 ? labels.map((label) => `\`${label}\``).join(', ') : 'none'}`,
    `- Issue file: ${pathToFileURL(path.resolve(issue.file)).href}`,
  ];
  if (record.pullRequests.length > 0) {
    lines.push(`- Pull requests: ${record.pullRequests.map((number) => `[#${number}](pull-${number}.md)`).join(', ')}`);
  }
  lines.push('', '## Comments', '');
  if (record.comments.length === 0) lines.push('None yet.', '');
  for (const comment of record.comments) lines.push(`### ${comment.at}`, `<!-- key: ${comment.key} -->`, '', comment.body, '');
  return lines.join('\n');
}

function renderPull(pull: LocalPullRequest): string {
  return [
    `# Pull request #${pull.number}: ${pull.title}`,
    '',
    `- Issue: #${pull.issue} ([conversation](issue-${pull.issue}.md))`,
    `- Branch: ${pull.head} → ${pull.base}`,
    `- Draft: ${pull.draft ? 'yes' : 'no'}`,
    `- Opened: ${pull.createdAt}`,
    '',
    pull.body,
    '',
  ].join('\n');
}

export interface LocalIssueSourceOptions {
  /** The directory of issue files (read only). */
  dir: string;
  /** Where comments, labels, states and pull requests are written. */
  trackerDir: string;
  logger?: Logger;
}

export class LocalIssueSource implements IssueSource {
  readonly kind = 'local';
  private readonly chains = new Map<string, Promise<void>>();
  /** File → the version and problem last warned about, so each is logged once. */
  private warned = new Map<string, string>();

  constructor(private readonly options: LocalIssueSourceOptions) {}

  async listOpen(): Promise<ListResult> {
    const issues = await this.scan();
    const tracked = await Promise.all(issues.map(async (issue) => trackedIssue(issue, await this.readRecord(issue.number))));
    return { issues: tracked.filter((issue) => issue.state === 'open') };
  }

  async get(number: number): Promise<TrackedIssue | undefined> {
    const issue = (await this.scan()).find((candidate) => candidate.number === number);
    return issue && trackedIssue(issue, await this.readRecord(number));
  }

  /**
   * `labeledBy` says who applied a label; a label of the front matter it does not name was
   * applied by the author. Any other label (one the orchestra added, or none) has no known labeler.
   */
  async labeler(number: number, label: string): Promise<Labeler | undefined> {
    const issue = (await this.scan()).find((candidate) => candidate.number === number);
    if (!issue) return undefined;
    const named = Object.hasOwn(issue.labeledBy, label) ? issue.labeledBy[label] : undefined;
    const login = named ?? (issue.labels.includes(label) ? issue.author : undefined);
    if (login === undefined) return undefined;
    return { login, isBot: isBotLogin(login), hasWriteAccess: WRITE_ACCESS.has(issue.association) };
  }

  async comment(number: number, key: string, body: string): Promise<{ posted: boolean }> {
    return this.changeRecord(number, (record) => {
      if (record.comments.some((comment) => comment.key === key)) return { posted: false };
      record.comments.push({ key, body, at: new Date().toISOString() });
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

  async openPullRequest(request: PullRequestRequest): Promise<PullRequestRef & { created: boolean }> {
    const issue = await this.requireIssue(request.issue);
    const pullsFile = path.join(this.options.trackerDir, 'pulls.json');
    const { pull, created } = await this.serialized(pullsFile, async () => {
      const pulls = (await readTrackerFile(pullsFile, pullsSchema))?.value ?? [];
      const existing = pulls.find((candidate) => candidate.head === request.head);
      if (existing) return { pull: existing, created: false };
      const number = pulls.reduce((highest, candidate) => Math.max(highest, candidate.number), 0) + 1;
      const rendered = path.resolve(this.options.trackerDir, `pull-${number}.md`);
      const opened: LocalPullRequest = {
        number,
        issue: request.issue,
        head: request.head,
        base: request.base ?? 'main',
        title: request.title,
        body: request.body,
        draft: request.draft,
        url: pathToFileURL(rendered).href,
        createdAt: new Date().toISOString(),
      };
      await mkdir(this.options.trackerDir, { recursive: true });
      await writeAtomically(pullsFile, json([...pulls, opened]));
      await writeAtomically(rendered, renderPull(opened));
      return { pull: opened, created: true };
    });
    // Also for an existing one: a crash may have come between pulls.json and the issue's record.
    await this.changeRecord(request.issue, (record) => {
      if (!record.pullRequests.includes(pull.number)) record.pullRequests.push(pull.number);
    }, issue);
    if (created) this.options.logger?.info({ issue: request.issue, pull: pull.number, head: pull.head }, 'local pull request written');
    return { number: pull.number, url: pull.url, created };
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
        await writeAtomically(file, json([...existing, ...missing]));
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
    const issue = (await this.scan()).find((candidate) => candidate.number === number);
    if (issue) return issue;
    throw new LocalIssueSourceError(
      LocalSourceErrorCodes.IssueNotFound,
      `issue #${number}: no valid issue file of that number in ${this.options.dir}`,
    );
  }

  /** Read, change and (when it changed) rewrite issue `number`'s record and its rendering, one call at a time. */
  private async changeRecord<T>(number: number, change: (record: TrackerRecord) => T, known?: IssueFile): Promise<T> {
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
      const result = change(record);
      if (JSON.stringify(record) !== before) {
        await mkdir(this.options.trackerDir, { recursive: true });
        await writeAtomically(file, json(record));
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
    const { issues, problems } = await readIssueDirectory(this.options.dir);
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
