/**
 * What a valid config can still get wrong about the host and about itself: a route whose stage
 * no role runs, a local issue directory that is not there, an agent program that is not
 * installed. The schema cannot see these (they need the other sections, or the file system).
 *
 * `config check` refuses a config with any of them. `up` logs them and serves what it can: a
 * role's program may be installed after the start (its runner backs off until then), the issue
 * directory may be mounted later, an orchestra may run for direct dispatch only.
 */
import { statSync } from 'node:fs';
import { checkAgentProgram } from '../agents/command-check.ts';
import type { ConfigProblem } from '../config/problems.ts';
import type { OrchestraConfig } from '../config/schema.ts';
import { ORCHESTRA_STAGES } from '../config/sections/workflow.ts';
import { describeError } from '../errors.ts';

/** Every stage some route can reach whose role has no agent pool. */
export function unservedStages(config: OrchestraConfig): ConfigProblem[] {
  const { workflow, agents } = config;
  const roleOf = (stage: string) => workflow.stageRoles[stage] ?? stage;
  const problems: ConfigProblem[] = [];
  const check = (stage: string, path: string) => {
    if (ORCHESTRA_STAGES.has(stage) || roleOf(stage) in agents) return;
    const via = workflow.stageRoles[stage] === undefined ? '' : ` (workflow.stageRoles.${stage})`;
    problems.push({
      path,
      message: `stage "${stage}" is run by role "${roleOf(stage)}"${via}, which is not in agents (${Object.keys(agents).join(', ')}): its issues would wait for ever`,
    });
  };
  workflow.defaultRoute.forEach((stage, index) => check(stage, `workflow.defaultRoute.${index}`));
  workflow.routes.forEach((route, r) => route.stages.forEach((stage, index) => check(stage, `workflow.routes.${r}.stages.${index}`)));
  workflow.extraStages.forEach((extra, index) => check(extra.stage, `workflow.extraStages.${index}.stage`));
  return problems;
}

/** The local issue directory, when it is the source: it must be a directory. */
export function missingIssueDirectory(config: OrchestraConfig): ConfigProblem[] {
  if (config.issues.source !== 'local') return [];
  const { dir } = config.issues.local;
  try {
    if (statSync(dir).isDirectory()) return [];
    return [{ path: 'issues.local.dir', message: `${dir} is not a directory` }];
  } catch (error) {
    return [{ path: 'issues.local.dir', message: `${dir}: ${describeError(error)}` }];
  }
}

/** Each role whose agent program is not found (on PATH, or at its absolute path). */
export function missingAgentPrograms(config: OrchestraConfig, env: NodeJS.ProcessEnv = process.env): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const [role, agent] of Object.entries(config.agents)) {
    try {
      checkAgentProgram(agent.command, env);
    } catch (error) {
      problems.push({ path: `agents.${role}.command`, message: describeError(error) });
    }
  }
  return problems;
}
