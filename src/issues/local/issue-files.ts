/**
 * The operator's issue files: parsing one (YAML front matter and a Markdown body, format in
 * ../local-source.ts) into fields or a problem that names the field, and reading a directory of
 * them is ./issue-directory.ts. Read only: nothing here writes.
 */
import { parse as parseYaml } from 'yaml';
import { describeError } from '../../errors.ts';
import { AUTHOR_ASSOCIATIONS, type AuthorAssociation } from '../source.ts';

/** A person's comment written in the issue file's front matter. */
export interface IssueFileComment {
  author: string;
  /** Default OWNER, as for the issue: the directory is the operator's own. */
  association: AuthorAssociation;
  /** Default: the login ends with `[bot]`. */
  bot: boolean;
  body: string;
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
  /** People's comments, in the order of the file. */
  comments: IssueFileComment[];
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

const ASSOCIATIONS: readonly AuthorAssociation[] = AUTHOR_ASSOCIATIONS;

// Not fatal: invalid bytes become U+FFFD, so a stray Latin-1 file is served rather than refused.
export const utf8 = new TextDecoder('utf-8');

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

  const association = associationOf('association', given('association'));

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

  const comments = given('comments') ?? [];
  if (!Array.isArray(comments)) fail('comments', 'expected a list of { author, body } mappings');

  return {
    number,
    title: text('title'),
    labels: [...new Set(labels)],
    author: text('author', 'local'),
    association,
    state,
    dependsOn: [...new Set(dependencies)],
    labeledBy: labelers,
    comments: comments.map((entry: unknown, index) => commentFields(`comments[${index}]`, entry)),
  };
}

function associationOf(field: string, value: unknown): AuthorAssociation {
  const given = value ?? 'OWNER';
  const association = ASSOCIATIONS.find((known) => typeof given === 'string' && known === given.toUpperCase());
  return association ?? fail(field, `expected one of ${ASSOCIATIONS.join(', ')}`);
}

function commentFields(field: string, entry: unknown): IssueFileComment {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) fail(field, 'expected a mapping with author and body');
  const fields = entry as Record<string, unknown>;
  const author = fields.author ?? undefined;
  if (author === undefined) fail(`${field}.author`, 'required, a login');
  if (!isName(author)) fail(`${field}.author`, 'expected a non-empty string');
  const body = fields.body ?? undefined;
  if (typeof body !== 'string') fail(`${field}.body`, body === undefined ? 'required, a string' : 'expected a string');
  const bot = fields.bot ?? author.endsWith('[bot]');
  if (typeof bot !== 'boolean') fail(`${field}.bot`, 'expected true or false');
  return { author, association: associationOf(`${field}.association`, fields.association ?? undefined), bot, body: body.trimEnd() };
}
