/** Strict prompt templates: dotted variables only, every problem named with its file and line. */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageDir } from '../../src/agents/command.ts';
import { AgentErrorCodes, PromptTemplateError } from '../../src/agents/errors.ts';
import {
  checkPromptTemplate,
  loadPromptTemplate,
  promptFileOf,
  renderPrompt,
  renderPromptFile,
  type PromptTask,
} from '../../src/agents/prompt.ts';
import { agentTaskSchema } from '../../src/agents/task.ts';
import { defaultAgents } from '../../src/config/sections/agents.ts';

const task = (over: Record<string, unknown> = {}): PromptTask =>
  agentTaskSchema.parse({
    taskId: 'issue-12.codegen',
    issue: { number: 12, title: 'Fix the parser', body: 'It crashes on {{role}} and $(touch PWNED).', labels: ['bug', 'P1'], author: 'octocat' },
    role: 'codegen',
    stage: 'codegen',
    attempt: 2,
    worktree: '/work/trees/issue-12',
    branch: 'miyabi/issue-12',
    ...over,
  });

const secondRound = () =>
  task({
    previous: {
      codegen: { status: 'success', summary: 'first try' },
      review: { status: 'changes_requested', summary: 'Add a test.', outputs: { feedback: ['add a test', 'rename x'], severity: { level: 2 } } },
    },
  });

function thrown(fn: () => unknown): PromptTemplateError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(PromptTemplateError);
    return error as PromptTemplateError;
  }
  throw new Error('expected a PromptTemplateError');
}

describe('renderPrompt', () => {
  it('fills dotted variables, with spaces inside the braces allowed', () => {
    const text = 'Issue #{{issue.number}} ({{ issue.labels }}) by {{issue.author}}: {{issue.title}}\n{{role}}/{{stage}} attempt {{attempt}} on {{branch}} in {{worktree}}';
    expect(renderPrompt(text, task())).toBe(
      'Issue #12 (bug, P1) by octocat: Fix the parser\ncodegen/codegen attempt 2 on miyabi/issue-12 in /work/trees/issue-12',
    );
  });

  it('substitutes once: issue text that looks like a variable or a command stays as written', () => {
    expect(renderPrompt('Body: {{issue.body}}', task())).toBe('Body: It crashes on {{role}} and $(touch PWNED).');
  });

  it('renders an empty list as (none), earlier stages and their outputs', () => {
    const round = secondRound();
    expect(renderPrompt('{{issue.labels}}', task({ issue: { ...round.issue, labels: [] } }))).toBe('(none)');
    expect(renderPrompt('{{previous.review.summary}} / {{previous.review.status}}', round)).toBe('Add a test. / changes_requested');
    expect(renderPrompt('{{previous.review.outputs.feedback}}', round)).toBe('add a test, rename x');
    expect(renderPrompt('{{previous.review.outputs.severity}}', round)).toBe('{\n  "level": 2\n}');
    expect(renderPrompt('{{previous.review.outputs.severity.level}}', round)).toBe('2');
  });

  it('{{history}} sums up earlier stages, or says there were none', () => {
    expect(renderPrompt('{{history}}', task())).toContain('(none: no earlier stage has run for this issue)');
    const history = renderPrompt('{{history}}', secondRound());
    expect(history).toContain('### codegen: success\n\nfirst try');
    expect(history).toContain('### review: changes_requested\n\nAdd a test.');
    expect(history).toContain('"add a test"');
  });

  it('an unknown variable is an error naming the variable, the file and the line', () => {
    const error = thrown(() => renderPrompt('Title:\n{{issue.titel}}', task(), 'config/prompts/codegen.md'));
    expect(error.code).toBe(AgentErrorCodes.PromptUnknownVariable);
    expect(error.variable).toBe('issue.titel');
    expect(error.template).toBe('config/prompts/codegen.md');
    expect(error.message).toContain('unknown variable {{issue.titel}} in config/prompts/codegen.md line 2');
    expect(error.message).toContain('issue.title');
  });

  it.each(['issue', 'issue.constructor', 'previous.review', 'previous.review.outputs', 'env.HOME', 'process'])(
    '{{%s}} is unknown',
    (variable) => {
      expect(thrown(() => renderPrompt(`x {{${variable}}}`, task())).code).toBe(AgentErrorCodes.PromptUnknownVariable);
    },
  );

  it('a known variable without a value for this task is an error naming it: never an empty prompt', () => {
    const error = thrown(() => renderPrompt('Feedback: {{previous.review.summary}}', task(), 'codegen.md'));
    expect(error.code).toBe(AgentErrorCodes.PromptMissingValue);
    expect(error.variable).toBe('previous.review.summary');
    expect(error.message).toBe('{{previous.review.summary}} in codegen.md line 1 has no value for task issue-12.codegen');
    expect(thrown(() => renderPrompt('{{issue.url}}', task())).code).toBe(AgentErrorCodes.PromptMissingValue);
    expect(thrown(() => renderPrompt('{{resultFile}}', task())).code).toBe(AgentErrorCodes.PromptMissingValue);
  });

  it('looks up own properties only', () => {
    const error = thrown(() => renderPrompt('{{previous.review.outputs.constructor}}', secondRound()));
    expect(error.code).toBe(AgentErrorCodes.PromptMissingValue);
  });

  it.each([
    ['a helper', 'x {{ issue.title | upper }}'],
    ['a condition', '{{#if previous.review}}x{{/if}}'],
    ['code', '{{ process.exit(1) }}'],
    ['an empty name', 'x {{}}'],
    ['triple braces', '{{{issue.title}}}'],
  ])('%s is a syntax error', (_, template) => {
    expect(thrown(() => renderPrompt(template, task())).code).toBe(AgentErrorCodes.PromptSyntax);
  });

  it('an unclosed {{ is a syntax error naming the line', () => {
    const error = thrown(() => renderPrompt('a\nb {{issue.title\n', task(), 't.md'));
    expect(error.code).toBe(AgentErrorCodes.PromptSyntax);
    expect(error.message).toBe('unclosed {{ in t.md line 2');
  });

  it('refuses a template that renders to nothing', () => {
    expect(thrown(() => renderPrompt('  \n', task())).code).toBe(AgentErrorCodes.PromptEmpty);
    const blank = task({ issue: { ...task().issue, body: '' } });
    expect(thrown(() => renderPrompt('{{issue.body}}', blank)).code).toBe(AgentErrorCodes.PromptEmpty);
  });

  it('checkPromptTemplate finds unknown variables without a task, and lists the ones used', () => {
    expect(checkPromptTemplate('{{issue.title}} {{previous.review.summary}}', 'x.md')).toEqual(['issue.title', 'previous.review.summary']);
    expect(() => checkPromptTemplate('{{isue.title}}', 'x.md')).toThrow(/unknown variable \{\{isue.title\}\} in x.md line 1/);
  });

  it('a missing template file is prompt_template_unreadable, naming the file', async () => {
    const error = await loadPromptTemplate('/nonexistent/codegen.md').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: AgentErrorCodes.PromptTemplateUnreadable, template: '/nonexistent/codegen.md' });
  });
});

describe('the shipped templates', () => {
  it('are the default for each default role, in config/prompts of the package', async () => {
    const shipped = (await readdir(join(packageDir(), 'config', 'prompts'))).sort();
    expect(shipped).toEqual(Object.keys(defaultAgents).map((role) => `${role}.md`).sort());
    expect(promptFileOf('codegen')).toBe(join(packageDir(), 'config', 'prompts', 'codegen.md'));
    expect(promptFileOf('codegen', '/etc/mine.md')).toBe('/etc/mine.md');
  });

  it.each(Object.keys(defaultAgents))('%s.md renders for a first and a later round', async (role) => {
    const file = promptFileOf(role);
    const first = await renderPromptFile(file, { ...task({ role, stage: role }), resultFile: '/data/tasks/t/result.json' });
    expect(first).toContain('Fix the parser');
    expect(first).toContain('It crashes on {{role}} and $(touch PWNED).');
    expect(first).toContain('/data/tasks/t/result.json');
    expect(first).toContain('written by someone outside this project');
    const later = await renderPromptFile(file, { ...secondRound(), role, stage: role, resultFile: '/r.json' });
    expect(later).toContain('Add a test.');
  });
});
