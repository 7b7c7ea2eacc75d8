/**
 * Prompt templates (`config/prompts/<role>.md`), rendered strictly.
 *
 * The whole language: `{{dotted.name}}` (spaces inside the braces allowed) is replaced by the
 * value at that path of the task's variables. No helpers, no conditions, no code, no escapes.
 *
 * - A name that no task can fill (`{{issue.titel}}`) is `prompt_unknown_variable`; a name the
 *   template may use but this task has no value for (`{{previous.review.summary}}` before any
 *   review) is `prompt_missing_value`; a `{{` that opens no name is `prompt_syntax`. Each error
 *   names the variable, the template file and the line. A prompt is never rendered empty.
 * - Values are substituted once: text from an issue that looks like `{{role}}` stays as written.
 * - Text values as they are; numbers as digits; a list as `a, b` (`(none)` when empty); an
 *   object as JSON.
 *
 * `checkPromptTemplate` finds unknown variables and syntax errors without a task (at start);
 * `renderPrompt` renders for one task. Variables: see `PROMPT_VARIABLES`.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { packageDir } from './command.ts';
import { AgentErrorCodes, PromptTemplateError } from './errors.ts';
import type { AgentTask, StageResult } from './task.ts';

/** Every variable a template may use; `<stage>` is a role name, `<key>` an output's name. */
export const PROMPT_VARIABLES = [
  'issue.number',
  'issue.title',
  'issue.body',
  'issue.labels',
  'issue.author',
  'issue.url',
  'taskId',
  'role',
  'stage',
  'attempt',
  'round',
  'worktree',
  'branch',
  'resultFile',
  'history',
  'branchStart',
  'conflict',
  'answers',
  'previous.<stage>.status',
  'previous.<stage>.summary',
  'previous.<stage>.outputs.<key>',
] as const;

const known: RegExp[] = [
  /^issue\.(number|title|body|labels|author|url)$/,
  /^(taskId|role|stage|attempt|round|worktree|branch|resultFile|history|branchStart|conflict|answers)$/,
  /^previous\.[a-z][a-z0-9-]*\.(status|summary)$/,
  /^previous\.[a-z][a-z0-9-]*\.outputs(\.[^.]+)+$/,
];

const NAME = /^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$/;

type Piece = { text: string } | { variable: string; line: number };

/** The shipped template of a role, unless the config names another file. */
export function promptFileOf(role: string, configured?: string): string {
  return configured ?? join(packageDir(), 'config', 'prompts', `${role}.md`);
}

function parseTemplate(template: string, file: string): Piece[] {
  const pieces: Piece[] = [];
  let at = 0;
  for (;;) {
    const open = template.indexOf('{{', at);
    if (open === -1) break;
    pieces.push({ text: template.slice(at, open) });
    const line = lineAt(template, open);
    const close = template.indexOf('}}', open + 2);
    if (close === -1) {
      throw new PromptTemplateError(AgentErrorCodes.PromptSyntax, `unclosed {{ in ${file} line ${line}`, file, undefined, line);
    }
    const name = template.slice(open + 2, close).trim();
    if (!NAME.test(name)) {
      throw new PromptTemplateError(
        AgentErrorCodes.PromptSyntax,
        `{{${template.slice(open + 2, close)}}} in ${file} line ${line} is not a variable: templates only hold {{dotted.names}}`,
        file,
        name,
        line,
      );
    }
    pieces.push({ variable: name, line });
    at = close + 2;
  }
  pieces.push({ text: template.slice(at) });
  return pieces;
}

function lineAt(text: string, index: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < index; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

function unknownVariable(variable: string, line: number, file: string): PromptTemplateError {
  return new PromptTemplateError(
    AgentErrorCodes.PromptUnknownVariable,
    `unknown variable {{${variable}}} in ${file} line ${line}; known: ${PROMPT_VARIABLES.join(', ')}`,
    file,
    variable,
    line,
  );
}

/** Throws on a syntax error or an unknown variable; returns the variables used, in order. */
export function checkPromptTemplate(template: string, file: string): string[] {
  const variables: string[] = [];
  for (const piece of parseTemplate(template, file)) {
    if (!('variable' in piece)) continue;
    if (!known.some((pattern) => pattern.test(piece.variable))) throw unknownVariable(piece.variable, piece.line, file);
    variables.push(piece.variable);
  }
  return variables;
}

/** A task as templates see it; `resultFile` is known once the runner has placed the task files. */
export type PromptTask = AgentTask & { resultFile?: string };

/** The values templates see for one task. */
export function promptVariables(task: PromptTask): Record<string, unknown> {
  const { issue, taskId, role, stage, attempt, round, worktree, branch, resultFile, previous } = task;
  return {
    issue,
    taskId,
    role,
    stage,
    attempt,
    round,
    worktree,
    branch,
    resultFile,
    previous,
    history: renderHistory(previous),
    branchStart: renderBranchStart(task),
    conflict: renderConflict(task),
    answers: renderAnswers(task),
  };
}

/** `{{branchStart}}`: what the branch was made from, and where its dependencies' work stands. */
export function renderBranchStart(task: Pick<AgentTask, 'git' | 'branch'>): string {
  const { git } = task;
  if (!git) return `The branch \`${task.branch}\` was made by the orchestra; nothing more is known of where it started.`;
  const lines = [
    `The branch \`${task.branch}\` started from ${git.startedFrom.ref} (${git.startedFrom.sha.slice(0, 12)}); its pull request targets \`${git.pullRequestBase}\` (dependencies mode: ${git.mode}).`,
  ];
  for (const dependency of git.dependencies) {
    const state = dependency.merged ? `merged into ${git.baseBranch}` : `not merged yet, its branch \`${dependency.branch}\` is at ${dependency.head?.slice(0, 12) ?? '(gone)'}`;
    lines.push(`- #${dependency.number}: ${state}. Its work is already in this branch.`);
  }
  return lines.join('\n');
}

/** `{{conflict}}`: a merge conflict to resolve first, with both sides' commits; "(none)" otherwise. */
export function renderConflict(task: Pick<AgentTask, 'conflict' | 'branch'>): string {
  const { conflict } = task;
  if (!conflict) return '(none)';
  const commits = (list: ReadonlyArray<{ sha: string; subject: string }>) =>
    list.length === 0 ? '  (none listed)' : list.map((commit) => `  - ${commit.sha.slice(0, 12)} ${commit.subject}`).join('\n');
  return [
    `Before anything else, merge ${conflict.theirs.ref} (commit ${conflict.theirs.sha}) into \`${task.branch}\` — \`git merge ${conflict.theirs.sha}\` — and resolve the conflicts, keeping the intent of both sides; then commit the merge.`,
    `Files in conflict: ${conflict.files.length > 0 ? conflict.files.join(', ') : '(the tracker did not say; git will)'}.`,
    `Their commits (${conflict.theirs.ref}):`,
    commits(conflict.commits.theirs),
    `Your branch's commits:`,
    commits(conflict.commits.ours),
  ].join('\n');
}

/** `{{answers}}`: the questions agents asked for this issue and the answers people gave; "(none)" otherwise. */
export function renderAnswers(task: Pick<AgentTask, 'answers'>): string {
  if (task.answers.length === 0) return '(none)';
  return task.answers.map((entry) => `- ${entry.stage} asked: ${entry.question}\n  ${entry.by} answered: ${entry.answer}`).join('\n');
}

/** `{{history}}`: what earlier stages of the issue produced, as Markdown. */
export function renderHistory(previous: Record<string, StageResult>): string {
  const stages = Object.entries(previous);
  if (stages.length === 0) return '(none: no earlier stage has run for this issue)';
  return stages
    .map(([stage, result]) => {
      const outputs =
        result.outputs && Object.keys(result.outputs).length > 0
          ? `\n\nOutputs:\n\n\`\`\`json\n${JSON.stringify(result.outputs, null, 2)}\n\`\`\``
          : '';
      return `### ${stage}: ${result.status}\n\n${result.summary ?? '(no summary)'}${outputs}`;
    })
    .join('\n\n');
}

function lookup(scope: unknown, variable: string): unknown {
  let node = scope;
  for (const part of variable.split('.')) {
    if (node === null || typeof node !== 'object' || Array.isArray(node) || !Object.hasOwn(node, part)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

function asText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) {
    if (value.length === 0) return '(none)';
    if (value.every((item) => ['string', 'number', 'boolean'].includes(typeof item))) return value.join(', ');
  }
  return JSON.stringify(value, null, 2);
}

/** Renders `template` (read from `file`, named in errors) for `task`. Throws PromptTemplateError. */
export function renderPrompt(template: string, task: PromptTask, file = '(inline template)'): string {
  checkPromptTemplate(template, file);
  const scope = promptVariables(task);
  const rendered = parseTemplate(template, file)
    .map((piece) => {
      if ('text' in piece) return piece.text;
      const value = lookup(scope, piece.variable);
      if (value === undefined || value === null) {
        throw new PromptTemplateError(
          AgentErrorCodes.PromptMissingValue,
          `{{${piece.variable}}} in ${file} line ${piece.line} has no value for task ${task.taskId}`,
          file,
          piece.variable,
          piece.line,
        );
      }
      return asText(value);
    })
    .join('');
  if (rendered.trim() === '') {
    throw new PromptTemplateError(AgentErrorCodes.PromptEmpty, `${file} renders to an empty prompt`, file);
  }
  return rendered;
}

export async function loadPromptTemplate(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new PromptTemplateError(
      AgentErrorCodes.PromptTemplateUnreadable,
      `cannot read prompt template ${file}: ${(error as Error).message}`,
      file,
    );
  }
}

/** Reads and renders a role's template for `task`. */
export async function renderPromptFile(file: string, task: PromptTask): Promise<string> {
  return renderPrompt(await loadPromptTemplate(file), task, file);
}
