/**
 * Whether a role's agent command can run at all, checked once when its runner starts: a missing
 * program is the host's problem, not a task's, so the runner refuses to take tasks (its pool
 * restarts it with backoff and the tasks wait) instead of failing every task it is given.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { packageDir, unknownPlaceholders } from './command.ts';
import { AgentErrorCodes, AgentProtocolError } from './errors.ts';

/** The program's path, or an AgentProtocolError naming it (unknown placeholders included). */
export function checkAgentProgram(command: readonly string[], env: NodeJS.ProcessEnv = process.env): string | undefined {
  const [unknown] = unknownPlaceholders(command);
  if (unknown) {
    throw new AgentProtocolError(AgentErrorCodes.CommandUnknownPlaceholder, `unknown placeholder {${unknown.name}} in argument ${unknown.argIndex}`);
  }
  const program = command[0]!.replaceAll('{packageRoot}', packageDir());
  // A program named by a task placeholder ({worktree}/run.sh) or relative to the worktree (the
  // agent's working directory) can only be checked per task.
  if (/\{[A-Za-z]+\}/.test(program) || (program.includes('/') && !isAbsolute(program))) return undefined;
  const candidates = isAbsolute(program)
    ? [program]
    : (env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, program));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  throw new AgentProtocolError(AgentErrorCodes.CommandNotFound, `command not found: ${program}`);
}
