/**
 * Where an issue's dependencies come from: references in its body (untrusted text) and a
 * dependency file the project keeps (`issue: [dependencies]` in YAML). The tracker's own field
 * (`TrackedIssue.dependsOn`) is read as it is. Pure: text in, issue numbers out.
 */
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument } from 'yaml';

/**
 * `depends on #12`, `depends on: #1, #2 and #3`, `blocked by #7`, `requires #4`, and task-list
 * items (`- [ ] #9`, `* [x] #9`); case-insensitive, within one line. Only references to this
 * repository's issues (`#12`); `owner/repo#12` is another tracker's.
 *
 * Bodies are untrusted and may be megabytes: each pattern is linear (no two neighbouring
 * quantifiers match the same characters), and a list is read one item at a time with a sticky
 * pattern — a repeated group over a list of a million items overflows the regexp engine's
 * backtracking stack. A body that is not a string (null from an API) has no dependencies.
 */
const statedDependency = /\b(?:depends(?:[ \t]+|-)on|blocked[ \t]+by|requires)[ \t]*(?::[ \t]*)?#(\d+)\b/gi;
const nextInList = /[ \t]*(?:,[ \t]*(?:and[ \t]+)?|and[ \t]+|&[ \t]*)#(\d+)\b/iy;
const taskListItem = /^[ \t]*[-*+][ \t]+\[[ xX]\][ \t]+#(\d+)\b/gm;

export function parseBodyDependencies(body: string): number[] {
  if (typeof body !== 'string') return [];
  const found = new Set<number>();
  const add = (digits: string) => {
    const issue = Number(digits);
    if (Number.isSafeInteger(issue) && issue > 0) found.add(issue);
  };
  statedDependency.lastIndex = 0;
  for (let match = statedDependency.exec(body); match !== null; match = statedDependency.exec(body)) {
    add(match[1]!);
    // A failed sticky match resets lastIndex to 0: the end of the list is kept apart.
    let end = statedDependency.lastIndex;
    nextInList.lastIndex = end;
    for (let item = nextInList.exec(body); item !== null; item = nextInList.exec(body)) {
      add(item[1]!);
      end = nextInList.lastIndex;
    }
    statedDependency.lastIndex = end;
  }
  taskListItem.lastIndex = 0;
  for (let match = taskListItem.exec(body); match !== null; match = taskListItem.exec(body)) add(match[1]!);
  return [...found].sort((a, b) => a - b);
}

export interface DependencyFileProblem {
  line: number;
  column?: number;
  /** Names the file and the place: `deps.yaml:3:1: "abc" is not an issue number`. */
  message: string;
}

export type DependencyFile = { dependencies: Map<number, number[]> } | { problems: DependencyFileProblem[] };

/**
 * A dependency file: a mapping of issue → list of the issues it depends on. Keys and items are
 * numbers or `"#12"` strings. Every problem is reported at once, each at its line: malformed
 * YAML, a key that is not an issue number, an issue listed twice, a value that is not a list of
 * issue numbers, an issue that depends on itself.
 *
 *     12: [3, 5]
 *     "#13": ["#12"]
 */
export function parseDependencyFile(text: string, file: string): DependencyFile {
  const lineCounter = new LineCounter();
  // Duplicate keys are our own check: the message names the issue and both lines.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
  const problems: DependencyFileProblem[] = [];
  const report = (offset: number | undefined, message: string) => {
    const { line, col } = lineCounter.linePos(offset ?? 0);
    problems.push({ line, column: col, message: `${file}:${line}:${col}: ${message}` });
  };
  if (doc.errors.length > 0) {
    for (const error of doc.errors) report(error.pos[0], `malformed YAML: ${error.message.split('\n')[0]!}`);
    return { problems };
  }
  const root = doc.contents;
  if (root === null || (isScalar(root) && root.value === null)) return { dependencies: new Map() };
  if (!isMap(root)) {
    report(offsetOf(root), 'expected a mapping of issue → [dependencies], like `12: [3, 5]`');
    return { problems };
  }
  const dependencies = new Map<number, number[]>();
  const listedAt = new Map<number, number>();
  for (const { key, value } of root.items) {
    const issue = issueNumberOf(key);
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
      const dependency = issueNumberOf(item);
      if (dependency === undefined) {
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
  return problems.length > 0 ? { problems } : { dependencies };
}

function issueNumberOf(node: unknown): number | undefined {
  if (!isScalar(node)) return undefined;
  const { value } = node;
  let issue = NaN;
  if (typeof value === 'number') issue = value;
  else if (typeof value === 'string' && /^#?\d{1,15}$/.test(value)) issue = Number(value.replace('#', ''));
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
