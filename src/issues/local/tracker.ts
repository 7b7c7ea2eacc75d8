/**
 * The tracker directory's files (layout in ../local-source.ts): the per-issue records, the pull
 * requests and the labels, each checked against its schema when read (a corrupt one is an error
 * that names it), written atomically, and the Markdown views a person reads, rendered from them;
 * and the one order of an issue's conversation (the file's comments and the tracker's).
 */
import { randomUUID } from 'node:crypto';
import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { inFileSlot } from './file-slots.ts';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { describeError } from '../../errors.ts';
import type { TrackedComment } from '../source.ts';
import { inert, inertLines } from '../../inert-text.ts';
import { LocalIssueSourceError, LocalSourceErrorCodes } from './errors.ts';
import { utf8, type IssueFile, type IssueFileComment } from './issue-files.ts';

const mergeMethod = z.enum(['merge', 'squash', 'rebase']);

export const trackerRecordSchema = z.object({
  number: z.number().int().positive(),
  labels: z.object({ added: z.array(z.string()), removed: z.array(z.string()) }),
  state: z.enum(['open', 'closed']).optional(),
  comments: z.array(
    z.object({
      key: z.string(),
      body: z.string(),
      at: z.string(),
      /** How many comments the issue file had when this one was posted (absent in older records: 0). */
      afterFileComments: z.number().int().nonnegative().optional(),
    }),
  ),
  pullRequests: z.array(z.number().int().positive()),
  /** The issue's pull request merged by the orchestra. */
  merged: z.object({ pull: z.number().int().positive(), sha: z.string(), method: mergeMethod, at: z.string() }).optional(),
});

export type TrackerRecord = z.infer<typeof trackerRecordSchema>;
export type TrackerComment = TrackerRecord['comments'][number];

export const pullsSchema = z.array(
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
    // Absent from entries written before merges existed: an open, unmerged pull request.
    state: z.enum(['open', 'closed']).default('open'),
    merged: z.boolean().default(false),
    mergedAt: z.string().optional(),
    mergeCommit: z.string().optional(),
    method: mergeMethod.optional(),
    /** The head commit merged. */
    headSha: z.string().optional(),
    /** The last change (a merge, a new base); absent: `createdAt`. */
    updatedAt: z.string().optional(),
  }),
);

export type LocalPullRequest = z.infer<typeof pullsSchema>[number];

export const labelsSchema = z.array(z.object({ name: z.string(), color: z.string(), description: z.string() }));

export function corrupt(file: string, why: string, cause?: unknown): LocalIssueSourceError {
  return new LocalIssueSourceError(
    LocalSourceErrorCodes.TrackerFileCorrupt,
    `tracker file ${file} is corrupt (${why}); repair it or remove it`,
    { cause },
  );
}

/** A tracker file and its mtime; undefined when it does not exist yet. */
export async function readTrackerFile<T>(file: string, schema: z.ZodType<T>): Promise<{ value: T; mtimeMs: number } | undefined> {
  let bytes: Buffer;
  let mtimeMs: number;
  try {
    mtimeMs = (await stat(file)).mtimeMs;
    bytes = await inFileSlot(() => readFile(file));
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
export async function writeAtomically(file: string, text: string): Promise<void> {
  // No fsync: the contract is surviving kill -9 (the page cache survives it), not a power cut.
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${randomUUID().slice(0, 8)}.tmp`);
  try {
    await inFileSlot(() => writeFile(temporary, text));
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

export const jsonFile = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

export function effectiveLabels(issue: IssueFile, record: TrackerRecord | undefined): string[] {
  if (!record) return issue.labels;
  const removed = new Set(record.labels.removed);
  return [...new Set([...issue.labels, ...record.labels.added])].filter((label) => !removed.has(label));
}

export function renderIssue(issue: IssueFile, record: TrackerRecord): string {
  const labels = effectiveLabels(issue, record);
  const lines = [
    `# #${issue.number}: ${inert(issue.title)}`,
    '',
    `- State: ${record.state ?? issue.state}`,
    `- Labels: ${labels.length > 0 ? labels.map((label) => `\`${inert(label)}\``).join(', ') : 'none'}`,
    `- Issue file: ${pathToFileURL(path.resolve(issue.file)).href}`,
  ];
  if (record.pullRequests.length > 0) {
    lines.push(`- Pull requests: ${record.pullRequests.map((number) => `[#${number}](pull-${number}.md)`).join(', ')}`);
  }
  if (record.merged) {
    const { pull, sha, method, at } = record.merged;
    lines.push(`- Merged: [#${pull}](pull-${pull}.md) as ${sha} (${method}) at ${at}`);
  }
  lines.push('', '## Comments', '');
  const comments = interleave(issue.comments, record.comments);
  if (comments.length === 0) lines.push('None yet.', '');
  for (const entry of comments) {
    if (entry.from === 'file') lines.push(`### ${inert(entry.comment.author)} (in the issue file)`, '', inertLines(entry.comment.body), '');
    else lines.push(`### ${entry.comment.at}`, `<!-- key: ${entry.comment.key} -->`, '', inertLines(entry.comment.body), '');
  }
  return lines.join('\n');
}

/** The author of the orchestra's own comments, as `listComments` answers them. */
export const LOCAL_ORCHESTRA_LOGIN = 'miyabi-orchestra[bot]';

/** The issue's conversation as `listComments` answers it: file comments `f<i>`, the tracker's `t<i>`. */
export function trackedComments(issue: IssueFile, record: TrackerRecord | undefined): TrackedComment[] {
  return interleave(issue.comments, record?.comments ?? []).map((entry): TrackedComment =>
    entry.from === 'file'
      ? {
          id: `f${entry.index}`,
          author: entry.comment.author,
          authorAssociation: entry.comment.association,
          authorIsBot: entry.comment.bot,
          body: entry.comment.body,
        }
      : { id: `t${entry.index}`, author: LOCAL_ORCHESTRA_LOGIN, authorAssociation: 'NONE', authorIsBot: true, body: entry.comment.body, key: entry.comment.key },
  );
}

export type Interleaved =
  | { from: 'file'; index: number; comment: IssueFileComment }
  | { from: 'tracker'; index: number; comment: TrackerComment };

/**
 * The issue file's comments and the tracker's in one order: each tracker comment after the file
 * comments that existed when it was posted (`afterFileComments`), file comments first when equal.
 */
export function interleave(file: readonly IssueFileComment[], tracker: readonly TrackerComment[]): Interleaved[] {
  const order: Interleaved[] = [];
  let next = 0;
  tracker.forEach((comment, index) => {
    for (; next < Math.min(comment.afterFileComments ?? 0, file.length); next += 1) order.push({ from: 'file', index: next, comment: file[next]! });
    order.push({ from: 'tracker', index, comment });
  });
  for (; next < file.length; next += 1) order.push({ from: 'file', index: next, comment: file[next]! });
  return order;
}

export function renderPull(pull: LocalPullRequest): string {
  return [
    `# Pull request #${pull.number}: ${inert(pull.title)}`,
    '',
    `- Issue: #${pull.issue} ([conversation](issue-${pull.issue}.md))`,
    `- Branch: ${pull.head} → ${pull.base}`,
    `- Draft: ${pull.draft ? 'yes' : 'no'}`,
    `- Opened: ${pull.createdAt}`,
    `- State: ${pull.merged ? 'merged' : pull.state}`,
    ...(pull.merged ? [`- Merged as ${pull.mergeCommit ?? 'an unknown commit'} (${pull.method ?? 'merge'}) at ${pull.mergedAt ?? 'an unknown time'}`] : []),
    '',
    inertLines(pull.body),
    '',
  ].join('\n');
}
