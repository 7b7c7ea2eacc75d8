/**
 * The tracker directory's files (layout in ../local-source.ts): the per-issue records, the pull
 * requests and the labels, each checked against its schema when read (a corrupt one is an error
 * that names it), written atomically, and the Markdown views a person reads, rendered from them.
 */
import { randomUUID } from 'node:crypto';
import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { describeError } from '../../errors.ts';
import { LocalIssueSourceError, LocalSourceErrorCodes } from './errors.ts';
import { utf8, type IssueFile } from './issue-files.ts';

export const trackerRecordSchema = z.object({
  number: z.number().int().positive(),
  labels: z.object({ added: z.array(z.string()), removed: z.array(z.string()) }),
  state: z.enum(['open', 'closed']).optional(),
  comments: z.array(z.object({ key: z.string(), body: z.string(), at: z.string() })),
  pullRequests: z.array(z.number().int().positive()),
});

export type TrackerRecord = z.infer<typeof trackerRecordSchema>;

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
export async function writeAtomically(file: string, text: string): Promise<void> {
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

export const jsonFile = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

export function effectiveLabels(issue: IssueFile, record: TrackerRecord | undefined): string[] {
  if (!record) return issue.labels;
  const removed = new Set(record.labels.removed);
  return [...new Set([...issue.labels, ...record.labels.added])].filter((label) => !removed.has(label));
}

export function renderIssue(issue: IssueFile, record: TrackerRecord): string {
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

export function renderPull(pull: LocalPullRequest): string {
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
