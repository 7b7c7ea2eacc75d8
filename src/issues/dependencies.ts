/**
 * Where an issue's dependencies come from: references in its body (untrusted text) and a
 * dependency file the project keeps (`issue: [dependencies]` in YAML). The tracker's own field
 * (`TrackedIssue.dependsOn`) is read as it is. Pure: text in, issue numbers out.
 *
 * A reference names an issue of this repository (`#12`) or of a repository by name
 * (`owner/repo#12`, a link `https://github.com/owner/repo/issues/12` — any host). The orchestra
 * works one repository: a reference to another one is answered apart (`elsewhere`, as
 * `owner/repo#12`) for the caller to log and ignore; naming our own repository (`repository`,
 * compared without case) is the same as `#12`.
 */
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument } from 'yaml';

/** Dependencies found in a text: this repository's issue numbers, and the references to other repositories. */
export interface References {
  numbers: number[];
  /** `owner/repo#12`, as written (case kept), unique. */
  elsewhere: string[];
}

const ownerRepo = String.raw`[A-Za-z0-9][A-Za-z0-9-]*\/[\w.-]+`;
/** Groups: owner/repo of `owner/repo#n`, owner/repo of a link, the number. */
const reference = String.raw`(?:#|(${ownerRepo})#|https?:\/\/[^\s/]+\/(${ownerRepo})\/issues\/)(\d+)\b`;

/**
 * `depends on #12`, `depends on: #1, #2 and #3`, `blocked by #7`, `requires #4`, and task-list
 * items (`- [ ] #9`, `* [x] #9`); case-insensitive, within one line. Each `#n` may be written
 * `owner/repo#n` or as a link to the issue.
 *
 * Bodies are untrusted and may be megabytes: each pattern is linear (no two neighbouring
 * quantifiers match the same characters), and a list is read one item at a time with a sticky
 * pattern — a repeated group over a list of a million items overflows the regexp engine's
 * backtracking stack. A body that is not a string (null from an API) has no dependencies.
 */
const statedDependency = new RegExp(String.raw`\b(?:depends(?:[ \t]+|-)on|blocked[ \t]+by|requires)[ \t]*(?::[ \t]*)?${reference}`, 'gi');
const nextInList = new RegExp(String.raw`[ \t]*(?:,[ \t]*(?:and[ \t]+)?|and[ \t]+|&[ \t]*)${reference}`, 'iy');
const taskListItem = new RegExp(String.raw`^[ \t]*[-*+][ \t]+\[[ xX]\][ \t]+${reference}`, 'gm');

/** This repository's issues a body depends on (see `parseBodyReferences`). */
export function parseBodyDependencies(body: string, repository?: string): number[] {
  return parseBodyReferences(body, repository).numbers;
}

/** A body's dependencies, this repository's (`repository` is `owner/repo`, when it has a name) and the others. */
export function parseBodyReferences(body: string, repository?: string): References {
  const found = new Set<number>();
  const elsewhere = new Set<string>();
  if (typeof body !== 'string') return { numbers: [], elsewhere: [] };
  const here = repository?.toLowerCase();
  const add = (match: RegExpExecArray) => {
    const issue = Number(match[3]!);
    if (!Number.isSafeInteger(issue) || issue <= 0) return;
    const named = match[1] ?? match[2];
    if (named === undefined || named.toLowerCase() === here) found.add(issue);
    else elsewhere.add(`${named}#${issue}`);
  };
  statedDependency.lastIndex = 0;
  for (let match = statedDependency.exec(body); match !== null; match = statedDependency.exec(body)) {
    add(match);
    // A failed sticky match resets lastIndex to 0: the end of the list is kept apart.
    let end = statedDependency.lastIndex;
    nextInList.lastIndex = end;
    for (let item = nextInList.exec(body); item !== null; item = nextInList.exec(body)) {
      add(item);
      end = nextInList.lastIndex;
    }
    statedDependency.lastIndex = end;
  }
  taskListItem.lastIndex = 0;
  for (let match = taskListItem.exec(body); match !== null; match = taskListItem.exec(body)) add(match);
  return { numbers: [...found].sort((a, b) => a - b), elsewhere: [...elsewhere] };
}

export interface DependencyFileProblem {
  line: number;
  column?: number;
  /** Names the file and the place: `deps.yaml:3:1: "abc" is not an issue number`. */
  message: string;
}

/**
 * The dependencies, and the entries that name an issue of another repository, ignored (each with
 * its place, for the caller to log); or every problem.
 */
export type DependencyFile = { dependencies: Map<number, number[]>; ignored: DependencyFileProblem[] } | { problems: DependencyFileProblem[] };

/**
 * A dependency file: a mapping of issue → list of the issues it depends on. Keys and items are
 * numbers or `"#12"` strings. Every problem is reported at once, each at its line: malformed
 * YAML, a key that is not an issue number, an issue listed twice, a value that is not a list of
 * issue numbers, an issue that depends on itself.
 *
 * An issue of another repository (`other/repo#5`, or a link to it) is not a problem: it is
 * ignored, and said so in `ignored`; naming our own `repository` is the same as `#5`.
 *
 *     12: [3, 5, other/repo#7]
 *     "#13": ["#12"]
 */
export function parseDependencyFile(text: string, file: string, repository?: string): DependencyFile {
  const lineCounter = new LineCounter();
  // Duplicate keys are our own check: the message names the issue and both lines.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
  const problems: DependencyFileProblem[] = [];
  const ignored: DependencyFileProblem[] = [];
  const at = (offset: number | undefined, message: string): DependencyFileProblem => {
    const { line, col } = lineCounter.linePos(offset ?? 0);
    return { line, column: col, message: `${file}:${line}:${col}: ${message}` };
  };
  const report = (offset: number | undefined, message: string) => void problems.push(at(offset, message));
  const ignore = (node: unknown, message: string) => void ignored.push(at(offsetOf(node), message));
  if (doc.errors.length > 0) {
    for (const error of doc.errors) report(error.pos[0], `malformed YAML: ${error.message.split('\n')[0]!}`);
    return { problems };
  }
  const root = doc.contents;
  if (root === null || (isScalar(root) && root.value === null)) return { dependencies: new Map(), ignored };
  if (!isMap(root)) {
    report(offsetOf(root), 'expected a mapping of issue → [dependencies], like `12: [3, 5]`');
    return { problems };
  }
  const dependencies = new Map<number, number[]>();
  const listedAt = new Map<number, number>();
  for (const { key, value } of root.items) {
    const issue = issueNumberOf(key, repository);
    if (typeof issue === 'string') {
      ignore(key, `${issue} is an issue of another repository: its dependencies are ignored`);
      continue;
    }
    if (issue === undefined) {
      report(offsetOf(key) ?? offsetOf(value), `${describeNode(key)} is not an issue number`);
      continue;
    }
    const line = lineCounter.linePos(offsetOf(key) ?? 0).line;
    if (listedAt.has(issue)) {
      report(offsetOf(key), `#${issue} is listed twice (first at line ${listedAt.get(issue)!})`);
      continue;
    }
    listedAt.set(issue, line);
    if (!isSeq(value)) {
      const empty = value === null || (isScalar(value) && value.value === null);
      const detail = empty ? 'nothing (write [] for none)' : describeNode(value);
      const message = `the dependencies of #${issue} must be a list of issue numbers, like [3, 5], not ${detail}`;
      report(offsetOf(value) ?? offsetOf(key), message);
      continue;
    }
    const list = new Set<number>();
    for (const item of value.items) {
      const dependency = issueNumberOf(item, repository);
      if (typeof dependency === 'string') {
        ignore(item, `${dependency} in the dependencies of #${issue} is an issue of another repository: ignored`);
      } else if (dependency === undefined) {
        const message = `${describeNode(item)} in the dependencies of #${issue} is not an issue number`;
        report(offsetOf(item) ?? offsetOf(value), message);
      } else if (dependency === issue) {
        report(offsetOf(item), `#${issue} depends on itself`);
      } else {
        list.add(dependency);
      }
    }
    dependencies.set(issue, [...list].sort((a, b) => a - b));
  }
  return problems.length > 0 ? { problems } : { dependencies, ignored };
}

const namedIssue = new RegExp(String.raw`^(?:(${ownerRepo})#|https?:\/\/[^\s/]+\/(${ownerRepo})\/issues\/)(\d{1,15})\/?$`);

/** This repository's issue number; `owner/repo#n` for an issue of another one; undefined when it is no issue. */
function issueNumberOf(node: unknown, repository: string | undefined): number | string | undefined {
  if (!isScalar(node)) return undefined;
  const { value } = node;
  let issue = NaN;
  if (typeof value === 'number') issue = value;
  else if (typeof value === 'string' && /^#?\d{1,15}$/.test(value)) issue = Number(value.replace('#', ''));
  else if (typeof value === 'string') {
    const named = namedIssue.exec(value.trim());
    if (named === null) return undefined;
    const owner = named[1] ?? named[2]!;
    issue = Number(named[3]!);
    if (!Number.isSafeInteger(issue) || issue <= 0) return undefined;
    if (owner.toLowerCase() !== repository?.toLowerCase()) return `${owner}#${issue}`;
  }
  return Number.isSafeInteger(issue) && issue > 0 ? issue : undefined;
}

function offsetOf(node: unknown): number | undefined {
  return (node as { range?: [number, number, number] } | null)?.range?.[0];
}

function describeNode(node: unknown): string {
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isAlias(node)) return 'an alias';
  if (!isScalar(node) || node.value === null) return 'an empty value';
  if (typeof node.value !== 'string') return String(node.value);
  const text = node.value;
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}
