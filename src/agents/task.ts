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

export const resultStatusSchema = z.enum(['success', 'failure', 'changes_requested']);

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
    outputs: z.record(z.string(), z.unknown()).optional(),
    cost: costSchema.optional(),
  })
  .strict();

/** What one earlier stage produced, as the next stages see it. */
export const stageResultSchema = z
  .object({
    status: resultStatusSchema,
    summary: z.string().optional(),
    outputs: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

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
    worktree: z.string().refine(isAbsolute, 'expected an absolute path'),
    branch: z.string().min(1),
    previous: z.record(roleName, stageResultSchema).default({}),
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

export type OutcomeStatus = 'success' | 'retry' | 'failure' | 'changes_requested';

export interface AgentOutcome {
  status: OutcomeStatus;
  /** One line for logs, the issue comment and the dead-letter reason. */
  reason: string;
  /** Set when the protocol, not the agent, decided (`command_not_found`, `result_invalid` …). */
  code?: AgentErrorCode;
  summary?: string;
  outputs?: Record<string, unknown>;
  cost?: AgentCost;
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

/** Parses a result file's text: the result, or the problem in one line. */
export function parseResultFile(text: string): { ok: true; result: ResultFile } | { ok: false; problem: string } {
  if (Buffer.byteLength(text) > MAX_RESULT_FILE_BYTES) {
    return { ok: false, problem: `larger than ${MAX_RESULT_FILE_BYTES} bytes` };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { ok: false, problem: `not JSON (${(error as Error).message})` };
  }
  const parsed = resultFileSchema.safeParse(json);
  return parsed.success ? { ok: true, result: parsed.data } : { ok: false, problem: describeZodError(parsed.error) };
}

/** What a finished run means for the task. Pure: the runner reads the result file. */
export function outcomeOf(end: RunEnd): AgentOutcome {
  if (end.cancelled) return { status: 'retry', reason: 'cancelled' };
  if (end.timedOut) {
    return { status: 'retry', reason: `timed out after ${end.timeoutMs ?? '?'} ms; the agent's process group was killed` };
  }
  if (end.signal !== undefined) return { status: 'retry', reason: `killed by ${end.signal}` };
  if (end.resultFile !== undefined) {
    const parsed = parseResultFile(end.resultFile);
    if (!parsed.ok) {
      return { status: 'failure', code: AgentErrorCodes.ResultInvalid, reason: `invalid result file: ${parsed.problem}` };
    }
    const { status, summary, outputs, cost } = parsed.result;
    const reason = `result file says ${status}${summary ? `: ${firstLine(summary)}` : ''}`;
    return withOptional({ status, reason }, { summary, outputs, cost });
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

function withOptional(outcome: AgentOutcome, extra: Pick<AgentOutcome, 'summary' | 'outputs' | 'cost'>): AgentOutcome {
  for (const [key, value] of Object.entries(extra)) {
    if (value !== undefined) Object.assign(outcome, { [key]: value });
  }
  return outcome;
}
