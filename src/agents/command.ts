/**
 * The agent command: an argv array from the config, never a shell string.
 *
 * `{name}` placeholders (a name of letters and digits) are replaced inside the argument that
 * holds them; an argument is never split or joined, and a substituted value is never scanned
 * again, so whatever a value holds it stays inside its one argument. Braces around anything
 * else (`{"json": 1}`) are left as written. An unknown `{name}` is an error naming it.
 *
 * Values are file paths and numbers only: issue text is never a placeholder value. An agent
 * reads the issue from the task file (`{taskFile}`, `$MIYABI_TASK_FILE`).
 */
import { packageRoot } from '../package-root.ts';
import { UnknownPlaceholderError } from './errors.ts';

export interface PlaceholderValues {
  /** The task file (JSON) the agent reads. */
  taskFile: string;
  /** Where the agent may write its result file (JSON). */
  resultFile: string;
  /** The rendered prompt (Markdown). */
  promptFile: string;
  /** The per-task directory holding those three (outside the worktree). */
  taskDir: string;
  /** The task's git worktree, also the agent's working directory. */
  worktree: string;
  /** The issue number. */
  issue: number;
  /** The role name (from the config, never from an issue). */
  role: string;
  /** 1 for the first run of this task, 2 for its first retry …; it starts at 1 again in every round. */
  attempt: number;
  /** 0 for the first pass through the route, 1 after the first return to the first stage (review feedback, a red CI, a conflict) … */
  round: number;
  /** The miyabi-orchestra package directory, so `{packageRoot}/examples/agents/codegen.mjs` works from any worktree. */
  packageRoot: string;
}

export type PlaceholderName = keyof PlaceholderValues;

export const PLACEHOLDERS: readonly PlaceholderName[] = [
  'taskFile',
  'resultFile',
  'promptFile',
  'taskDir',
  'worktree',
  'issue',
  'role',
  'attempt',
  'round',
  'packageRoot',
];

const PLACEHOLDER = /\{([A-Za-z][A-Za-z0-9]*)\}/g;

/** The miyabi-orchestra package directory (where examples/ and config/ are), without a trailing slash. */
export function packageDir(): string {
  return packageRoot();
}

const isPlaceholder = (name: string): name is PlaceholderName => (PLACEHOLDERS as readonly string[]).includes(name);

/** Every unknown `{name}` of the command, with the index of its argument. */
export function unknownPlaceholders(command: readonly string[]): { name: string; argIndex: number }[] {
  return command.flatMap((arg, argIndex) =>
    [...arg.matchAll(PLACEHOLDER)].map(([, name]) => ({ name: name!, argIndex })).filter(({ name }) => !isPlaceholder(name)),
  );
}

/** Throws UnknownPlaceholderError for the first unknown `{name}`. */
export function checkCommand(command: readonly string[]): void {
  const [first] = unknownPlaceholders(command);
  if (first) throw new UnknownPlaceholderError(first.name, first.argIndex, PLACEHOLDERS);
}

/** The argv with placeholders substituted, one argument out for each argument in. */
export function substituteCommand(command: readonly string[], values: PlaceholderValues): string[] {
  checkCommand(command);
  return substitute(command, { ...values });
}

/** Substitutes `{name}` from `values` (every name used must be there: callers check first). */
export function substitute(command: readonly string[], values: Readonly<Record<string, string | number>>): string[] {
  return command.map((arg) => arg.replace(PLACEHOLDER, (_, name: string) => String(values[name])));
}

/** The `{name}`s of a command that are not in `known`. */
export function placeholdersOutside(command: readonly string[], known: readonly string[]): { name: string; argIndex: number }[] {
  return command.flatMap((arg, argIndex) =>
    [...arg.matchAll(PLACEHOLDER)].map(([, name]) => ({ name: name!, argIndex })).filter(({ name }) => !known.includes(name)),
  );
}
