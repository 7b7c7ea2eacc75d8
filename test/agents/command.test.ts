/** The agent command: an argv array, placeholders inside single arguments, never a shell. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkCommand, packageDir, PLACEHOLDERS, substituteCommand, type PlaceholderValues } from '../../src/agents/command.ts';
import { AgentErrorCodes, UnknownPlaceholderError } from '../../src/agents/errors.ts';

const values: PlaceholderValues = {
  taskFile: '/data/tasks/t1/task.json',
  resultFile: '/data/tasks/t1/result.json',
  promptFile: '/data/tasks/t1/prompt.md',
  taskDir: '/data/tasks/t1',
  worktree: '/trees/issue-7',
  issue: 7,
  role: 'codegen',
  attempt: 2,
  round: 1,
  packageRoot: '/opt/miyabi',
};

describe('substituteCommand', () => {
  it('substitutes inside arguments, one argument out for each in', () => {
    const argv = substituteCommand(
      ['node', '{packageRoot}/examples/agents/codegen.mjs', '--task={taskFile}', '{issue}-r{round}-a{attempt}', '{role}', '{worktree}', '{promptFile}', '{resultFile}', '{taskDir}'],
      values,
    );
    expect(argv).toEqual([
      'node',
      '/opt/miyabi/examples/agents/codegen.mjs',
      '--task=/data/tasks/t1/task.json',
      '7-r1-a2',
      'codegen',
      '/trees/issue-7',
      '/data/tasks/t1/prompt.md',
      '/data/tasks/t1/result.json',
      '/data/tasks/t1',
    ]);
  });

  it('leaves braces that hold no name as written', () => {
    const argv = ['codex', '--config', '{"model": "o3"}', '{}', '{ spaced }', '{1x}'];
    expect(substituteCommand(argv, values)).toEqual(argv);
  });

  it('an unknown placeholder is an error naming it and its argument', () => {
    let error: unknown;
    try {
      substituteCommand(['claude', '-p', '{prompt}'], values);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UnknownPlaceholderError);
    expect(error).toMatchObject({ code: AgentErrorCodes.CommandUnknownPlaceholder, placeholder: 'prompt', argIndex: 2 });
    expect((error as Error).message).toContain('unknown placeholder {prompt} in argument 2');
    expect((error as Error).message).toContain('{promptFile}');
    expect(() => checkCommand(['x', '{issueTitle}'])).toThrow(/\{issueTitle\}/);
    expect(() => checkCommand(['x', '{issue}'])).not.toThrow();
  });

  it('a hostile value stays inside its one argument and is never scanned again', () => {
    const hostile = '/tmp/a b; rm -rf ~/x $(touch PWNED) `touch PWNED2` "q\' {role} {nope}\nnext';
    const argv = substituteCommand(['agent', '{worktree}', '--in={worktree}/x'], { ...values, worktree: hostile });
    expect(argv).toEqual(['agent', hostile, `--in=${hostile}/x`]);
  });

  it('has no placeholder for issue text', () => {
    expect(PLACEHOLDERS).not.toContain('title');
    expect(PLACEHOLDERS).not.toContain('body');
    expect(PLACEHOLDERS).not.toContain('prompt');
  });

  it('{packageRoot} is the miyabi-orchestra package directory', async () => {
    const pkg = JSON.parse(await readFile(join(packageDir(), 'package.json'), 'utf8')) as { name: string };
    expect(pkg.name).toBe('miyabi-orchestra');
    expect(packageDir().endsWith('/')).toBe(false);
  });
});
