/**
 * The two files of the agent protocol, and what a finished run means.
 *
 * - The **task file** (`task.json`, JSON) is what the agent reads: the issue as data, the role
 *   and stage, the attempt, the rendered prompt, the worktree and branch, and what earlier
 *   stages of the same issue produced (`previous.<stage>`: the latest result of that stage, so a
 *   second codegen round sees the review's feedback, and a second review sees its own first).
 * - The **result file** (`result.json`, JSON, optional) is what the agent answers: `status` and,
 *   optionally, `summary`, `outputs` and `cost`. When present and valid it wins over the exit code.
 *
 * `outcomeOf` is the one mapping from how a run ended to what the orchestra does next:
 *
 * | run ended with                     | outcome             |
 * | ---------------------------------- | ------------------- |
 * | a timeout, a signal, a cancel      | `retry`             |
 * | a valid result file                | its `status`        |
 * | an invalid result file             | `failure` (the zod problem named) |
 * | exit 0                             | `success`           |
 * | exit 75 (EX_TEMPFAIL)              | `retry`             |
 * | any other exit                     | `failure`           |
 *
 * docs/AGENT_PROTOCOL.md is the prose of this contract.
 */
import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { AgentErrorCodes, type AgentErrorCode } from './errors.ts';

export const TASK_SCHEMA_VERSION = 1;
/** sysexits.h EX_TEMPFAIL: "try again later". */
export const EXIT_TEMPFAIL = 75;
/** A result file larger than this is refused (an agent does not answer in megabytes). */
export const MAX_RESULT_FILE_BYTES = 1024 * 1024;

const roleName = z.string().regex(/^[a-z][a-z0-9-]*$/, 'expected a role name of lowercase letters, digits and dashes');

export const issueSchema = z
  .object({
    number: z.number().int().positive().describe('Issue number on its tracker'),
    title: z.string().describe('Title, as written by whoever filed the issue: untrusted'),
    body: z.string().describe('Body (Markdown), untrusted'),
    labels: z.array(z.string()).describe('Label names'),
    author: z.string().describe('Login of the author'),
    url: z.string().optional().describe('Web address of the issue, when the tracker has one'),
  })
  .strict();

export const resultStatusSchema = z.enum(['success', 'failure', 'changes_requested', 'needs_input']);

export const costSchema = z
  .object({
    usd: z.number().nonnegative().optional(),
    inputTokens: z.number().int().nonnegative().optional(),
    outputTokens: z.number().int().nonnegative().optional(),
  })
  .strict();

/** The result file an agent may write. Unknown keys are refused so a typo is not lost. */
export const resultFileSchema = z
  .object({
    schema: z.literal(TASK_SCHEMA_VERSION).optional(),
    status: resultStatusSchema,
    summary: z.string().optional(),
    /** With `needs_input`: the question for a person (else the summary is the question). */
    question: z.string().optional(),
    outputs: z.record(z.string(), z.unknown()).optional(),
    cost: costSchema.optional(),
  })
  .strict()
  .refine((result) => result.status !== 'needs_input' || Boolean(result.question?.trim() || result.summary?.trim()), {
    message: 'needs_input needs a question (or a summary)',
    path: ['question'],
  });

/** What one earlier stage produced, as the next stages see it. */
export const stageResultSchema = z
  .object({
    status: resultStatusSchema,
    summary: z.string().optional(),
    outputs: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

const gitRefSchema = z
  .object({ ref: z.string().describe('A branch name, or a description such as "merge of #3 and #4"'), sha: z.string().describe('The commit') })
  .strict();

const commitSchema = z.object({ sha: z.string(), subject: z.string() }).strict();

/** What an issue's branch was made from, and where its pull request goes (docs/AGENT_PROTOCOL.md). */
export const gitPlanSchema = z
  .object({
    mode: z.enum(['merged', 'stacked']).describe('workflow.dependencies.mode'),
    baseBranch: z.string().describe('The repository\'s base branch: merges go there'),
    startedFrom: gitRefSchema.describe('What the branch was made from, or last restacked onto'),
    dependencies: z.array(
      z
        .object({
          number: z.number().int().positive(),
          branch: z.string(),
          head: z.string().nullable().describe('Its branch head when this branch was made or restacked'),
          merged: z.boolean(),
          mergeCommit: z.string().optional().describe('The commit that merged it into the base branch'),
        })
        .strict(),
    ),
    pullRequestBase: z.string().describe('The branch the pull request targets'),
  })
  .strict();

/** A merge conflict the agent is to resolve on its branch. */
export const conflictReportSchema = z
  .object({
    during: z.enum(['branch', 'restack', 'merge']).describe('Making the branch from several dependencies, restacking it, or merging it'),
    theirs: gitRefSchema.describe('What to merge into the branch'),
    ours: gitRefSchema.describe('The branch as it was'),
    files: z.array(z.string()).describe('The files in conflict'),
    commits: z.object({ theirs: z.array(commitSchema), ours: z.array(commitSchema) }).strict(),
  })
  .strict();

/** A question an agent asked (`needs_input`) and a trusted person's answer. */
export const answerRecordSchema = z.object({ stage: z.string(), question: z.string(), answer: z.string(), by: z.string() }).strict();

/** A task as the orchestra hands it to the runner: no file paths, no prompt yet. */
export const agentTaskSchema = z
  .object({
    taskId: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/, 'expected letters, digits, ".", "_", ":" or "-" (it names a directory)'),
    issue: issueSchema,
    role: roleName,
    stage: roleName,
    attempt: z.number().int().positive(),
    round: z.number().int().nonnegative().default(0),
    worktree: z.string().refine(isAbsolute, 'expected an absolute path'),
    branch: z.string().min(1),
    previous: z.record(roleName, stageResultSchema).default({}),
    git: gitPlanSchema.optional(),
    conflict: conflictReportSchema.optional(),
    answers: z.array(answerRecordSchema).default([]),
  })
  .strict();

/** The task file the agent reads: the task, its rendered prompt and where to answer. */
export const taskFileSchema = agentTaskSchema
  .extend({
    schema: z.literal(TASK_SCHEMA_VERSION),
    prompt: z.string().min(1),
    resultFile: z.string().min(1),
  })
  .strict();

export type Issue = z.infer<typeof issueSchema>;
export type ResultStatus = z.infer<typeof resultStatusSchema>;
export type AgentCost = z.infer<typeof costSchema>;
export type ResultFile = z.infer<typeof resultFileSchema>;
export type StageResult = z.infer<typeof stageResultSchema>;
export type AgentTask = z.output<typeof agentTaskSchema>;
export type AgentTaskInput = z.input<typeof agentTaskSchema>;
export type TaskFile = z.infer<typeof taskFileSchema>;
export type GitPlan = z.infer<typeof gitPlanSchema>;
export type ConflictReport = z.infer<typeof conflictReportSchema>;
export type AnswerRecord = z.infer<typeof answerRecordSchema>;

export type OutcomeStatus = 'success' | 'retry' | 'failure' | 'changes_requested' | 'needs_input';

export interface AgentOutcome {
  status: OutcomeStatus;
  /** One line for logs, the issue comment and the dead-letter reason. */
  reason: string;
  /** Set when the protocol, not the agent, decided (`command_not_found`, `result_invalid` …). */
  code?: AgentErrorCode;
  summary?: string;
  /** With `needs_input`: the question for a person. */
  question?: string;
  outputs?: Record<string, unknown>;
  cost?: AgentCost;
  /** What of the result file was ignored, and why (a cost field that is not a number). */
  warnings?: string[];
}

export interface RunEnd {
  /** Undefined when the process never ran or was ended by a signal. */
  exitCode: number | undefined;
  /** The signal that ended the process, if one did (`SIGKILL`). */
  signal: string | undefined;
  /** The runner killed it at the task timeout (`timeoutMs` for the reason). */
  timedOut: boolean;
  timeoutMs?: number;
  /** The caller cancelled the run. */
  cancelled?: boolean;
  /** The result file's text, undefined when the agent wrote none. */
  resultFile: string | undefined;
}

/** The problems of a zod error, one `path: message` each, joined. */
export function describeZodError(error: z.ZodError): string {
  return error.issues
    .map((issue) => (issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message))
    .join('; ');
}

/**
 * The result file's `cost` with every field that is not a valid count left out, each named in a
 * warning: a bad cost never costs the agent its answer, and the wall-clock is counted anyway.
 */
function lenientCost(json: unknown): string[] {
  if (typeof json !== 'object' || json === null || !('cost' in json)) return [];
  const holder = json as { cost: unknown };
  if (typeof holder.cost !== 'object' || holder.cost === null || Array.isArray(holder.cost)) {
    const warning = `cost: expected an object of numbers, got ${JSON.stringify(holder.cost)?.slice(0, 80)}; ignored`;
    delete (holder as { cost?: unknown }).cost;
    return [warning];
  }
  const cost = holder.cost as Record<string, unknown>;
  const warnings: string[] = [];
  for (const [key, value] of Object.entries(cost)) {
    const field = costSchema.shape[key as keyof typeof costSchema.shape];
    if (field === undefined || !field.safeParse(value).success) {
      delete cost[key];
      warnings.push(field === undefined ? `cost.${key}: unknown field; ignored` : `cost.${key}: expected a non-negative number, got ${JSON.stringify(value)?.slice(0, 80)}; ignored`);
    }
  }
  return warnings;
}

/**
 * The cost so far that an agent may write while it runs (`$MIYABI_COST_FILE`, docs/AGENT_PROTOCOL.md):
 * the fields of the result file's `cost`, each that is not a valid count left out with a warning.
 * Undefined when the text is not JSON (a file caught half-written: read again at the next look).
 */
export function parseRunningCost(text: string): { cost: AgentCost; warnings: string[] } | undefined {
  if (Buffer.byteLength(text) > MAX_RESULT_FILE_BYTES) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const holder: { cost?: unknown } = { cost: json };
  const warnings = lenientCost(holder);
  const parsed = costSchema.safeParse(holder.cost ?? {});
  return parsed.success ? { cost: parsed.data, warnings } : undefined;
}

/** Parses a result file's text: the result (and what of its cost was ignored), or the problem in one line. */
export function parseResultFile(text: string): { ok: true; result: ResultFile; warnings: string[] } | { ok: false; problem: string } {
  if (Buffer.byteLength(text) > MAX_RESULT_FILE_BYTES) {
    return { ok: false, problem: `larger than ${MAX_RESULT_FILE_BYTES} bytes` };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { ok: false, problem: `not JSON (${(error as Error).message})` };
  }
  const warnings = lenientCost(json);
  const parsed = resultFileSchema.safeParse(json);
  return parsed.success ? { ok: true, result: parsed.data, warnings } : { ok: false, problem: describeZodError(parsed.error) };
}

/** How a run stopped at its timeout begins its reason: the orchestrator counts it as a `timeout` fault (src/actors/lifecycles.ts). */
export const TIMED_OUT_REASON = 'timed out after';

/** Whether a task's result says its agent was stopped at the task's timeout. */
export function isTimedOutReason(reason: string): boolean {
  return reason.startsWith(TIMED_OUT_REASON);
}

/** What a finished run means for the task. Pure: the runner reads the result file. */
export function outcomeOf(end: RunEnd): AgentOutcome {
  if (end.cancelled) return { status: 'retry', reason: 'cancelled' };
  if (end.timedOut) {
    return { status: 'retry', reason: `${TIMED_OUT_REASON} ${end.timeoutMs ?? '?'} ms; the agent's process group was killed` };
  }
  if (end.signal !== undefined) return { status: 'retry', reason: `killed by ${end.signal}` };
  if (end.resultFile !== undefined) {
    const parsed = parseResultFile(end.resultFile);
    if (!parsed.ok) {
      return { status: 'failure', code: AgentErrorCodes.ResultInvalid, reason: `invalid result file: ${parsed.problem}` };
    }
    const { status, summary, outputs, cost } = parsed.result;
    const reason = `result file says ${status}${summary ? `: ${firstLine(summary)}` : ''}`;
    const question = status === 'needs_input' ? (parsed.result.question ?? summary) : undefined;
    const warnings = parsed.warnings.length > 0 ? parsed.warnings : undefined;
    return withOptional({ status, reason }, { summary, question, outputs, cost, warnings });
  }
  if (end.exitCode === 0) return { status: 'success', reason: 'exit code 0' };
  if (end.exitCode === EXIT_TEMPFAIL) return { status: 'retry', reason: `exit code ${EXIT_TEMPFAIL} (EX_TEMPFAIL): try again later` };
  if (end.exitCode === undefined) return { status: 'failure', reason: 'the agent did not run' };
  return { status: 'failure', reason: `exit code ${end.exitCode}` };
}

function firstLine(text: string, max = 200): string {
  const line = text.trim().split('\n', 1)[0] ?? '';
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

function withOptional(outcome: AgentOutcome, extra: Pick<AgentOutcome, 'summary' | 'question' | 'outputs' | 'cost' | 'warnings'>): AgentOutcome {
  for (const [key, value] of Object.entries(extra)) {
    if (value !== undefined) Object.assign(outcome, { [key]: value });
  }
  return outcome;
}
