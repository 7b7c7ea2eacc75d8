import { describe, expect, it } from 'vitest';
import { checkAgentProgram } from '../../src/agents/command-check.ts';

describe('checkAgentProgram', () => {
  it('finds a program on PATH or by absolute path', () => {
    expect(checkAgentProgram(['node', 'x.mjs'])).toMatch(/\/node$/);
    expect(checkAgentProgram([process.execPath])).toBe(process.execPath);
  });
  it('names a program that does not exist', () => {
    expect(() => checkAgentProgram(['no-such-agent-cli-xyz'])).toThrow('command not found: no-such-agent-cli-xyz');
    expect(() => checkAgentProgram(['/nonexistent/agent'])).toThrow('command not found: /nonexistent/agent');
    expect(() => checkAgentProgram(['{packageRoot}/nope.sh'])).toThrow(/command not found: \/.*\/nope\.sh/);
  });
  it('leaves per-task programs to the task, and refuses unknown placeholders', () => {
    expect(checkAgentProgram(['{worktree}/run.sh'])).toBeUndefined();
    expect(checkAgentProgram(['./scripts/agent.sh'])).toBeUndefined();
    expect(() => checkAgentProgram(['node', '{nope}'])).toThrow('unknown placeholder {nope}');
  });
});
