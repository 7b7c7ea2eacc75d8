/** outcomeOf: how a run ended (exit code, signal, timeout, cancel, result file) → what happens next. */
import { describe, expect, it } from 'vitest';
import { AgentErrorCodes } from '../../src/agents/errors.ts';
import { agentTaskSchema, MAX_RESULT_FILE_BYTES, outcomeOf, type RunEnd } from '../../src/agents/task.ts';

const end = (over: Partial<RunEnd>): RunEnd => ({ exitCode: 0, signal: undefined, timedOut: false, resultFile: undefined, ...over });
const result = (value: unknown) => JSON.stringify(value);

describe('outcomeOf without a result file: the exit code', () => {
  it('0 is success', () => {
    expect(outcomeOf(end({ exitCode: 0 }))).toEqual({ status: 'success', reason: 'exit code 0' });
  });

  it('75 (EX_TEMPFAIL) is retry later', () => {
    expect(outcomeOf(end({ exitCode: 75 }))).toMatchObject({ status: 'retry', reason: expect.stringContaining('EX_TEMPFAIL') });
  });

  it.each([1, 2, 74, 76, 127, 255])('%i is failure, naming the code', (code) => {
    expect(outcomeOf(end({ exitCode: code }))).toEqual({ status: 'failure', reason: `exit code ${code}` });
  });

  it('a signal is retry, naming the signal', () => {
    expect(outcomeOf(end({ exitCode: undefined, signal: 'SIGKILL' }))).toEqual({ status: 'retry', reason: 'killed by SIGKILL' });
  });

  it('a timeout is retry, naming the timeout', () => {
    const outcome = outcomeOf(end({ exitCode: undefined, signal: 'SIGTERM', timedOut: true, timeoutMs: 1500 }));
    expect(outcome.status).toBe('retry');
    expect(outcome.reason).toContain('timed out after 1500 ms');
  });

  it('a cancel is retry', () => {
    expect(outcomeOf(end({ exitCode: undefined, signal: 'SIGTERM', cancelled: true }))).toEqual({ status: 'retry', reason: 'cancelled' });
  });
});

describe('outcomeOf with a result file', () => {
  it('a valid result file wins over the exit code', () => {
    expect(outcomeOf(end({ exitCode: 1, resultFile: result({ status: 'success' }) }))).toMatchObject({ status: 'success' });
    expect(outcomeOf(end({ exitCode: 0, resultFile: result({ status: 'failure', summary: 'no tests' }) }))).toEqual({
      status: 'failure',
      reason: 'result file says failure: no tests',
      summary: 'no tests',
    });
    expect(outcomeOf(end({ exitCode: 75, resultFile: result({ status: 'success' }) })).status).toBe('success');
  });

  it('carries changes_requested with its summary, outputs and cost', () => {
    const file = { schema: 1, status: 'changes_requested', summary: 'add tests\nand docs', outputs: { feedback: ['add tests'] }, cost: { usd: 0.12, inputTokens: 1000, outputTokens: 200 } };
    expect(outcomeOf(end({ resultFile: result(file) }))).toEqual({
      status: 'changes_requested',
      reason: 'result file says changes_requested: add tests',
      summary: file.summary,
      outputs: file.outputs,
      cost: file.cost,
    });
  });

  it.each([
    ['a string', { usd: 'lots', inputTokens: 10 }, ['cost.usd: expected a non-negative number, got "lots"; ignored'], { inputTokens: 10 }],
    ['a negative number', { usd: -1 }, ['cost.usd: expected a non-negative number, got -1; ignored'], {}],
    ['an unknown field', { euros: 3, usd: 0.5 }, ['cost.euros: unknown field; ignored'], { usd: 0.5 }],
    ['not an object', 'cheap', ['cost: expected an object of numbers, got "cheap"; ignored'], undefined],
  ])('a cost field that is not a number (%s) is ignored with a warning; the answer stands', (_, cost, warnings, kept) => {
    const outcome = outcomeOf(end({ exitCode: 0, resultFile: result({ status: 'success', summary: 'done', cost }) }));
    expect(outcome.status).toBe('success');
    expect(outcome.warnings).toEqual(warnings);
    expect(outcome.cost).toEqual(kept);
  });

  it('a timeout or a signal wins over a result file: the run did not finish', () => {
    expect(outcomeOf(end({ timedOut: true, resultFile: result({ status: 'success' }) })).status).toBe('retry');
    expect(outcomeOf(end({ signal: 'SIGKILL', exitCode: undefined, resultFile: result({ status: 'success' }) })).status).toBe('retry');
  });

  it.each([
    ['not JSON', '{"status": "success"', 'invalid result file: not JSON'],
    ['an unknown status', result({ status: 'done' }), 'invalid result file: status: Invalid option'],
    ['no status', result({ summary: 'ok' }), 'invalid result file: status:'],
    ['an unknown key', result({ status: 'success', sumary: 'typo' }), 'sumary'],
    ['not an object', result(['success']), 'invalid result file'],
  ])('an invalid result file (%s) is a failure naming the problem', (_, text, reason) => {
    const outcome = outcomeOf(end({ exitCode: 0, resultFile: text }));
    expect(outcome).toMatchObject({ status: 'failure', code: AgentErrorCodes.ResultInvalid });
    expect(outcome.reason).toContain(reason);
  });

  it('refuses a result file larger than the limit', () => {
    const huge = result({ status: 'success', summary: 'x'.repeat(MAX_RESULT_FILE_BYTES) });
    expect(outcomeOf(end({ resultFile: huge })).reason).toContain(`larger than ${MAX_RESULT_FILE_BYTES} bytes`);
  });
});

describe('the task schema', () => {
  const task = {
    taskId: 'issue-7.codegen',
    issue: { number: 7, title: 't', body: 'b', labels: [], author: 'a' },
    role: 'codegen',
    stage: 'codegen',
    attempt: 1,
    worktree: '/tmp/w',
    branch: 'miyabi/issue-7',
  };

  it('fills previous with {}', () => {
    expect(agentTaskSchema.parse(task).previous).toEqual({});
  });

  it.each([
    ['a task id that would leave the tasks directory', { taskId: '../../etc' }, 'taskId'],
    ['a relative worktree', { worktree: 'w' }, 'worktree'],
    ['attempt 0', { attempt: 0 }, 'attempt'],
    ['an unknown key', { prompt: 'x' }, 'prompt'],
  ])('refuses %s', (_, over, path) => {
    const parsed = agentTaskSchema.safeParse({ ...task, ...over });
    expect(parsed.success).toBe(false);
    expect(JSON.stringify(parsed.error?.issues)).toContain(path);
  });
});
