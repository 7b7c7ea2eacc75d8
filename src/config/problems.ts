/**
 * Config problems: one per thing wrong, each naming where (`agents.codegen.command`) and what
 * (`expected array, received string`), so `config check` prints one line per problem and an
 * operator can fix them all in one go.
 */
import type { z } from 'zod';
import { ErrorCodes, MiyabiError } from '../errors.ts';

export interface ConfigProblem {
  /** Dotted path of the field (`agents.codegen.command`, `nats.urls[0]`); '' for the whole file. */
  readonly path: string;
  readonly message: string;
  /** 1-based line and column in the file, where known. */
  readonly line?: number;
  readonly column?: number;
}

/** One line: `path: message (line N)`. */
export function formatProblem(problem: ConfigProblem): string {
  if (problem.path === '') return problem.message;
  const where = problem.line === undefined ? '' : ` (line ${problem.line})`;
  return `${problem.path}: ${problem.message}${where}`;
}

/** The config is invalid; `problems` lists every problem found, in file order where known. */
export class ConfigInvalidError extends MiyabiError {
  readonly problems: readonly ConfigProblem[];
  readonly source: string;
  constructor(source: string, problems: readonly ConfigProblem[]) {
    super(
      ErrorCodes.ConfigInvalid,
      `invalid config ${source}:\n${problems.map((p) => `  ${formatProblem(p)}`).join('\n')}`,
    );
    this.name = 'ConfigInvalidError';
    this.source = source;
    this.problems = problems;
  }
}

export function pathToString(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}

/** What a value is, in the words of a problem message. */
export function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number' && Number.isNaN(value)) return 'NaN';
  return typeof value;
}

function quote(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/** A zod issue as problems (several when it names several unknown keys). */
export function problemsFromIssue(
  issue: z.core.$ZodIssue,
  suggest: (path: readonly PropertyKey[], key: string) => string | undefined,
): { path: PropertyKey[]; message: string }[] {
  const path = [...issue.path];
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => {
        const guess = suggest(path, key);
        return {
          path: [...path, key],
          message: guess === undefined ? 'unknown key' : `unknown key (did you mean "${guess}"?)`,
        };
      });
    case 'invalid_type': {
      const expected = issue.expected === 'int' ? 'integer' : issue.expected;
      if (issue.input === undefined) return [{ path, message: `required (expected ${expected})` }];
      if (path.length === 0) {
        return [{ path, message: `the file must hold a mapping of settings, received ${kindOf(issue.input)}` }];
      }
      return [{ path, message: `expected ${expected}, received ${kindOf(issue.input)}` }];
    }
    case 'invalid_value':
      return [
        {
          path,
          message: `expected one of ${issue.values.map(quote).join(', ')}, received ${quote(issue.input)}`,
        },
      ];
    case 'invalid_key':
      return [{ path, message: issue.issues.map((inner) => inner.message).join('; ') }];
    case 'too_small':
    case 'too_big':
      return [{ path, message: sizeMessage(issue) }];
    default:
      return [{ path, message: issue.message }];
  }
}

function sizeMessage(issue: z.core.$ZodIssueTooSmall | z.core.$ZodIssueTooBig): string {
  const small = issue.code === 'too_small';
  const bound = Number(small ? issue.minimum : issue.maximum);
  const inclusive = issue.inclusive !== false;
  switch (issue.origin) {
    case 'array':
      return small ? `expected at least ${bound} item(s)` : `expected at most ${bound} item(s)`;
    case 'string':
      if (small && bound === 1) return 'expected a non-empty string';
      return `expected ${small ? 'at least' : 'at most'} ${bound} character(s)`;
    default: {
      const op = small ? (inclusive ? '>=' : '>') : inclusive ? '<=' : '<';
      return `expected a number ${op} ${bound}, received ${quote(issue.input)}`;
    }
  }
}
